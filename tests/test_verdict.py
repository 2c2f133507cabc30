"""The course checks' engine (``nmt8.course.verdict``): right, wrong with a
known mistake's hint, wrong otherwise, not done yet, and the learner's own
errors, each said in words."""

import numpy as np

from nmt8.course.verdict import Mistake, run_check

CASES = [("a vector of three", (np.array([1.0, -2.0, 3.0]),)),
         ("zeros", (np.zeros(4),))]
MISTAKES = [Mistake(lambda x: x * 3, "you tripled instead of doubling")]


def twice(x):
    return 2 * x


def test_a_right_answer_passes():
    v = run_check(twice, CASES, twice)
    assert v.ok and v.done and "2 cases" in str(v)


def test_a_known_mistake_gets_its_hint():
    v = run_check(lambda x: x * 3, CASES, twice, MISTAKES)
    assert not v.ok and "you tripled instead of doubling" in v.message
    assert "a vector of three" in v.message


def test_an_unknown_mistake_names_the_first_difference():
    v = run_check(lambda x: x + 1, CASES, twice, MISTAKES)
    assert not v.ok and "index (1,): yours -1.0, the reference -4.0" in \
        v.message and "tripled" not in v.message


def test_not_done_yet_is_not_a_failure_of_the_notebook():
    def stub(x):
        raise NotImplementedError()

    v = run_check(stub, CASES, twice)
    assert not v.ok and not v.done and "NotImplementedError" in v.message
    assert v._repr_markdown_().startswith("**… Not done yet.**")


def test_the_learners_errors_and_forgotten_return_are_named():
    v = run_check(lambda x: x.nope, CASES, twice)
    assert not v.ok and "AttributeError" in v.message
    v = run_check(lambda x: None, CASES, twice)
    assert not v.ok and "forget `return`" in v.message
    v = run_check(42, CASES, twice)
    assert not v.ok and "not a function" in v.message


def test_shapes_and_dtypes_are_named():
    v = run_check(lambda x: np.append(x, 0.0), CASES, twice)
    assert "shape" in v.message
    v = run_check(lambda x: (2 * x).astype(np.int8), CASES,
                  lambda x: (2 * x).astype(np.int32), exact=True)
    assert v.ok  # same values: dtypes of the same kind are fine
