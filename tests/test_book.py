r"""The book: it builds with -W, and every chapter renders in a real browser.

The site under test is, in order of preference:

* ``$NMT8_BOOK_HTML`` (a built ``_build/html`` folder; ``.ci/book`` sets it);
* a fresh build of ``book/`` into a temporary folder (``jupyter-book build
  book -W --keep-going``, about half a minute: the notebooks are not
  executed, their saved outputs are reused).

Each chapter page is then opened in headless Chromium with the network cut
off (``--host-resolver-rules``: the book must read offline; the widget
manager comes from a CDN and simply does not load, MathJax is served by the
site itself), and we check that the page has its chapter title, that every
``<img>`` points at a file of the site, that there are as many images as the
notebook has figures, that every formula was typeset by MathJax (one
``mjx-container`` per math element of the built page, and no raw ``\begin{``,
``\[``, ``\(`` or ``$$`` left in the prose), and that the screenshot is not
blank.

Chromium is the Debian package ``chromium`` (``apt-get install -y
chromium``), or any Chrome named by ``$NMT8_CHROMIUM``. Without one the
browser tests are SKIPPED, with the reason in the summary (``pytest -rs``);
the build test still runs.

Also here, without a browser: MathJax is loaded from the site, not a CDN;
every exercise of a chapter has a worked solution in a collapsed block; no
Multi30k sentence may appear in the notebooks or the book (checked when
``$NMT8_DATA`` holds the corpus).
"""

from __future__ import annotations

import gzip
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    # offline: every host name fails to resolve, so nothing is fetched
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


# -- the table of contents -------------------------------------------------------
def toc_files() -> list[str]:
    """Every document of book/_toc.yml, in order (without suffix)."""
    import yaml

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [c["file"] for c in part["chapters"]]
    return files


def source_of(doc: str) -> Path:
    for suffix in (".ipynb", ".md"):
        p = BOOK / (doc + suffix)
        if p.exists():
            return p
    raise FileNotFoundError(f"{doc} of _toc.yml has no .ipynb or .md in {BOOK}")


def title_of(doc: str) -> str:
    """The first level-1 heading of a chapter."""
    p = source_of(doc)
    if p.suffix == ".ipynb":
        cells = json.loads(p.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells
                         if c["cell_type"] == "markdown")
    else:
        text = p.read_text()
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{p} has no '# title' heading")


def figures_in(doc: str) -> int:
    """Image outputs saved in a notebook (0 for a markdown page)."""
    p = source_of(doc)
    if p.suffix != ".ipynb":
        return 0
    n = 0
    for cell in json.loads(p.read_text())["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            n += any(k.startswith("image/") for k in data)
    return n


CHAPTERS = toc_files()


# -- the site --------------------------------------------------------------------
@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("NMT8_BOOK_HTML")
    if given:
        html_dir = Path(given)
        if not (html_dir / "index.html").exists():
            pytest.fail(f"NMT8_BOOK_HTML={given} holds no built site (index.html)")
        return html_dir
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        exe = shutil.which("jupyter-book")
        if exe is None:
            pytest.fail("jupyter-book is not installed: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(
        [str(exe), "build", str(BOOK), "-W", "--keep-going", "--path-output",
         str(out)], check=False, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        pytest.fail(f"jupyter-book build book -W failed:\n{tail}")
    return out / "_build" / "html"


def test_book_builds_with_every_chapter(site):
    missing = [d for d in CHAPTERS if not (site / (d + ".html")).exists()]
    assert not missing, f"pages missing from the built book: {missing}"


# -- the browser -----------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium() -> str:
    for name in (os.environ.get("NMT8_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.skip("NO BROWSER: the book's pages were NOT checked in a browser. "
                "Install Chromium (Debian: apt-get install -y chromium) or set "
                "NMT8_CHROMIUM to a Chrome executable.")


def run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, *CHROME_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, check=False, capture_output=True, timeout=120)


class _Page(html.parser.HTMLParser):
    """The <h1> texts, the <img> sources, the visible text of a page, its
    prose (visible text outside <pre> and <code>), its math elements (as
    Sphinx writes them) and its MathJax output elements."""

    def __init__(self):
        super().__init__()
        self.h1, self.imgs, self.text, self.prose = [], [], [], []
        self.math, self.mathjax, self.scripts = 0, 0, []
        self.merrors = []
        self._in_h1, self._skip, self._code = 0, 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self._in_h1 += 1
            self.h1.append("")
        elif tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        elif tag in ("script", "style"):
            self._skip += 1
            if tag == "script" and a.get("src"):
                self.scripts.append(a["src"])
        elif tag in ("pre", "code"):
            self._code += 1
        elif tag == "mjx-container":
            self.mathjax += 1
        elif tag == "mjx-merror":  # MathJax's own error box
            self.merrors.append(a.get("data-mjx-error", "?"))
        if tag in ("span", "div") and "math" in (a.get("class") or "").split():
            self.math += 1

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 -= 1
        elif tag in ("script", "style"):
            self._skip -= 1
        elif tag in ("pre", "code"):
            self._code -= 1

    def handle_data(self, data):
        if self._in_h1 > 0:
            self.h1[-1] += data
        if not self._skip:
            self.text.append(data)
            if not self._code:
                self.prose.append(data)


def parse(html_text: str) -> _Page:
    page = _Page()
    page.feed(html_text)
    return page


RAW_TEX = ("\\begin{", "\\[", "\\(", "$$")  # what untypeset math shows


@pytest.mark.parametrize("doc", CHAPTERS)
def test_mathjax_comes_from_the_site(doc, site):
    """A page with formulas loads MathJax, from the site's own _static,
    never from a CDN (Sphinx adds MathJax only to pages with math)."""
    page = site / (doc + ".html")
    built = parse(page.read_text(encoding="utf-8"))
    mathjax = [s for s in built.scripts if "mathjax" in s.lower() or "tex-" in s]
    if built.math:
        assert mathjax, f"{doc}: {built.math} formulas but no MathJax <script>"
    for src in mathjax:
        assert "://" not in src and not src.startswith("//"), \
            f"{doc}: MathJax from the network: {src}"
        assert (page.parent / src.split("?")[0]).resolve().is_file(), \
            f"{doc}: MathJax script {src} is not in the built site"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_renders_in_chromium(doc, site, chromium, tmp_path):
    page = site / (doc + ".html")
    assert page.exists(), f"{page} was not built"
    # MathJax typesets after the page has loaded: give it (virtual) time
    dom = run_chromium(chromium, tmp_path / "profile", "--virtual-time-budget=20000",
                       "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    parsed = parse(dom.stdout.decode("utf-8"))

    # the chapter title, as the browser sees it after the scripts ran
    title = title_of(doc)
    h1 = [" ".join(h.replace("#", "").split()) for h in parsed.h1]
    assert any(" ".join(title.split()) in h for h in h1), \
        f"{doc}: title {title!r} not among the page's <h1> {h1}"

    # every figure is on disk, and there is one per saved image output
    content = [s for s in parsed.imgs if "_images/" in s]
    for src in content:
        assert (page.parent / src).resolve().is_file(), f"{doc}: broken <img> {src}"
    assert len(content) >= figures_in(doc), \
        f"{doc}: {len(content)} <img> for {figures_in(doc)} saved figures"

    # nothing the reader should not see
    text = " ".join(parsed.text)
    assert "Traceback (most recent call last)" not in text

    # every formula typeset by MathJax without error, none left as source
    assert not parsed.merrors, f"{doc}: MathJax errors: {parsed.merrors}"
    built = parse(page.read_text(encoding="utf-8"))
    assert parsed.mathjax >= built.math, \
        f"{doc}: {parsed.mathjax} MathJax outputs for {built.math} formulas"
    prose = " ".join(parsed.prose)
    raw = [t for t in RAW_TEX if t in prose]
    assert not raw, f"{doc}: raw LaTeX {raw} visible: " + next(
        prose[max(i - 60, 0):i + 60] for i in [prose.find(raw[0])])

    # the page paints something: not a blank screenshot
    shot = tmp_path / "page.png"
    r = run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}",
                     "--window-size=1200,2000", page.as_uri())
    assert r.returncode == 0 and shot.exists(), r.stderr.decode()[-2000:]
    import matplotlib.image

    px = matplotlib.image.imread(str(shot))[..., :3]  # (2000, 1200, 3) floats
    dark = (px.mean(axis=2) < 0.5).mean()  # share of dark (text, lines) pixels
    assert px.std() > 0.02 and dark > 0.002, \
        f"{doc}: the screenshot looks blank (std {px.std():.3f}, dark {dark:.4f})"


# -- exercises have solutions ---------------------------------------------------
# chapters whose solutions are still to be written (their owners know)
SOLUTIONS_PENDING: set[str] = set()
SOLUTION = re.compile(r"<details|\{dropdown\}|\{toggle\}|:class: dropdown")


def exercises_and_solutions(nb_path: Path) -> tuple[int, int]:
    """(numbered exercises, collapsed solution blocks) after '## Exercises'."""
    cells = json.loads(nb_path.read_text())["cells"]
    md = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    text = "\n".join(md)
    at = text.find("## Exercises")
    if at < 0:
        return 0, 0
    tail = text[at:]
    first = SOLUTION.search(tail)
    listing = tail[:first.start()] if first else tail
    exercises = len(re.findall(r"^\d+\. ", listing, flags=re.MULTILINE))
    return exercises, len(SOLUTION.findall(tail))


@pytest.mark.parametrize("doc", [d for d in CHAPTERS if d.startswith("notebooks/")
                                 and source_of(d).suffix == ".ipynb"])
def test_every_exercise_has_a_solution(doc):
    if doc in SOLUTIONS_PENDING:
        pytest.skip(f"{doc}: worked solutions not written yet")
    n_ex, n_sol = exercises_and_solutions(source_of(doc))
    assert n_sol >= n_ex, \
        f"{doc}: {n_ex} exercises but {n_sol} collapsed solutions"


def test_exercise_counting_sees_missing_solutions(tmp_path):
    """The counter itself: two exercises and one solution is one short."""
    cell = {"cell_type": "markdown", "metadata": {}, "source": [
        "## Exercises\n\n1. One.\n2. Two.\n\n",
        "<details>\n<summary>Solution</summary>\n\nA.\n\n</details>\n"]}
    nb = tmp_path / "x.ipynb"
    nb.write_text(json.dumps({"cells": [cell]}))
    assert exercises_and_solutions(nb) == (2, 1)


# -- no corpus text --------------------------------------------------------------
KEY_WORDS = 7  # corpus sentences longer than this are looked for, whole


def _norm(tokens) -> tuple[str, ...]:
    return tuple(t.strip("'\"[](),:;") for t in tokens)


def _corpus_keys() -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """First KEY_WORDS words -> the (normalised) sentences starting so, for
    every de/en line of the corpus longer than KEY_WORDS words."""
    env = os.environ.get("NMT8_DATA")
    files = sorted(Path(env).glob("*.gz")) if env else []
    files = [f for f in files if f.name.split(".")[-2] in ("de", "en")]
    if not files:
        pytest.skip("NMT8_DATA is not set (or holds no Multi30k .gz files): "
                    "cannot check that no corpus sentence is published")
    keys = {}
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                words = line.split()
                # shorter lines ("A dog runs on the grass.") are too easily
                # written independently to count as copied
                if len(words) > KEY_WORDS:
                    keys.setdefault(_norm(words[:KEY_WORDS]), []).append(_norm(words))
    return keys


def _published_text() -> list[tuple[str, str]]:
    """(where, text) of every notebook cell, saved output and book page."""
    out = []
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            out.append((f"{nb.name} cell {i}", "".join(cell["source"])))
            for o in cell.get("outputs", []):
                text = "".join(o.get("text", ""))
                for k, v in o.get("data", {}).items():
                    if k.startswith("text/"):
                        text += "".join(v)
                out.append((f"{nb.name} cell {i} output", text))
    for md in sorted([*BOOK.glob("*.md"), *NOTEBOOKS.glob("*.md")]):
        out.append((md.name, md.read_text()))
    return out


def test_no_corpus_sentence_is_published():
    keys = _corpus_keys()
    found = []
    for where, text in _published_text():
        words = _norm(text.split())
        for i in range(len(words) - KEY_WORDS + 1):
            for sent in keys.get(words[i:i + KEY_WORDS], ()):
                # the whole sentence, not only its first words (captions
                # often start alike: "A man in a blue shirt is ...")
                if words[i:i + len(sent)] == sent:
                    found.append(f"{where}: {' '.join(sent)[:70]}")
    assert not found, "Multi30k sentences in published text:\n" + "\n".join(found)
