"""book/execute.py: a notebook run top to bottom is saved with its outputs
and, for every markdown cell, the results of its {eval} expressions as
jupyterlab-myst stores them, each evaluated where the cell stands; an
expression that fails stops the run and nothing is written."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _execute_module():
    spec = importlib.util.spec_from_file_location("book_execute",
                                                  ROOT / "book" / "execute.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) if kind == "code"
                else nbformat.v4.new_markdown_cell(s) for kind, s in cells]
    nbformat.write(nb, path)


def test_eval_results_are_saved_where_each_cell_stands(tmp_path):
    path = tmp_path / "nb.ipynb"
    _notebook(path, ("code", "x = 2.5\nprint(x)"),
              ("markdown", 'x is {eval}`f"{x:.1f}"`, twice {eval}`x * 2`.'),
              ("code", "x = 7"), ("markdown", "now {eval}`x`"),
              ("markdown", "no roles here"))
    _execute_module().execute(path, timeout=60)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "2.5\n"
    saved = [[(e["expression"], e["result"]["status"],
               e["result"]["data"]["text/plain"])
              for e in c.metadata.get("user_expressions", [])]
             for c in nb.cells if c.cell_type == "markdown"]
    assert saved == [[('f"{x:.1f}"', "ok", "'2.5'"), ("x * 2", "ok", "5.0")],
                     [("x", "ok", "7")], []]


def test_a_failing_expression_stops_and_writes_nothing(tmp_path):
    path = tmp_path / "nb.ipynb"
    _notebook(path, ("markdown", "{eval}`undefined_name`"), ("code", "y = 1"))
    before = path.read_text()
    with pytest.raises(RuntimeError, match="undefined_name"):
        _execute_module().execute(path, timeout=60)
    assert path.read_text() == before
