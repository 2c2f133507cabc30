"""``nmt8 course student DIR``: the learner's copy of the course, made from
the solved notebooks by nbgrader, never kept by hand.

Each build-it exercise is a code cell marked as an nbgrader solution cell,
its worked solution between ``### BEGIN SOLUTION`` and ``### END
SOLUTION``. nbgrader's ``ClearSolutions`` preprocessor replaces that region
with ``raise NotImplementedError()``; the exercise's check cell, right after
it, then says "not done yet", and the chapter still runs to the end. The
check cell is an nbgrader autograder test cell (``grade: true``, locked,
one point; ``mark_check_cells``), so nbgrader's Validate button and
``nbgrader validate`` run the notebook and report the checks that fail
(under nbgrader a failed check raises, see ``nmt8.course.verdict``); the
copy carries nbgrader's checksums of those cells, so Validate also says
when a check was edited. The outputs of the solution and check cells are
cleared (the solved run's "Correct" would mislead); every other output
stays, so the learner reads a chapter before running it. The glossary and
the notation page of the book are copied beside the notebooks.

Does not: grade, keep a gradebook, or release assignments (nbgrader's
course tools do that for a class; a learner alone needs only the copy).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DESCRIPTION = ("Write the learner's copy of the course notebooks into DIR: "
               "every build-it exercise without its solution, checks kept.")

# the course as it sits in a clone of the repository
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# the book's glossary, found from the notebooks: <repo>/book/glossary.md
GLOSSARY = Path("..") / "book" / "glossary.md"


def is_solution(cell) -> bool:
    """Whether nbgrader treats ``cell`` as a solution cell."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def is_check(cell) -> bool:
    """Whether nbgrader treats ``cell`` as a test (grade, not solution)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def check_metadata(exercise_id: str) -> dict:
    """nbgrader's metadata of the check cell of exercise ``exercise_id``
    (``ex-06-quantize`` -> ``check-06-quantize``): an autograder test."""
    name = exercise_id.removeprefix("ex-")
    return {"grade": True, "grade_id": f"check-{name}", "locked": True,
            "points": 1, "schema_version": 3, "solution": False,
            "task": False}


def mark_check_cells(nb) -> int:
    """Mark the code cell right after each solution cell of ``nb`` (an
    ``nbformat`` node, changed in place) as that exercise's nbgrader test
    cell; returns how many cells changed."""
    changed = 0
    for i, cell in enumerate(nb.cells):
        if not is_solution(cell):
            continue
        nxt = next((c for c in nb.cells[i + 1:] if c.cell_type == "code"),
                   None)
        if nxt is None:
            raise ValueError(f"exercise {cell.metadata['nbgrader']['grade_id']}"
                             " has no check cell after it")
        want = check_metadata(cell.metadata["nbgrader"]["grade_id"])
        have = {k: v for k, v in nxt.metadata.get("nbgrader", {}).items()
                if k != "checksum"}
        if have != want:
            nxt.metadata["nbgrader"] = want
            changed += 1
    return changed


def student_notebook(nb):
    """The learner's copy of one notebook (an ``nbformat`` node): solution
    regions replaced by stubs, the outputs of solution and check cells
    cleared. Returns a new node; ``nb`` is not changed."""
    import copy

    from nbgrader.preprocessors import ClearSolutions, ComputeChecksums

    nb = copy.deepcopy(nb)
    mark_check_cells(nb)
    nb, _ = ClearSolutions().preprocess(nb, {"language": "python"})
    for cell in nb.cells:
        if cell.cell_type == "code" and (is_solution(cell) or is_check(cell)):
            cell.outputs, cell.execution_count = [], None  # exercise, check
    nb, _ = ComputeChecksums().preprocess(nb, {})
    return nb


def write_student_copy(out: str | Path, notebooks: str | Path = NOTEBOOKS,
                       ) -> list[Path]:
    """Write the learner's copy of every numbered notebook of ``notebooks``
    (and the other files beside them: notation, images; and the book's
    glossary, ``../book/glossary.md`` from them) into ``out``;
    returns the notebooks written. Refuses to write into ``notebooks``."""
    import nbformat

    src, out = Path(notebooks), Path(out)
    chapters = sorted(src.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise FileNotFoundError(f"no course notebooks (NN_*.ipynb) in {src}")
    if out.resolve() == src.resolve():
        raise ValueError(f"{out} is the solved course itself: choose another "
                         "folder for the learner's copy")
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():  # notation.md and the like, as they are
        if f.is_file() and f.suffix not in (".ipynb", ".cfg"):
            shutil.copy2(f, out / f.name)
    glossary = src / GLOSSARY
    if glossary.is_file():  # beside the chapters, its links made local
        text = glossary.read_text(encoding="utf-8")
        (out / "glossary.md").write_text(
            text.replace("](notebooks/", "]("), encoding="utf-8")
    written = []
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_notebook(nb), out / path.name)
        written.append(out / path.name)
    return written


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 course student``."""
    p.add_argument("out", metavar="DIR",
                   help="folder for the learner's copy (made if missing)")
    p.add_argument("--notebooks", default=str(NOTEBOOKS),
                   help="the solved course notebooks")


def run(a: argparse.Namespace) -> int:
    """``nmt8 course student`` with parsed options."""
    written = write_student_copy(a.out, a.notebooks)
    exercises = 0
    import nbformat

    for path in written:
        nb = nbformat.read(path, as_version=4)
        exercises += sum(is_solution(c) for c in nb.cells)
    extra = [f for f in ("glossary.md", "notation.md")
             if (Path(a.out) / f).exists()]
    print(f"wrote {len(written)} notebooks with {exercises} exercises"
          + (f" (and {', '.join(extra)})" if extra else "")
          + f" to {a.out}; open them with: jupyter lab {a.out}")
    return 0
