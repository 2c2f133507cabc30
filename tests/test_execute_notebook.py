"""tools/execute_notebook.py stores {eval} results as jupyterlab-myst does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "execute_notebook.py"


def _tool():
    spec = importlib.util.spec_from_file_location("execute_notebook", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_expressions_are_read_in_order_outside_code_blocks():
    tool = _tool()
    src = ("A {eval}`x` and {eval}`f\"{y:.1f}\"`, `{eval}` in code stays.\n\n"
           "```python\nprint('{eval}`z`')\n```\n")
    assert tool.expressions(src) == ["x", 'f"{y:.1f}"']


def test_markdown_cells_get_the_results_of_the_state_they_follow(tmp_path):
    pytest.importorskip("ipykernel")
    tool = _tool()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 2"),
        nbformat.v4.new_markdown_cell("x is {eval}`x`, tripled {eval}`x * 3`"),
        nbformat.v4.new_code_cell("x = 5\nprint(x)"),
        nbformat.v4.new_markdown_cell("now {eval}`x`; {eval}`undefined_name`"),
        nbformat.v4.new_markdown_cell("no expressions here"),
    ]
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    tool.execute(path, timeout=120)
    out = nbformat.read(path, as_version=4)
    first = out.cells[1].metadata["user_expressions"]
    assert [e["expression"] for e in first] == ["x", "x * 3"]
    assert [e["result"]["data"]["text/plain"] for e in first] == ["2", "6"]
    assert all(e["result"]["status"] == "ok" for e in first)
    second = out.cells[3].metadata["user_expressions"]
    assert second[0]["result"]["data"]["text/plain"] == "5"  # after cell 2 ran
    assert second[1]["result"]["status"] == "error"
    assert second[1]["result"]["ename"] == "NameError"
    assert "user_expressions" not in out.cells[4].metadata
    assert out.cells[2].outputs[0]["text"] == "5\n"
