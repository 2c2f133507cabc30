"""Chapter 13's build-it checks (``nmt8.course.qat``): the worked
solutions in the notebook pass, known-wrong versions (written here, not
the module's own) get the intended hint, nbgrader's stub says "not done
yet", and the numpy references agree with the library's PyTorch fake
quantizer (``nmt8.train.qat``), forward and backward."""

import numpy as np
import pytest

from nmt8.course.qat import (
    check_fake_quant_int4,
    check_ste_grad,
    fq_cases,
    fq_reference,
    ste_cases,
    ste_reference,
)
from tests.notebook_solutions import define, solution_cell, stub_source

NB = "13_training_quantized.ipynb"
FQ, FQ_NAME = "ex-13-fake-quant-int4", "my_fake_quant_int4"
STE, STE_NAME = "ex-13-ste-grad", "my_ste_grad"


def solution(grade_id, name):
    cell = solution_cell(NB, grade_id)
    assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    return define(cell.source, name, np=np)


# ------------------------------------------------- (a) fake quantization

def test_the_fake_quant_solution_passes():
    v = check_fake_quant_int4(solution(FQ, FQ_NAME))
    assert v.ok, v.message


def _fq(top=7.0, signed=False, per_row=False, rnd=np.rint, lo=-7):
    def fq(W, G):
        K, N = W.shape
        NG = -(-K // G)
        A = np.zeros((N, NG * G), np.float32)
        A[:, :K] = W.T
        g = A.reshape(N, NG, G)
        m = (g if signed else np.abs(g)).max(axis=2, keepdims=True)
        if per_row:
            m = np.abs(g).max(axis=(1, 2), keepdims=True)
        step = m / np.float32(top)
        q = np.zeros_like(g)
        np.divide(g, step, out=q, where=step != 0)
        q = np.clip(rnd(q), lo, 7)
        return (q * step).reshape(N, -1)[:, :K].T
    return fq


@pytest.mark.parametrize(("wrong", "hint"), [
    (_fq(signed=True), "max, not max|w|"),
    (_fq(top=8.0), "divides by 8, not 7"),
    (_fq(top=8.0, lo=-8), "clips to [-8, 7]"),
    (_fq(per_row=True), "one step for the whole row"),
    (_fq(rnd=np.trunc), "truncated instead of rounding"),
])
def test_fake_quant_mistakes_get_their_hint(wrong, hint):
    v = check_fake_quant_int4(wrong)
    assert not v.ok and v.done and hint in v.message, v.message


def test_fake_quant_stub_is_not_done_yet():
    fn = define(stub_source(solution_cell(NB, FQ)), FQ_NAME, np=np)
    v = check_fake_quant_int4(fn)
    assert not v.ok and not v.done
    assert "not done yet" in v._repr_markdown_().lower()


# --------------------------------------- (b) the straight-through gradient

def test_the_ste_solution_passes():
    v = check_ste_grad(solution(STE, STE_NAME))
    assert v.ok, v.message


def _ste_no_clip(x, grad_out, step, qmax):
    return np.array(grad_out, np.float32)


def _ste_zero(x, grad_out, step, qmax):
    return np.zeros_like(np.asarray(grad_out, np.float32))


def _ste_unrounded(x, grad_out, step, qmax):
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.nan_to_num(np.asarray(x) / step)
    return np.where(np.abs(v) <= qmax, grad_out, 0.0).astype(np.float32)


def _ste_strict(x, grad_out, step, qmax):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(np.rint(np.asarray(x, np.float32) / step))
    return np.where(np.abs(r) < qmax, grad_out, 0.0).astype(np.float32)


def _ste_zero_step_nan(x, grad_out, step, qmax):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.rint(np.asarray(x, np.float32) / step)  # NaN where step is 0
    return np.where(np.abs(r) <= qmax, grad_out, 0.0).astype(np.float32)


@pytest.mark.parametrize(("wrong", "hint"), [
    (_ste_no_clip, "forgets the clipping"),
    (_ste_zero_step_nan, "where the step is 0"),  # not "true derivative"
    (_ste_zero, "true derivative of rint"),
    (_ste_unrounded, "tested the range before rounding"),
    (_ste_strict, "(|r| < qmax)"),
])
def test_ste_mistakes_get_their_hint(wrong, hint):
    v = check_ste_grad(wrong)
    assert not v.ok and v.done and hint in v.message, v.message


def test_ste_stub_is_not_done_yet():
    fn = define(stub_source(solution_cell(NB, STE)), STE_NAME, np=np)
    v = check_ste_grad(fn)
    assert not v.ok and not v.done


# ------------------------------- the references against nmt8.train.qat

def test_references_agree_with_the_pytorch_fake_quantizer():
    torch = pytest.importorskip("torch")
    from nmt8.train.qat import fake_quant, fq_weight_int4

    for name, (W, G) in fq_cases():
        got = fq_weight_int4(torch.from_numpy(W), G).numpy()
        np.testing.assert_array_equal(got, fq_reference(W, G), err_msg=name)
    for name, (x, g, step, qmax) in ste_cases():
        xt = torch.tensor(x, requires_grad=True)
        s = torch.as_tensor(np.broadcast_to(np.asarray(step, np.float32),
                                            x.shape).copy())
        y = fake_quant(xt, s, s, qmax, divide=True)
        y.backward(torch.from_numpy(np.asarray(g, np.float32)))
        np.testing.assert_array_equal(xt.grad.numpy(),
                                      ste_reference(x, g, step, qmax),
                                      err_msg=name)


def test_the_ste_cases_clip_some_values_and_keep_others():
    """Each random case tests both branches (it could not fail otherwise)."""
    for name, (x, g, step, qmax) in ste_cases()[:3]:
        kept = ste_reference(x, np.ones_like(x), step, qmax)
        assert 0 < kept.sum() < x.size, name
