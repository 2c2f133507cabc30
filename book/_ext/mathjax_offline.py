"""Sphinx extension: serve MathJax 3 from the built site, not from a CDN.

The book's formulas are typeset in the browser by MathJax.  Sphinx's default
loads MathJax from a CDN, so a reader offline sees raw LaTeX.  This
extension copies MathJax 3 from an installed Python package into the
site's ``_static/mathjax/`` at the end of a build, and points Sphinx's
``mathjax_path`` there.

Where MathJax comes from: the PyPI package ``sphinx-mathjax-offline``
(MathJax 3.2.2, the combined ``tex-chtml.js`` component and the files it
loads on demand: TeX extensions, CHTML fonts, the menu's accessibility
modules).  We only read its files; we do not use it as an extension (its
module name has a hyphen).  Without it the build fails with a message
saying what to install, rather than publishing a book whose formulas need
the network.

Does not: typeset anything at build time (MathJax runs in the reader's
browser), or touch MathJax's configuration (``mathjax3_config``).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.fileutil import copy_asset

logger = logging.getLogger(__name__)

PACKAGE = "sphinx-mathjax-offline"
ENTRY = "tex-chtml.js"  # TeX in, HTML+CSS out, with the menu
# what tex-chtml.js loads at run time, relative to its folder
PARTS = ("input", "output/chtml", "a11y", "ui", "sre", "adaptors")
TARGET = "mathjax"  # under _static/


def mathjax_dir() -> Path:
    """The folder of the installed MathJax 3 (the one holding tex-chtml.js)."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ExtensionError(
            f"MathJax for the offline book comes from the Python package {PACKAGE}"
            f", which is not installed: pip install {PACKAGE}") from None
    for f in dist.files or ():
        if f.name == ENTRY and "mathjax" in f.parts:
            return Path(dist.locate_file(f)).parent
    raise ExtensionError(f"the package {PACKAGE} holds no {ENTRY}")


def use_local(app, config):
    mathjax_dir()  # fail early, before reading any page, when it is missing
    config.mathjax_path = f"{TARGET}/{ENTRY}"  # relative: under _static/


def copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    src, out = mathjax_dir(), Path(app.outdir) / "_static" / TARGET
    copy_asset(str(src / ENTRY), str(out))
    for part in PARTS:
        if (src / part).is_dir():
            copy_asset(str(src / part), str(out / part))
    logger.info(f"MathJax copied from {src} to {out}")


def setup(app):
    app.connect("config-inited", use_local, priority=900)  # after jupyter-book's
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
