"""A chapter's ``{eval}`` must not name a variable that a later code cell
binds again.

The stored notebook (``tools/execute_notebook.py``) evaluates each markdown
cell in order, but a learner's JupyterLab can evaluate it after later cells
ran (Run All, or re-rendering a cell): chapter 13 said "145 of this output's
128 weights" because section 13.5 reused ``K``.  Only top-level bindings
count: names inside a function body are the function's own.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
EVAL = re.compile(r"\{eval\}`([^`]+)`")
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def top_level_bindings(source: str) -> set[str]:
    """Names a code cell binds in the kernel's namespace."""
    lines = [ln for ln in source.splitlines(True)
             if not ln.lstrip().startswith(("%", "!"))]  # IPython magics
    names: set[str] = set()
    todo = list(ast.parse("".join(lines)).body)
    while todo:
        node = todo.pop()
        if isinstance(node, SCOPES):
            if hasattr(node, "name"):
                names.add(node.name)
            continue  # its body binds its own names
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def rebound(cells: list[dict]) -> list[str]:
    """'markdown cell i: expr (names rebound in code cell j)' for every
    ``{eval}`` whose names a later code cell binds."""
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for expr in EVAL.findall("".join(cell["source"])):
            used = {n.id for n in ast.walk(ast.parse(expr, mode="eval"))
                    if isinstance(n, ast.Name)}
            for j in range(i + 1, len(cells)):
                if cells[j]["cell_type"] != "code":
                    continue
                hit = used & top_level_bindings("".join(cells[j]["source"]))
                if hit:
                    found.append(f"markdown cell {i}: {expr!r} ({sorted(hit)} "
                                 f"rebound in code cell {j})")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_eval_names_a_variable_rebound_later(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert rebound(cells) == []


def test_a_rebound_name_is_found_and_a_local_one_is_not():
    def cell(kind, src):
        return {"cell_type": kind, "source": src}

    cells = [cell("code", "K = 512\n"), cell("markdown", "{eval}`K` weights"),
             cell("code", "def f(W):\n    K, N = W.shape\n    return K\n"),
             cell("code", "[K for K in range(3)]\n")]
    assert rebound(cells) == []
    cells.append(cell("code", "for K in (1, 2):\n    pass\n"))
    assert rebound(cells) == ["markdown cell 1: 'K' (['K'] rebound in code cell 4)"]
