"""Execute notebooks as JupyterLab's "Run All" does, {eval} results included.

    python tools/execute_notebook.py notebooks/07_int8_kernel.ipynb [...]

The chapters quote computed values with the MyST role ``{eval}`expr```.
JupyterLab with jupyterlab-myst evaluates a markdown cell's expressions in
the kernel when the cell is run, and saves the results in the cell's
metadata, which is what both JupyterLab and the book
(``book/_ext/stored_eval.py``) render.  ``jupyter nbconvert --execute`` and
nbclient run only the code cells, so a notebook re-executed that way keeps
stale ``{eval}`` results.  This tool runs every cell in order with nbclient;
at each markdown cell that has ``{eval}`` roles it sends the kernel what
jupyterlab-myst sends (an ``execute_request`` with empty code and the
expressions as ``user_expressions``) and stores the reply as jupyterlab-myst
does::

    "user_expressions": [{"expression": "...", "result": {"status": "ok",
                          "data": {...}, "metadata": {}}}, ...]

The notebook is written back in place with nbformat.  It stops at the first
error in a code cell (nothing written), and reports an expression whose
result is an error (written, so that the book build and
tests/test_lab_render.py show it too).  Run it from the repository root
with the tree's ``nmt8`` importable (``PYTHONPATH``); the kernel's working
directory is the notebook's folder, as in JupyterLab.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# as tests/test_lab_render.py reads them; code blocks are not prose
EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
CODE_BLOCK = re.compile(r"(?ms)^[ \t]*(`{3,}|~{3,})(?![ \t]*\{).*?^[ \t]*\1[ \t]*$")


def expressions(source: str) -> list[str]:
    """The ``{eval}`` expressions of a markdown cell, in reading order."""
    return EVAL_ROLE.findall(CODE_BLOCK.sub("", source))


class LabClient(NotebookClient):
    """nbclient that also evaluates the {eval} expressions of markdown cells."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(
                cell, cell_index, execution_count=execution_count,
                store_history=store_history)
        exprs = expressions(cell.source)
        if not exprs:
            return cell
        msg_id = self.kc.execute(
            "", silent=False, store_history=False,
            user_expressions={str(i): e for i, e in enumerate(exprs)})
        reply = await self.async_wait_for_reply(msg_id, cell)
        content = reply["content"] if reply else {}
        if content.get("status") != "ok":
            raise RuntimeError(f"cell {cell_index}: the kernel did not evaluate "
                               f"its expressions: {content}")
        results = content["user_expressions"]
        cell.metadata["user_expressions"] = [
            {"expression": e, "result": results[str(i)]} for i, e in enumerate(exprs)]
        for item in cell.metadata["user_expressions"]:
            if item["result"].get("status") != "ok":
                print(f"cell {cell_index}: {{eval}}`{item['expression']}` is an "
                      f"error: {item['result'].get('ename')}: "
                      f"{item['result'].get('evalue')}", file=sys.stderr)
        return cell


def execute(path: Path, timeout: int = 1800, kernel: str = "python3") -> None:
    nb = nbformat.read(path, as_version=4)
    LabClient(nb, timeout=timeout, kernel_name=kernel,
              resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--timeout", type=int, default=1800,
                    help="seconds a cell may take (default 1800)")
    ap.add_argument("--kernel", default="python3")
    args = ap.parse_args(argv)
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        execute(path, args.timeout, args.kernel)
        print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
