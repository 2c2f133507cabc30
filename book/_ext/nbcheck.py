"""Sphinx extension: fail the book on a notebook that did not run cleanly.

The book reuses the outputs saved in the notebooks (``execute_notebooks:
"off"``), so a notebook saved with an error, or never executed, would
otherwise be published as is.  Every such problem is reported as a Sphinx
warning; ``jupyter-book build book -W`` turns warnings into a failed build.

Checks, for every notebook in the table of contents:

* every non-empty code cell has been executed (it has an execution count);
* no output is an error, unless the cell is tagged ``raises-exception``;
* no stream output carries a Python traceback.
"""

from __future__ import annotations

import nbformat
from sphinx.util import logging

logger = logging.getLogger(__name__)


def problems(path) -> list[str]:
    """What is wrong with the saved notebook at ``path`` (empty when fine)."""
    nb = nbformat.read(str(path), as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        where = f"cell {i}"
        if cell.get("execution_count") is None:
            out.append(f"{where} was never executed: save the notebook executed")
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and "raises-exception" not in tags:
                out.append(f"{where} raised {o.get('ename')}: {o.get('evalue')}")
            if o.get("output_type") == "stream" and "Traceback (most recent call" \
                    in "".join(o.get("text", "")):
                out.append(f"{where} printed a traceback")
    return out


def check(app, env, docnames):
    for doc in sorted(env.found_docs):
        path = env.doc2path(doc)
        if not str(path).endswith(".ipynb"):
            continue
        for msg in problems(path):
            logger.warning(f"notebook {doc}: {msg}", location=doc)


def setup(app):
    app.connect("env-before-read-docs", check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
