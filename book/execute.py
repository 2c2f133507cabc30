"""Run course notebooks top to bottom and save them with their outputs AND
the results of their ``{eval}`` expressions, as JupyterLab saves them.

The chapters quote computed values in their prose with the MyST role
``{eval}`expr```.  jupyterlab-myst evaluates those expressions in the kernel
when a markdown cell is run, and stores the results in the cell's metadata
(``user_expressions``, a list of ``{"expression", "result"}``, the result as
the kernel's ``user_expressions`` reply gives it); the book renders them
from there (``book/_ext/stored_eval.py``).  This script does what "Run All"
then "Save" does in JupyterLab, without a browser: nbclient executes the
code cells in order, and at each markdown cell asks the kernel for its
expressions, so each sees the variables as they are at that point.

    python book/execute.py notebooks/13_training_quantized.ipynb [...]

The kernel runs in the notebook's folder, with this process's environment
(set ``PYTHONPATH``, ``NMT8_DATA``, ``NMT8_RESULTS`` as for nbval).  Any
error, in a cell or in an expression, stops it and the file is not written:
no stale or failed value is ever saved.

Does not: check outputs (nbval does), or build the book.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EVAL = re.compile(r"\{eval\}`([^`]+)`")


class EvalClient(NotebookClient):
    """nbclient that also evaluates the ``{eval}`` roles of markdown cells."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history)
        expressions = list(dict.fromkeys(EVAL.findall(cell.source)))
        if not expressions:
            cell.metadata.pop("user_expressions", None)
            return cell
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={str(i): e for i, e
                                                   in enumerate(expressions)})
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = reply["content"].get("user_expressions", {})
        saved = []
        for i, expr in enumerate(expressions):
            result = results.get(str(i))
            if result is None or result.get("status") != "ok":
                why = (f"{result.get('ename')}: {result.get('evalue')}"
                       if result else "no result")
                raise RuntimeError(f"cell {cell_index}: {{eval}}`{expr}` "
                                   f"failed ({why})")
            saved.append({"expression": expr,
                          "result": {"data": result["data"],
                                     "metadata": result.get("metadata", {}),
                                     "status": "ok"}})
        cell.metadata["user_expressions"] = saved
        return cell


def execute(path: Path, timeout: int = 1200) -> None:
    """Execute the notebook at ``path`` and write it back."""
    nb = nbformat.read(path, as_version=4)
    EvalClient(nb, timeout=timeout, kernel_name="python3",
               resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--timeout", type=int, default=1200,
                   help="seconds per cell (default 1200)")
    a = p.parse_args(argv)
    for path in a.notebooks:
        execute(path, a.timeout)
        print(f"executed {path}, {{eval}} results saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
