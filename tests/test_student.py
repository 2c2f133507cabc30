"""``nmt8 course student``: the learner's copy is made by nbgrader from the
solved notebooks; an unfinished exercise's check says "not done yet" and
the chapter runs to the end."""

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nmt8 import cli
from nmt8.course.student import (
    NOTEBOOKS,
    mark_check_cells,
    student_notebook,
    write_student_copy,
)
from nmt8.course.verdict import GRADING_ENV, graded, run_check

SOLUTION = '''\
def my_double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''
CHECK = '''\
from nmt8.course.verdict import graded, run_check
graded(run_check)(my_double, [("three", (3,))], lambda x: 2 * x,
                  what="my_double")
'''


def solved() -> nbformat.NotebookNode:
    ex = new_code_cell(SOLUTION, metadata={"nbgrader": {
        "solution": True, "grade": False, "locked": False, "task": False,
        "grade_id": "ex-double", "schema_version": 3}})
    return new_notebook(cells=[
        new_markdown_cell("### Build it: double a number"), ex,
        new_code_cell(CHECK), new_code_cell("print('the end')")],
        metadata={"kernelspec": {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}})


def run(nb):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def text(cell) -> str:
    return "".join(o.get("text", "") + str(o.get("data", {}))
                   for o in cell.outputs)


def test_the_solved_notebook_passes_its_check():
    nb = run(solved())
    assert "Correct" in text(nb.cells[2])


def test_the_learners_copy_has_no_solution_and_runs_to_the_end(tmp_path):
    nb = student_notebook(run(solved()))
    assert "return 2 * x" not in nb.cells[1].source
    assert "raise NotImplementedError" in nb.cells[1].source
    assert 'def my_double(x):' in nb.cells[1].source  # the stub still defines it
    assert nb.cells[1].outputs == [] and nb.cells[2].outputs == []
    nb = run(nb)  # no error: the check catches the stub
    assert "Not done yet" in text(nb.cells[2])
    assert "the end" in text(nb.cells[3])


def test_the_command_writes_every_chapter(tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    nbformat.write(solved(), course / "01_double.ipynb")
    (course / "notation.md").write_text("# notation\n")
    assert cli.main(["course", "student", str(tmp_path / "mine"),
                     "--notebooks", str(course)]) == 0
    assert "1 notebooks with 1 exercises" in capsys.readouterr().out
    mine = nbformat.read(tmp_path / "mine" / "01_double.ipynb", as_version=4)
    assert "raise NotImplementedError" in mine.cells[1].source
    assert (tmp_path / "mine" / "notation.md").exists()


def test_the_copy_has_the_glossary_and_the_notation(tmp_path):
    """The README and chapter 0 send the learner to the glossary: the copy
    has it, beside the chapters, with its link to the notation working."""
    write_student_copy(tmp_path / "mine")
    glossary = (tmp_path / "mine" / "glossary.md").read_text()
    assert "```{glossary}" in glossary and "int32 accumulation" in glossary
    assert "](notation.md)" in glossary and "](notebooks/" not in glossary
    assert (tmp_path / "mine" / "notation.md").exists()


def test_check_cells_are_nbgrader_tests():
    """The cell after each exercise is an autograder test cell, in the
    learner's copy and in the course's own notebooks."""
    nb = student_notebook(solved())
    meta = nb.cells[2].metadata["nbgrader"]
    assert meta["grade"] and meta["locked"] and not meta["solution"]
    assert meta["grade_id"] == "check-double" and meta["points"] == 1
    assert "checksum" in meta
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert mark_check_cells(nb) == 0, f"{path.name}: unmarked check cells"


def test_a_failed_check_raises_only_under_nbgrader(monkeypatch):
    def stub(x):
        raise NotImplementedError()

    check = graded(run_check)
    monkeypatch.delenv(GRADING_ENV, raising=False)
    assert not check(stub, [("three", (3,))], lambda x: 2 * x).done
    monkeypatch.setenv(GRADING_ENV, "validate")
    with pytest.raises(AssertionError, match="Not done yet"):
        check(stub, [("three", (3,))], lambda x: 2 * x)
    # passed: shown, not returned (nbgrader would read it as a grade)
    assert check(lambda x: 2 * x, [("three", (3,))], lambda x: 2 * x) is None


def validate(path) -> str:
    """``nbgrader validate`` of one notebook: what it prints."""
    r = subprocess.run([sys.executable, "-m", "nbgrader", "validate",
                        str(path)], check=False, capture_output=True,
                       text=True,
                       timeout=600, cwd=path.parent)
    return r.stdout + r.stderr


def test_nbgrader_validate_fails_the_learners_copy(tmp_path):
    """nbgrader's Validate said "Success!" for an untouched learner's copy:
    it now fails with "not done yet", and passes the solved notebook."""
    solved_nb = tmp_path / "solved" / "01_double.ipynb"
    solved_nb.parent.mkdir()
    nb = solved()
    mark_check_cells(nb)
    nbformat.write(nb, solved_nb)
    said = validate(solved_nb)
    assert "Success! Your notebook passes all the tests" in said, said
    assert "partial credit" not in said, said  # no value returned
    mine = tmp_path / "mine"
    write_student_copy(mine, solved_nb.parent)
    said = validate(mine / "01_double.ipynb")
    assert "VALIDATION FAILED" in said and "Not done yet" in said, said
    assert "Success" not in said


def test_it_refuses_to_overwrite_the_solved_course(tmp_path):
    nbformat.write(solved(), tmp_path / "01_double.ipynb")
    with pytest.raises(ValueError, match="solved course itself"):
        write_student_copy(tmp_path, tmp_path)
    with pytest.raises(FileNotFoundError, match="no course notebooks"):
        write_student_copy(tmp_path / "out", tmp_path / "empty")


@pytest.mark.slow
def test_a_real_chapter_of_the_learners_copy_runs_to_the_end(tmp_path):
    """Chapter 1 as the learner gets it: its exercise's check says "not done
    yet", and every cell after it still runs."""
    out = tmp_path / "mine"
    assert cli.main(["course", "student", str(out)]) == 0
    nb = nbformat.read(out / "01_encoder_decoder.ipynb", as_version=4)
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(out)}}).execute()
    said = [text(c) for c in nb.cells if c.cell_type == "code"]
    assert sum("Not done yet" in t for t in said) == 1
    assert not any("Correct" in t for t in said)


@pytest.mark.slow
def test_nbgrader_validate_on_a_real_chapter(tmp_path):
    """Chapter 2 as the learner gets it fails nbgrader's validation with
    "not done yet"; the solved chapter passes it."""
    said = validate(NOTEBOOKS / "02_beam_search.ipynb")
    assert "Success! Your notebook passes all the tests" in said, said
    assert "partial credit" not in said, said
    out = tmp_path / "mine"
    write_student_copy(out)
    said = validate(out / "02_beam_search.ipynb")
    assert "VALIDATION FAILED" in said and "Not done yet" in said, said
    assert "my_beam_step still raises NotImplementedError" in said
