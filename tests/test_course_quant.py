"""Chapters 6 and 7's build-it checks (``nmt8.course.quantize``,
``accumulate``, ``lanes``, ``ckernel``): each worked solution in the
notebook passes its check, known-wrong versions (written here, not the
module's own) get the intended hint, and a stub says "not done yet"."""

import json
from pathlib import Path

import numpy as np
import pytest

from nmt8.course.accumulate import check_int8_matmul
from nmt8.course.ckernel import c_compiler, check_dot_c
from nmt8.course.lanes import check_sse4_rows4
from nmt8.course.quantize import check_quantize

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def solution(notebook: str, grade_id: str):
    """The function the cell with ``grade_id`` defines, solution and all."""
    nb = json.loads((NOTEBOOKS / notebook).read_text())
    cells = [c for c in nb["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
             == grade_id]
    assert len(cells) == 1, f"{grade_id}: {len(cells)} cells"
    src = "".join(cells[0]["source"])
    assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src
    ns = {"np": np}
    exec(compile(src, f"<{grade_id}>", "exec"), ns)  # noqa: S102 (our notebook)
    return next(v for k, v in ns.items() if k.startswith("my_"))


def stub(*args, **kwargs):
    raise NotImplementedError()


# ------------------------------------------------------------ quantize

def test_the_quantize_solution_passes():
    v = check_quantize(solution("06_quantization.ipynb", "ex-06-quantize"))
    assert v.ok, v.message


def _quantizer(top=127.0, signed_max=False, rounding=np.rint, clip=True):
    def q(W, scheme="per_tensor"):
        m = (W if signed_max else np.abs(W)).max(axis=0)
        if scheme == "per_tensor":
            m = np.full_like(m, m.max())
        s = np.float32(top) / np.where(m == 0, np.float32(1), m)
        v = rounding(W * s)
        if clip:
            v = np.clip(v, -127, 127)
        return v.astype(np.int64).astype(np.int8).T, s, m / np.float32(127)
    return q


@pytest.mark.parametrize("wrong, hint", [
    (_quantizer(signed_max=True), "max, not max|W|"),
    (_quantizer(signed_max=True, clip=False), "wraps around"),
    (_quantizer(rounding=lambda v: v.astype(np.int32)), "truncated"),
    (_quantizer(top=128.0), "128 instead of 127"),
])
def test_quantize_mistakes_get_their_hint(wrong, hint):
    v = check_quantize(wrong)
    assert not v.ok and v.done and hint in v.message, v.message


def _per_row_over_inputs(W, scheme="per_tensor"):
    """max|W| per row of W (per INPUT), a learner's wrong axis."""
    m = np.abs(W).max(axis=1)                                 # (in,)
    if scheme == "per_tensor":
        m = np.full(W.shape[1], m.max(), np.float32)
    s = np.float32(127) / np.where(m == 0, np.float32(1), m)
    Wq = np.clip(np.rint(W * s), -127, 127).astype(np.int8)   # needs in == out
    return Wq.T, s.astype(np.float32), (m / np.float32(127)).astype(np.float32)


def test_per_row_maxima_over_the_wrong_axis_get_their_hint():
    """The first per-row case is square, so a learner's wrong axis runs
    there (a non-square W would only raise a broadcasting error)."""
    v = check_quantize(_per_row_over_inputs)
    assert not v.ok and "over the wrong axis" in v.message, v.message


def test_the_documented_zero_column_answer_passes():
    """The chapter says: an all-zero column gets scale 1 and step 0. A
    quantizer written from that sentence passes (the library once gave such
    a column scale 127, and told the learner who followed the prose that
    they were wrong)."""
    def as_the_prose_says(W, scheme="per_tensor"):
        m = np.abs(W).max(axis=0)
        if scheme == "per_tensor":
            m = np.full_like(m, m.max())
        with np.errstate(divide="ignore"):
            scale = np.where(m == 0, np.float32(1), np.float32(127) / m)
        Wq = np.clip(np.rint(W * scale), -127, 127).astype(np.int8)
        return Wq.T, scale.astype(np.float32), m / np.float32(127)

    v = check_quantize(as_the_prose_says)
    assert v.ok, v.message
    W = np.zeros((4, 3), np.float32)
    W[:, 0] = [0.5, -1.0, 0.25, 0.0]
    for scheme in ("per_row", "per_tensor"):
        _, scale, step = as_the_prose_says(np.zeros_like(W), scheme)
        np.testing.assert_array_equal(scale, 1)
        np.testing.assert_array_equal(step, 0)


def test_quantize_stub_is_not_done_yet():
    v = check_quantize(stub)
    assert not v.ok and not v.done and "not done yet" in \
        v._repr_markdown_().lower()


# ---------------------------------------------------------- accumulate

def test_the_int8_matmul_solution_passes():
    v = check_int8_matmul(solution("06_quantization.ipynb",
                                   "ex-06-int8-matmul"))
    assert v.ok, v.message


def _int8_product(Xq, x_step, Wq, w_step, b):
    acc = np.matmul(Xq, Wq.T)            # int8 in, int8 out: wraps
    return acc, acc.astype(np.float32) * np.outer(x_step, w_step) + b


def _floats_first(Xq, x_step, Wq, w_step, b):
    X = Xq.astype(np.float32) * x_step[:, None]
    W = Wq.astype(np.float32) * w_step[:, None]
    acc = (Xq.astype(np.int64) @ Wq.astype(np.int64).T).astype(np.int32)
    return acc, np.dot(X, W.T) + b


def _bias_inside(Xq, x_step, Wq, w_step, b):
    acc = np.einsum("pk,ok->po", Xq.astype(np.int32), Wq.astype(np.int32))
    return acc, (acc + b) * (x_step[:, None] * w_step[None, :])


@pytest.mark.parametrize("wrong, hint", [
    (_int8_product, "multiplied the int8 arrays as they are"),
    (_floats_first, "dequantized before summing"),
    (_bias_inside, "bias before multiplying"),
])
def test_int8_matmul_mistakes_get_their_hint(wrong, hint):
    v = check_int8_matmul(wrong)
    assert not v.ok and v.done and hint in v.message, v.message


def _y_in_float64(Xq, x_step, Wq, w_step, b):
    acc = Xq.astype(np.int64) @ Wq.T.astype(np.int64)      # int64 sums: fine
    return acc, acc * (x_step[:, None].astype(np.float64) * w_step[None, :]) + b


def _y_not_bit_equal(Xq, x_step, Wq, w_step, b):
    acc = Xq.astype(np.int32) @ Wq.T.astype(np.int32)
    Y = acc.astype(np.float32) * (x_step[:, None] * w_step[None, :]) + b
    return acc, np.nextafter(Y, np.float32(np.inf))          # one ulp off


def test_int8_matmul_in_float64_names_the_dtype():
    """A float64 Y within tolerance once crashed the check (IndexError);
    it now says which dtype and how to cast."""
    v = check_int8_matmul(_y_in_float64)
    assert not v.ok and v.done, v.message
    assert "in `Y`" in v.message and "float64" in v.message, v.message
    assert ".astype(np.float32)" in v.message, v.message


def test_int8_matmul_last_bits_say_the_order():
    v = check_int8_matmul(_y_not_bit_equal)
    assert not v.ok and "not bit for bit" in v.message, v.message
    assert "in that order" in v.message


def test_int8_matmul_stub_is_not_done_yet():
    assert not check_int8_matmul(stub).done


# --------------------------------------------------------------- lanes

def test_the_lanes_solution_passes():
    v = check_sse4_rows4(solution("07_int8_kernel.ipynb", "ex-07-sse4-lanes"))
    assert v.ok, v.message


def _lanes_by(lane_of_k, fold=1):
    def wrong(W4, x):
        prod = W4.astype(np.int64) * x.astype(np.int64)            # (4, K)
        lane = lane_of_k(np.arange(W4.shape[1]))
        lanes = np.stack([prod[:, lane == j].sum(axis=1) for j in range(4)],
                         axis=1)
        return lanes.astype(np.int32), lanes.sum(axis=fold).astype(np.int32)
    return wrong


@pytest.mark.parametrize("wrong, hint", [
    (_lanes_by(lambda k: k % 4), "k mod 4"),
    (_lanes_by(lambda k: (k % 16) // 4), "VNNI's vpdpbusd"),
    (_lanes_by(lambda k: (k % 8) // 2, fold=0), "OF EACH ROW"),
])
def test_lanes_mistakes_get_their_hint(wrong, hint):
    v = check_sse4_rows4(wrong)
    assert not v.ok and v.done and hint in v.message, v.message


def test_lanes_stub_is_not_done_yet():
    assert not check_sse4_rows4(stub).done


# ------------------------------------------------------------- C kernel

needs_cc = pytest.mark.skipif(c_compiler() is None, reason="no C compiler")


@needs_cc
def test_the_c_solution_passes():
    v = check_dot_c(solution("07_int8_kernel.ipynb", "ex-07-dot-c"))
    assert v.ok, v.message


C_BODY = """
int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n)
{{
    {acc} s = 0;
    for (int64_t i = 0; {cond}; i++)
        s += ({cast})a[i] * ({cast})b[i];
    return s;
}}
"""


@needs_cc
@pytest.mark.parametrize("fields, hint", [
    ({"acc": "int16_t", "cond": "i < n", "cast": "int"}, "int16 (short)"),
    ({"acc": "int32_t", "cond": "i < n", "cast": "uint8_t"}, "unsigned"),
    ({"acc": "int32_t", "cond": "i + 1 < n", "cast": "int32_t"}, "last element"),
])
def test_c_mistakes_get_their_hint(fields, hint):
    v = check_dot_c(lambda: C_BODY.format(**fields))
    assert not v.ok and v.done and hint in v.message, v.message


@needs_cc
def test_c_that_does_not_compile_is_named(capfd):
    """Only the summary, with the learner's own line numbers: gcc's raw
    output for the generated file is not shown (it once was, before the
    summary)."""
    src = ("int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n)\n"
           "{\n"
           "    int32_t sum = 0\n"                     # line 3: no ;
           "    return sum;\n"
           "}\n")
    v = check_dot_c(lambda: src)
    assert not v.ok and "did not compile" in v.message and "error" in v.message
    assert "line 3" in v.message or "line 4" in v.message, v.message
    assert "_course_dot_" not in v.message
    out, err = capfd.readouterr()
    assert "error" not in out + err and "_course_dot_" not in out + err, err


@needs_cc
def test_c_with_a_misnamed_function_compiles_but_is_named(capfd):
    src = C_BODY.format(acc="int32_t", cond="i < n", cast="int32_t").replace(
        "dot_i8(", "dot_i8x(")
    v = check_dot_c(lambda: src)
    assert not v.ok and v.done
    assert "compiled, but defines no function named dot_i8" in v.message, \
        v.message
    assert "dot_i8x" in v.message and "did not compile" not in v.message
    out, err = capfd.readouterr()
    assert "implicit declaration" not in out + err, err


def test_no_compiler_is_a_skip_not_a_failure(monkeypatch):
    from nmt8.course import ckernel

    monkeypatch.setattr(ckernel, "c_compiler", lambda: None)
    v = check_dot_c(lambda: C_BODY.format(acc="int32_t", cond="i < n",
                                          cast="int32_t"))
    assert isinstance(v, ckernel.Skipped) and "no C compiler" in v.message
    assert v._repr_markdown_().startswith("**– Skipped.**")


def test_c_stub_is_not_done_yet():
    assert not check_dot_c(stub).done
