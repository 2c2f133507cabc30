r"""The chapters cite the bibliography in a form both JupyterLab and the book render.

A chapter cites a work as a MyST link to its key in ``book/references.bib``:
``[Quinn & Ballesteros (2018)](#quinn2018)``.  JupyterLab (jupyterlab-myst
2.7, which reads no BibTeX file) shows the link's words; the book
(``book/_ext/citelinks.py``) links them to the entry on the references
page.  ``{cite}`` is for ``book/*.md`` only: in JupyterLab it shows the bare
key marked "Citation Not Found".

Checked here, on the sources (fast; the book build and
tests/test_lab_render.py check the rendering):

* no chapter uses a ``{cite}`` role;
* every citation link's key is in ``references.bib``;
* no citation is left as plain text ("Cho et al., 2014", "Amdahl 1967"):
  every author-year reference in a chapter's prose is a link;
* every ``{cite}`` key of ``book/*.md`` is in ``references.bib``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.MULTILINE)
CITE_ROLE = re.compile(r"\{cite(?::\w+)?\}`([^`]*)`")
# [words](#key) where key looks like a citation key: name + year
CITATION_LINK = re.compile(r"\[([^\]]+)\]\(#([a-z][a-z-]*\d{4}[a-z]?)\)")
# what a citation looks like in plain text
PLAIN = re.compile(r"\bet\s+al\.|\b[A-Z][\w'’é-]+,?\s+\(?(?:19|20)\d\d[a-z]?\b\)?")
CODE = re.compile(r"(?ms)^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$|`[^`\n]*`")


def bib_keys() -> set[str]:
    return set(BIB_KEY.findall(BIB.read_text(encoding="utf-8")))


def prose(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def plain_citations(text: str) -> list[str]:
    """Author-year references left as text (links and code left out)."""
    text = CITATION_LINK.sub("", CODE.sub("", text))
    return [m.group(0) for m in PLAIN.finditer(text)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_citations_are_links_to_the_bibliography(path):
    keys = bib_keys()
    found = []
    for k, cell in enumerate(prose(path)):
        text = CODE.sub("", cell)
        found += [f"cell {k}: {{cite}}`{m.group(1)}` (JupyterLab shows the bare key: "
                  f"write [Author (Year)](#key))" for m in CITE_ROLE.finditer(text)]
        found += [f"cell {k}: [{m.group(1)}](#{m.group(2)}): no key {m.group(2)!r} in "
                  "book/references.bib" for m in CITATION_LINK.finditer(text)
                  if m.group(2) not in keys]
        found += [f"cell {k}: a citation in plain text: {c!r} (link it to its key)"
                  for c in plain_citations(cell)]
    assert not found, f"{path.name}:\n  " + "\n  ".join(found)


def test_book_pages_cite_known_keys():
    keys = bib_keys()
    cited = {key.strip() for page in (ROOT / "book").glob("*.md")
             for m in CITE_ROLE.finditer(page.read_text(encoding="utf-8"))
             for key in m.group(1).split(",")}
    assert cited and cited <= keys, sorted(cited - keys)


def test_the_checks_can_fail():
    assert plain_citations("the GRU (Cho et al., 2014) and Amdahl 1967") == [
        "et al.", "Amdahl 1967"]
    assert plain_citations("Devlin (2017) decoded") == ["Devlin (2017)"]
    assert plain_citations("[Devlin (2017)](#devlin2017) and `x (2017)` and "
                           "Table 6, section 3 in 2017") == []
    assert CITATION_LINK.findall("see [Q (2018)](#quinn2018), [t](#sec-x)") == [
        ("Q (2018)", "quinn2018")]
