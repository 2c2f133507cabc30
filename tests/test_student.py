"""``nmt8 course student``: the learner's copy is made by nbgrader from the
solved notebooks; an unfinished exercise's check says "not done yet" and
the chapter runs to the end."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nmt8 import cli
from nmt8.course.student import student_notebook, write_student_copy

SOLUTION = '''\
def my_double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''
CHECK = '''\
from nmt8.course.verdict import run_check
run_check(my_double, [("three", (3,))], lambda x: 2 * x, what="my_double")
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
