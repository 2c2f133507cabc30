"""Chapter 6's build-it exercise (b): the int8 product of Section 3 of
Quinn & Ballesteros 2018, exact integer sums and then floats:

    acc[p, o] = sum_k Xq[p, k] * Wq[o, k]                 exact, in int32
    Y[p, o]   = float32(acc[p, o]) * (x_step[p] * w_step[o]) + b[o]

in float32 and in that order, as the epilogue of ``csrc/nmt8_kernels.h``
(``nmt8_epilogue``) computes it.  The reference is the library:
``nmt8.native.kernels.int8_accumulate`` for acc and ``int8_matmul_q``
(kernel ``ref``) for Y.  The check runs the learner's
``my_int8_matmul(Xq, x_step, Wq, w_step, b) -> (acc, Y)`` on random and
edge cases, first to within float rounding (to name the big mistakes:
int8 or int16 sums that overflow, steps divided or applied to the wrong
axis, the bias added before the scaling or forgotten), then bit for bit
(to name the order: dequantizing before summing, or the two steps
applied one after the other).

Does not: cover the subnormal branch of the epilogue (steps whose
product is below FLT_MIN: tiny weights), quantize anything
(``nmt8.course.quantize``), or time the kernels.
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.native.kernels import int8_accumulate, int8_matmul_q
from nmt8.quant.int8 import QuantizedMatrix

__all__ = ["CLOSE_MISTAKES", "EXACT_MISTAKES", "cases", "check_int8_matmul",
           "reference"]

_F = np.float32


def reference(Xq, x_step, Wq, w_step, b):
    """The library's ``(acc, Y)``: acc (P, out) int32 from
    ``int8_accumulate``, Y (P, out) float32 from ``int8_matmul_q``."""
    qW = QuantizedMatrix(Wq=Wq, scale=np.ones(len(Wq), _F), step=w_step,
                         scheme="per_row")
    acc = int8_accumulate(qW, Xq, kernel="ref")                  # (P, out)
    return acc, int8_matmul_q(qW, Xq, x_step, kernel="ref", bias=b)


def cases() -> list[tuple[str, tuple]]:
    """(name, (Xq, x_step, Wq, w_step, b)) tuples, random and edge."""
    rng = np.random.default_rng(66)

    def case(P, K, N, lo=-127, hi=128):
        Xq = rng.integers(lo, hi, (P, K), dtype=np.int8)
        Wq = rng.integers(lo, hi, (N, K), dtype=np.int8)
        x_step = rng.uniform(0.001, 0.05, P).astype(_F)
        w_step = rng.uniform(0.0005, 0.02, N).astype(_F)
        b = rng.standard_normal(N).astype(_F)
        return Xq, x_step, Wq, w_step, b

    out = [(f"random int8, P={P}, K={K}, out={N}", case(P, K, N))
           for P, K, N in ((1, 16, 4), (3, 17, 5), (5, 100, 7), (4, 64, 4))]
    Xq, x_step, Wq, w_step, b = case(2, 4096, 3)
    Xq[:] = 127
    Wq[0], Wq[1], Wq[2] = 127, -127, 1
    out.append((("all 127 against rows of 127, -127 and 1 (K=4096: sums far "
                "beyond int16)"), (Xq, x_step, Wq, w_step, b)))
    Xq, x_step, Wq, w_step, b = case(1, 9, 2)
    out.append(("a single row of X, odd K", (Xq, x_step, Wq, w_step, b)))
    Xq, x_step, Wq, w_step, b = case(2, 8, 3)
    Xq[1] = 0
    x_step[1] = 0  # an all-zero row of X, as quantize_activations gives it
    out.append(("an all-zero row of X (step 0)", (Xq, x_step, Wq, w_step, b)))
    return out


def _epilogue(acc, x_step, w_step, b):
    return acc.astype(_F) * (x_step[:, None] * w_step[None, :]) + b


def _sums_in(dtype):
    def wrong(Xq, x_step, Wq, w_step, b):
        acc = (Xq.astype(dtype) @ Wq.T.astype(dtype)).astype(np.int32)
        return acc, _epilogue(acc, x_step, w_step, b)
    return wrong


def _exact(Xq, Wq):
    return (Xq.astype(np.int64) @ Wq.T.astype(np.int64)).astype(np.int32)


def _divided(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, acc.astype(_F) / (x_step[:, None] * w_step[None, :]) + b


def _steps_swapped(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, acc.astype(_F) * (x_step[None, :] * w_step[:, None]) + b


def _bias_first(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, (acc.astype(_F) + b) * (x_step[:, None] * w_step[None, :])


def _no_bias(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, acc.astype(_F) * (x_step[:, None] * w_step[None, :])


def _one_step(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, acc.astype(_F) * w_step[None, :] + b


def _dequantized_first(Xq, x_step, Wq, w_step, b):
    X = Xq.astype(_F) * x_step[:, None]                          # (P, K)
    W = Wq.astype(_F) * w_step[:, None]                          # (out, K)
    return _exact(Xq, Wq), X @ W.T + b


def _one_after_the_other(Xq, x_step, Wq, w_step, b):
    acc = _exact(Xq, Wq)
    return acc, acc.astype(_F) * x_step[:, None] * w_step[None, :] + b


_SUMS = ("numpy keeps the dtype of its inputs, so each sum of K products "
         "(each up to 127 * 127 = 16129) wraps around. Cast to np.int32 "
         "before the product: int8 x int8 summed in int32 is exact for "
         "K up to 133,144.")

CLOSE_MISTAKES = [
    Mistake(_sums_in(np.int8),
            "you multiplied the int8 arrays as they are: " + _SUMS),
    Mistake(_sums_in(np.int16),
            "you summed in int16: it holds at most 32767, two products "
            "already. " + _SUMS),
    Mistake(_divided,
            "you divided by the steps: a step takes int8 back to floats "
            "(x ~ Xq * x_step), so multiply by it. (Dividing is for the "
            "scale, 127 / max.)"),
    Mistake(_steps_swapped,
            "your steps are on the wrong axes: x_step has one value per "
            "ROW p of X, w_step one per OUTPUT o, so acc[p, o] is "
            "multiplied by x_step[p] * w_step[o] (x_step[:, None] * "
            "w_step[None, :])."),
    Mistake(_bias_first,
            "you added the bias before multiplying by the steps: the bias "
            "is already a float in the output's units; add it last."),
    Mistake(_no_bias, "you forgot the bias: add b[o] to every output."),
    Mistake(_one_step,
            "you multiplied by w_step only: X was quantized too, with its "
            "own step per row; multiply by x_step[p] * w_step[o]."),
]

EXACT_MISTAKES = [
    Mistake(_dequantized_first,
            "you dequantized before summing (floats times floats, summed in "
            "float32): close, but not the library's bits. The sum must be "
            "exact, in integers; convert it to float once, at the end."),
    Mistake(_one_after_the_other,
            "right to within rounding, but not the library's bits: you "
            "multiplied acc by x_step, then the result by w_step. The "
            "library multiplies the two steps first: "
            "float32(acc) * (x_step[p] * w_step[o]) + b[o]."),
]

_ORDER = ("your values are right to within float rounding, but not bit for "
          "bit. The library sums exactly in integers, converts the sum to "
          "float32 once, multiplies it by (x_step[p] * w_step[o]) and then "
          "adds b[o], all in float32 and in that order.")


@graded
def check_int8_matmul(my_int8_matmul) -> Verdict:
    """Run ``my_int8_matmul(Xq, x_step, Wq, w_step, b) -> (acc, Y)``
    against the library's ``int8_accumulate`` and ``int8_matmul_q``."""
    what = "my_int8_matmul"
    all_cases = cases()
    v = run_check(my_int8_matmul, all_cases, reference,
                  CLOSE_MISTAKES + EXACT_MISTAKES, exact=False, what=what,
                  names=("acc", "Y"))
    if not v:
        return v
    v = run_check(my_int8_matmul, all_cases, reference, EXACT_MISTAKES,
                  exact=True, what=what,
                  success=f"{what} gives the library's exact int32 sums and "
                          f"its float32 outputs bit for bit, on all "
                          f"{len(all_cases)} cases.", names=("acc", "Y"))
    if v or any(m.hint in v.message for m in EXACT_MISTAKES):
        return v
    where = v.message.split(":", 1)[0]        # "on <case name>"
    if "in `acc`" in v.message or "dtype" in v.message:
        return v                              # the sums, or the dtype of Y
    return Verdict(False, f"{where}: {_ORDER}")
