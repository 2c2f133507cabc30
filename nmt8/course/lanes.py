"""Chapter 7's build-it exercise (c): the lane arithmetic of the paper's
SSE4 kernel (Section 3 of Quinn & Ballesteros 2018, "computes 4 rows at
a time"; ``csrc/nmt8_sse4.c``), emulated in numpy for 4 weight rows and
one row of X.

For every 16 bytes k .. k+15, each half of 8 bytes is widened to int16
(``pmovsxbw``), ``pmaddwd`` multiplies 8 pairs and adds neighbours into
4 int32 lanes, and ``paddd`` accumulates them: lane j of row r collects
the products at k + 2j, k + 2j + 1 (low half) and k + 8 + 2j,
k + 8 + 2j + 1 (high half).  At the end two horizontal adds
(``phaddd``) fold each row's 4 lanes into its output.

The learner writes ``my_sse4_rows4(W4, x) -> (lanes, acc4)``: W4 (4, K)
int8, x (K,) int8, K a multiple of 16; lanes (4, 4) int32, the
accumulators ``a[r]`` after the loop; acc4 (4,) int32, the outputs.
The reference is the library: acc4 from
``nmt8.native.kernels.int8_accumulate(W4, x, kernel="sse4")`` (``ref`` on
a CPU without SSE4.1), and lane j of row r is the same library sum over
the k that land in lane j (the weights of the other k set to zero).

Does not: cover the kernel's tail (K not a multiple of 16: it re-reads
the last 16 bytes with x masked), its 4 rows of X at a time, or the
prefetch.
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.native.kernels import available_kernels, int8_accumulate

__all__ = ["MISTAKES", "cases", "check_sse4_rows4", "lane_of", "reference"]


def lane_of(K: int) -> np.ndarray:
    """(K,) the int32 lane each k lands in: ``(k % 8) // 2``."""
    return (np.arange(K) % 8) // 2


def _kernel() -> str:
    return "sse4" if "sse4" in available_kernels() else "ref"


def reference(W4: np.ndarray, x: np.ndarray):
    """The library's ``(lanes, acc4)``: lanes[r, j] is int8_accumulate
    over the k of lane j only, acc4 over all k."""
    kernel, lane = _kernel(), lane_of(W4.shape[1])
    lanes = np.stack([int8_accumulate(np.where(lane == j, W4, 0)
                                      .astype(np.int8), x[None], kernel)[0]
                      for j in range(4)], axis=1)                # (4, 4)
    return lanes, int8_accumulate(W4, x[None], kernel)[0]        # (4,)


def cases() -> list[tuple[str, tuple]]:
    """(name, (W4, x)) pairs, random and edge."""
    rng = np.random.default_rng(7)
    out = [(f"random int8, K={K}", (rng.integers(-127, 128, (4, K),
                                                 dtype=np.int8),
                                    rng.integers(-127, 128, K, dtype=np.int8)))
           for K in (16, 64, 48)]
    big = np.full((4, 4096), 127, np.int8)
    big[1] = -127
    big[2, ::2] = -127
    big[3] = 0
    out.append((("extremes: rows of 127, -127, alternating and 0, x all "
                "127, K=4096"), (big, np.full(4096, 127, np.int8))))
    ramp = np.tile(np.arange(1, 17, dtype=np.int8), (4, 2))       # (4, 32)
    ramp[1:] *= np.array([[-1], [2], [3]], np.int8)
    out.append(("each k weighted by its position (K=32)",
                (ramp, np.arange(32, dtype=np.int8) - 16)))
    out.append(("x all zero (K=16)", (out[0][1][0], np.zeros(16, np.int8))))
    return out


def _emulate(W4, x, lane, fold_axis=1, acc=np.int64, halves=(0, 8)):
    W = W4.astype(np.int64)
    xx = x.astype(np.int64)
    K = W.shape[1]
    lanes = np.zeros((4, 4), acc)
    for k in range(0, K, 16):
        for h in halves:
            s = slice(k + h, k + h + 8)
            prod = W[:, s] * xx[s]                                 # (4, 8)
            for j in range(4):
                lanes[:, j] = (lanes[:, j] + prod[:, lane[s] == j]
                               .sum(axis=1)).astype(acc)
    return lanes.astype(np.int32), lanes.astype(np.int64).sum(
        axis=fold_axis).astype(np.int32)


def _k_mod_4(W4, x):
    return _emulate(W4, x, np.arange(W4.shape[1]) % 4)


def _four_consecutive(W4, x):
    return _emulate(W4, x, (np.arange(W4.shape[1]) % 16) // 4)


def _folded_over_rows(W4, x):
    return _emulate(W4, x, lane_of(W4.shape[1]), fold_axis=0)


def _int16_lanes(W4, x):
    return _emulate(W4, x, lane_of(W4.shape[1]), acc=np.int16)


def _low_half_only(W4, x):
    return _emulate(W4, x, lane_of(W4.shape[1]), halves=(0,))


MISTAKES = [
    Mistake(_k_mod_4,
            "your lanes take k mod 4: pmaddwd adds NEIGHBOURING pairs, so "
            "lane j holds k = 2j and 2j + 1 of the low 8 bytes and 8 + 2j, "
            "8 + 2j + 1 of the high 8 (lane = (k % 8) // 2)."),
    Mistake(_four_consecutive,
            "your lane j holds 4 consecutive bytes, 4j .. 4j + 3: that is "
            "VNNI's vpdpbusd. SSE4 widens each half of 8 bytes to int16 "
            "first, and pmaddwd adds pairs: lane = (k % 8) // 2."),
    Mistake(_folded_over_rows,
            "the two horizontal adds fold the 4 lanes OF EACH ROW into that "
            "row's output (acc4[r] = lanes[r].sum()); you summed each lane "
            "over the 4 rows."),
    Mistake(_int16_lanes,
            "your lanes are int16 and wrap around: pmaddwd writes int32 "
            "lanes (a pair of products reaches 2 * 127 * 127 = 32258, and "
            "they add up), so accumulate in np.int32."),
    Mistake(_low_half_only,
            "you used only the low 8 bytes of each 16: the kernel widens "
            "both halves (k .. k+7 and k+8 .. k+15) and adds both pmaddwd "
            "results into the same 4 lanes."),
]


@graded
def check_sse4_rows4(my_sse4_rows4) -> Verdict:
    """Run ``my_sse4_rows4(W4, x) -> (lanes, acc4)`` against the library's
    SSE4 kernel (lane by lane and in total)."""
    all_cases = cases()
    return run_check(my_sse4_rows4, all_cases, reference, MISTAKES,
                     exact=True, names=("lanes", "acc4"),
                     what="my_sse4_rows4",
                     success=f"my_sse4_rows4's lanes and sums equal the "
                             f"library's {_kernel()} kernel exactly on all "
                             f"{len(all_cases)} cases.")
