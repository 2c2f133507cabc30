"""Helpers for the course tests: the worked solution of a build-it
exercise, read from its notebook by the cell's nbgrader ``grade_id``, and
the learner's stub that nbgrader's ClearSolutions makes of it."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def solution_cell(notebook: str, grade_id: str):
    """The code cell of ``notebook`` whose nbgrader grade_id is ``grade_id``."""
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    cells = [c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(cells) == 1, f"{notebook}: {len(cells)} cells {grade_id}"
    return cells[0]


def define(source: str, name: str, **namespace):
    """Exec a cell's source in ``namespace`` and return the function
    ``name`` it defines."""
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102 (our notebook's cell)
    return namespace[name]


def stub_source(cell) -> str:
    """The cell as the learner's copy has it (nbgrader's ClearSolutions)."""
    from nbgrader.preprocessors import ClearSolutions

    cell = copy.deepcopy(cell)
    ClearSolutions().preprocess_cell(cell, {"language": "python"}, 0)
    return cell.source
