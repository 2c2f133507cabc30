r"""The course in JupyterLab: every chapter renders without raw MyST markup.

Learners open ``notebooks/NN_*.ipynb`` in JupyterLab 4 with the
``jupyterlab-myst`` extension (a ``dev``/``notebooks`` dependency).  Markup
that the book renders but JupyterLab does not (myst-nb's ``{glue}``, say)
shows there as raw text, which is what this test catches.

A JupyterLab server is started on a free local port, on a COPY of
``notebooks/`` (JupyterLab can save what it opens: autosave is off as well,
the repository's notebooks are never written), with notebook windowing off
so that every cell is rendered, not only those on screen.  Each numbered
notebook is opened, as saved (nothing is run), in headless Chromium driven
by Playwright; once every markdown cell has rendered, its text is checked:

* no role or directive left as text: ``{name}`...```, a ``:::`` or
  `````{`` fence line, outside code blocks and inline code;
* no raw LaTeX (``$$``, ``\begin{``, ``\tag{``, ``\frac``) outside the
  typeset formulas;
* every ``{eval}`expr``` shows a saved result: jupyterlab-myst shows the
  bare expression as inline code when the cell has no saved
  ``user_expressions`` for it, and an error box when the saved result is an
  error;
* the cells were rendered by jupyterlab-myst (not JupyterLab's own
  Markdown renderer, which leaves all of the above raw).

Chromium is the Debian package ``chromium`` or any Chrome named by
``$NMT8_CHROMIUM`` (as in tests/test_book.py).  Without it the test is
SKIPPED with the reason, except in CI (``CI`` set), where it FAILS.
``$NMT8_LAB_SHOTS``: a folder to save a screenshot of every notebook in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

# as tests/test_book.py, less --headless (Playwright passes it) and
# --hide-scrollbars; offline too: no host name resolves, except the local
# server's address (Chromium applies the rules to IP literals as well)
CHROME_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# what must not be left as text in a rendered markdown cell
RAW = [
    (re.compile(r"\{[A-Za-z][\w:+.-]*\}`[^`]*`?"), "a MyST role"),
    (re.compile(r"(?m):::+\s*\{|^\s*:::+\s*$"), "a ::: directive fence"),
    (re.compile(r"```+\s*\{"), "a ```{ directive fence"),
    (re.compile(r"\$\$|\\begin\{|\\end\{|\\tag\{|\\frac"), "raw LaTeX"),
]
EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
# a {term}`text <target>` whose target jupyterlab-myst did not take apart
RAW_TARGET = re.compile(r"\w\s*<[A-Za-z][\w .-]*>")

# Roles and directives seen rendered by jupyterlab-myst 2.7 (FINDINGS.md).
# jupyterlab-myst shows the text of a role it does not know as plain text,
# with nothing in the page to tell it apart ({glue:text}`x:.1f` shows
# "x:.1f"), so those are caught in the source, cell by cell.  {cite} is not
# rendered either (no .bib is read: the bare key, marked "Citation Not
# Found"): chapters cite as [Author (Year)](#key) (tests/test_citations.py).
# {term} renders as a link, but its hover shows only "term-<label>", never
# the definition: jupyterlab-myst 2.7 resolves a cross-reference within one
# cell, so a {glossary} even in another cell of the same notebook is not
# found (tried).  The learner finds the definitions in glossary.md, which
# `nmt8 course student` copies beside the chapters (README, chapter 0).
LAB_ROLES = {"eval", "term"}
LAB_DIRECTIVES = {"dropdown", "admonition", "note", "warning", "tip"}
SRC_ROLE = re.compile(r"\{([A-Za-z][\w:+.-]*)\}`([^`]*)`")
SRC_DIRECTIVE = re.compile(r"(?m)^[ \t]*(?:`{3,}|:{3,})[ \t]*\{([\w:+.-]+)\}")
# display math that jupyterlab-myst numbers automatically
NUMBERED_MATH = re.compile(
    r"(?ms)^[ \t]*\$\$.*?\$\$|\\begin\{(?:equation|align|gather|multline)\}")
CODE_BLOCK = re.compile(r"(?ms)^[ \t]*(`{3,}|~{3,})(?![ \t]*\{).*?^[ \t]*\1[ \t]*$")
ROLE_OR_CODE = re.compile(r"(\{[A-Za-z][\w:+.-]*\})?(`+)(.+?)\2", re.DOTALL)


def _without_code_spans(text: str) -> str:
    """Inline code removed, roles kept (read left to right, as Markdown does)."""
    return ROLE_OR_CODE.sub(lambda m: m.group(0) if m.group(1) else "", text)

# JupyterLab settings for the test server
SETTINGS = {
    # render every cell, not only those scrolled into view
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # never write what was opened
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # no news or update checks (offline)
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}

# for every markdown cell in DOM order: the rendered text, without code
# blocks, inline code and typeset math; the inline code; inline error boxes
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the open one
READ_CELLS = """() => [...document.querySelectorAll('PANEL .jp-MarkdownCell')]
  .map(cell => {
    const out = cell.querySelector('.myst') || cell.querySelector('.jp-MarkdownOutput');
    if (!out) return {rendered: false};
    const clone = out.cloneNode(true);
    clone.querySelectorAll('pre, code, .katex, .katex-display, mjx-container, '
                           + '.myst-code').forEach(e => e.remove());
    return {
      rendered: true,
      myst: out.classList.contains('myst'),
      text: clone.textContent,
      codes: [...out.querySelectorAll('code')].filter(c => !c.closest('pre'))
                 .map(c => c.textContent.trim()),
      errors: [...out.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
                 .map(e => e.textContent.trim()),
    };
  })""".replace("PANEL", PANEL)


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"the JupyterLab rendering test cannot run in CI: {reason}")
    pytest.skip(f"NO BROWSER CHECK of the notebooks in JupyterLab: {reason}")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in (os.environ.get("NMT8_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    unavailable("no Chromium: install it (Debian: apt-get install -y chromium) "
                "or set NMT8_CHROMIUM to a Chrome executable")


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, token, the served copy of notebooks/) of a JupyterLab server."""
    for module, package in (("jupyterlab", "jupyterlab"),
                            ("jupyterlab_myst", "jupyterlab-myst"),
                            ("playwright", "playwright")):
        if _missing(module):
            pytest.fail(f"{package} is not installed: pip install -e '.[dev]'")
    tmp = tmp_path_factory.mktemp("lab")
    served = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, served,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    settings = tmp / "settings"
    for plugin, values in SETTINGS.items():
        f = settings / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    log = (tmp / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={served}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=served)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail("JupyterLab exited:\n" + (tmp / "lab.log").read_text()[-3000:])
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start in 120 s:\n"
                                + (tmp / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url, token, served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium, lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROME_FLAGS,
                              headless=True)
        yield b
        b.close()


def _shutdown_kernels(url: str, token: str):
    req = urllib.request.Request(f"{url}/api/sessions?token={token}")
    for s in json.loads(urllib.request.urlopen(req, timeout=10).read()):
        urllib.request.urlopen(urllib.request.Request(
            f"{url}/api/sessions/{s['id']}?token={token}", method="DELETE"), timeout=10)


def markdown_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def render(browser, url: str, token: str, name: str, timeout: float = 90.0):
    """The READ_CELLS record of every markdown cell, once rendered and stable."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    try:
        # a fresh workspace per notebook: JupyterLab would otherwise reopen
        # the notebooks of the previous pages beside this one
        workspace = re.sub(r"\W", "", Path(name).stem)
        page.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
        page.wait_for_selector(f"{PANEL} .jp-MarkdownCell", timeout=timeout * 1000)
        deadline, last = time.monotonic() + timeout, None
        while True:
            cells = page.evaluate(READ_CELLS)
            done = cells and all(c["rendered"] for c in cells)
            if done and cells == last:
                break
            if time.monotonic() > deadline:
                pending = sum(not c["rendered"] for c in cells)
                pytest.fail(f"{name}: {pending} of {len(cells)} markdown cells not "
                            f"rendered after {timeout:.0f} s")
            last = cells if done else None
            page.wait_for_timeout(750)
        shots = os.environ.get("NMT8_LAB_SHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"{Path(name).stem}.png"))
        return cells, console
    finally:
        page.close()


def unsupported(source: str) -> list[str]:
    """Roles and directives of a markdown cell that jupyterlab-myst does not
    render (code blocks and inline code left out)."""
    blocks = CODE_BLOCK.sub("", source)
    out = [f"a {{{m.group(1)}}} directive (not known to render in jupyterlab-myst)"
           for m in SRC_DIRECTIVE.finditer(blocks) if m.group(1) not in LAB_DIRECTIVES]
    text = _without_code_spans(SRC_DIRECTIVE.sub("", blocks))
    out += [f"{{{m.group(1)}}}`{m.group(2)}` (jupyterlab-myst has no {{{m.group(1)}}} "
            f"role: it shows {m.group(2)!r} as plain text)"
            for m in SRC_ROLE.finditer(text) if m.group(1) not in LAB_ROLES]
    out += [f"{{{m.group(1)}}}`{m.group(2)!r}` is broken over lines: put it on one"
            for m in SRC_ROLE.finditer(text) if "\n" in m.group(2)]
    out += [f"display math {m.group(0)[:40]!r}: jupyterlab-myst numbers it, (1), (2)... "
            "beside any \\tag, the book does not: write \\begin{equation*}"
            for m in NUMBERED_MATH.finditer(text)]
    return out


def problems(sources: list[str], cells: list[dict]) -> list[str]:
    """What is left raw, unevaluated or in error, cell by cell."""
    out = []
    if len(sources) != len(cells):
        return [f"{len(cells)} markdown cells on the page, {len(sources)} in the file"]
    for k, (src, cell) in enumerate(zip(sources, cells, strict=True)):
        where = f"markdown cell {k} ({src.strip().splitlines()[0][:50]!r})" \
            if src.strip() else f"markdown cell {k}"
        if not cell["myst"]:
            out.append(f"{where}: not rendered by jupyterlab-myst")
        text = cell["text"]
        for rx, what in RAW:
            for m in rx.finditer(text):
                ctx = text[max(m.start() - 40, 0):m.end() + 40].replace("\n", " ")
                out.append(f"{where}: {what} left as text: ...{ctx}...")
        for m in RAW_TARGET.finditer(text):
            out.append(f"{where}: a role target left as text: {m.group(0)!r}")
        for u in unsupported(src):
            out.append(f"{where}: {u}")
        for expr in EVAL_ROLE.findall(src):
            if expr.strip() in cell["codes"]:
                out.append(f"{where}: {{eval}}`{expr}` shows no result (none saved: "
                           "run the cell in JupyterLab and save, or re-execute)")
        for err in cell["errors"]:
            out.append(f"{where}: an {{eval}} result is an error: {err[:120]}")
    return out


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_renders_in_jupyterlab(name, lab, browser):
    url, token, _served = lab
    try:
        cells, _console = render(browser, url, token, name)
    finally:
        _shutdown_kernels(url, token)
    found = problems(markdown_cells(NOTEBOOKS / name), cells)
    assert not found, (f"{name} in JupyterLab shows {len(found)} problem(s):\n  "
                       + "\n  ".join(found))


def test_problems_are_found():
    """The checker itself, on what a broken page shows."""
    sources = ["Speed {eval}`x` and {eval}`y`.", "Text", "More"]
    cells = [
        {"myst": True, "text": "Speed 3 and .", "codes": ["y"], "errors": []},
        {"myst": True, "text": "Text {glue:text}`k:.1f` and :::{dropdown} S",
         "codes": [], "errors": ["NameError: name 'z' is not defined"]},
        {"myst": False, "text": "More $$ x $$", "codes": [], "errors": []},
    ]
    found = "\n".join(problems(sources, cells))
    assert "{eval}`y` shows no result" in found
    assert "{eval}`x` shows" not in found
    assert "a MyST role left as text" in found and "::: directive fence" in found
    assert "NameError" in found
    assert "not rendered by jupyterlab-myst" in found and "raw LaTeX" in found


def test_unsupported_markup_is_found_in_the_source():
    src = ("Runs at {glue:text}`wpcs:.1f`, see {term}`baselines\n<baseline>` and "
           "{eval}`x`; `{cite}` in code is fine.\n\n```python\nf\"{a}`\"\n```\n\n"
           ":::{dropdown} Solution\nok\n:::\n\n```{figure} a.png\n```\n")
    found = "\n".join(unsupported(src))
    assert "{glue:text}`wpcs:.1f` (jupyterlab-myst has no {glue:text} role" in found
    assert "broken over lines" in found and "{figure} directive" in found
    assert "eval" not in found and "cite" not in found and "dropdown" not in found
    math = "\n".join(unsupported("$$\nx \\tag{1}\n$$\n\n\\begin{equation}\ny\n"
                                 "\\end{equation}\n\n\\begin{equation*}\nz\n"
                                 "\\end{equation*}\n\nand $a$ inline"))
    assert math.count("display math") == 2, math
