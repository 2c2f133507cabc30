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


def pair(x):
    return (2 * x).astype(np.float32), x.astype(np.int32)


def test_returned_values_are_named_by_name():
    v = run_check(lambda x: ((2 * x).astype(np.float32), x.astype(np.int32) + 1),
                  CASES, pair, names=("twice", "same"))
    assert not v.ok and "in `same`:" in v.message, v.message
    assert "returned value" not in v.message
    v = run_check(lambda x: (2 * x,), CASES, pair, names=("twice", "same"))
    assert "you returned 1 values, the reference 2 (twice, same)" in v.message
    v = run_check(lambda x: 2 * x, CASES, pair, names=("twice", "same"))
    assert "return 2 values: twice, same" in v.message, v.message


def test_a_float64_result_close_to_the_float32_reference_names_the_dtype():
    """float64 values that agree within rounding, checked bit for bit: the
    message names the dtype and the cast (it once raised IndexError
    indexing an empty list of differences)."""
    def want(x):
        return x.astype(np.float32) / np.float32(3)

    v = run_check(lambda x: x.astype(np.float64) / 3, CASES, want,
                  exact=True, names=("y",))
    assert not v.ok and v.done
    assert "dtype float64; the library's is float32" in v.message, v.message
    assert ".astype(np.float32)" in v.message
    v = run_check(lambda x: (x.astype(np.float64) / 3, x), CASES,
                  lambda x: (want(x), x), exact=True, names=("y", "x"))
    assert "in `y`:" in v.message and "float64" in v.message, v.message


def test_close_but_not_bit_equal_is_said_so():
    def want(x):
        return (x.astype(np.float32) / np.float32(3)) * np.float32(3)

    def got(x):
        return (want(x) * np.float32(1 + 2**-22)).astype(np.float32)

    cases = [("thirds", (np.array([1.0, 7.0, 11.0, 13.0], np.float32),))]
    v = run_check(got, cases, want, exact=True)
    assert not v.ok and "not bit for bit" in v.message, v.message
    assert run_check(got, cases, want).ok  # within tolerance: fine
