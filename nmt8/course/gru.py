"""Chapter 1's build-it exercise: one GRU step, eq. (1) of Quinn &
Ballesteros (2018), Section 2, in the Nematus formulation
(``nmt8.model.gru``)::

    [r | u] = sigmoid(x W + b + h U)              reset and update gates
    h_tilde = tanh(x Wx + bx + r * (h Ux))        candidate state
    h'      = u * h + (1 - u) * h_tilde

:func:`check_gru_step` runs the learner's
``my_gru_step(x, h, W, U, b, Wx, Ux, bx)`` against the library's
``nmt8.model.gru.gru_step`` (fed the fused ``[W | Wx]``, ``[U | Ux]`` the
way the encoder stores them) on random and edge cases, and recognises the
usual mistakes: the reset gate in the wrong place, the gates swapped, the
update gate's roles swapped, a bias (b or bx) left out.

Does not: check a whole sequence or the bidirectional encoder
(``nmt8.model.model.Model.encode``), or the int8 path.
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.model.gru import gru_step
from nmt8.model.ops import linear


def reference(x, h, W, U, b, Wx, Ux, bx) -> np.ndarray:
    """The library's step: x (P, E), h (P, H), W (E, 2H), U (H, 2H),
    b (2H,), Wx (E, H), Ux (H, H), bx (H,). Returns h' (P, H)."""
    x_proj = linear(x, np.concatenate([W, Wx], axis=1),
                    np.concatenate([b, bx]))  # (P, 3H)
    return gru_step(x_proj, h, np.concatenate([U, Ux], axis=1))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _parts(x, h, W, U, b):
    H = h.shape[1]
    g = _sigmoid(x @ W + b + h @ U)  # (P, 2H)
    return g[:, :H], g[:, H:]


def _reset_before_product(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    h_tilde = np.tanh(x @ Wx + bx + (r * h) @ Ux)
    return u * h + (1 - u) * h_tilde


def _reset_on_input_too(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    h_tilde = np.tanh(r * (x @ Wx + bx + h @ Ux))
    return u * h + (1 - u) * h_tilde


def _gates_swapped(x, h, W, U, b, Wx, Ux, bx):
    u, r = _parts(x, h, W, U, b)
    h_tilde = np.tanh(x @ Wx + bx + r * (h @ Ux))
    return u * h + (1 - u) * h_tilde


def _update_flipped(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    h_tilde = np.tanh(x @ Wx + bx + r * (h @ Ux))
    return (1 - u) * h + u * h_tilde


def _without_biases(gate_bias: bool, cand_bias: bool):
    def wrong(x, h, W, U, b, Wx, Ux, bx):
        H = h.shape[1]
        g = _sigmoid(x @ W + (b if gate_bias else 0) + h @ U)  # (P, 2H)
        r, u = g[:, :H], g[:, H:]
        h_tilde = np.tanh(x @ Wx + (bx if cand_bias else 0) + r * (h @ Ux))
        return u * h + (1 - u) * h_tilde
    return wrong


MISTAKES = [
    Mistake(_without_biases(False, False),
            "you left out both biases: the gates are σ(x W + b + h U) and "
            "the candidate tanh(x W_x + b_x + r ⊙ (h U_x)); add b and b_x."),
    Mistake(_without_biases(False, True),
            "your gates have no bias: [r | u] = σ(x W + b + h U); add b "
            "(2H values, the first H for r, the last H for u)."),
    Mistake(_without_biases(True, False),
            "your candidate state has no bias: h̃ = tanh(x W_x + b_x + "
            "r ⊙ (h U_x)); add b_x."),
    Mistake(_reset_before_product,
            "you applied the reset gate to h before the product with U_x, "
            "(r ⊙ h) U_x, as in Cho et al.'s paper; in Nematus (and nmt8) "
            "r multiplies the product: r ⊙ (h U_x)."),
    Mistake(_reset_on_input_too,
            "your reset gate also multiplies the input part x W_x + b_x; "
            "r only scales the state's part: tanh(x W_x + b_x + r ⊙ (h U_x))."),
    Mistake(_gates_swapped,
            "you swapped the two gates: the first H columns of "
            "σ(x W + b + h U) are the reset gate r, the last H the update "
            "gate u (Nematus stores [r | u])."),
    Mistake(_update_flipped,
            "the update gate's roles are swapped: u keeps the OLD state, "
            "h' = u ⊙ h + (1 − u) ⊙ h̃, not (1 − u) ⊙ h + u ⊙ h̃."),
]


def make_case(P: int, E: int, H: int, seed: int, scale: float = 0.5,
              h_zero: bool = False) -> tuple:
    """Random float32 arguments of ``my_gru_step``: (x, h, W, U, b, Wx,
    Ux, bx) with P rows, input size E, state size H."""
    rng = np.random.default_rng(seed)

    def f(*shape, s=scale):
        return (s * rng.standard_normal(shape)).astype(np.float32)

    h = np.zeros((P, H), np.float32) if h_zero else f(P, H, s=1.0)
    return (f(P, E, s=1.0), h, f(E, 2 * H), f(H, 2 * H), f(2 * H),
            f(E, H), f(H, H), f(H))


def cases() -> list[tuple[str, tuple]]:
    """Random cases (fixed seeds) and edge cases: one row, sizes that are
    not multiples of 4, a zero state, saturated gates."""
    return [
        ("one row, E=5, H=3", make_case(1, 5, 3, seed=1)),
        ("3 rows, E=7, H=6", make_case(3, 7, 6, seed=2)),
        ("5 rows, E=13, H=17", make_case(5, 13, 17, seed=3)),
        ("a zero previous state (the first step)",
         make_case(2, 6, 5, seed=4, h_zero=True)),
        ("large weights (saturated gates)",
         make_case(4, 9, 7, seed=5, scale=20.0)),
    ]


@graded
def check_gru_step(my_gru_step) -> Verdict:
    """Check ``my_gru_step(x, h, W, U, b, Wx, Ux, bx) -> h'`` against
    ``nmt8.model.gru.gru_step``."""
    with np.errstate(over="ignore"):  # exp(-z) of a saturated gate: fine
        return run_check(my_gru_step, cases(), reference, MISTAKES,
                         what="my_gru_step",
                         success="my_gru_step agrees with "
                                 "nmt8.model.gru.gru_step on all cases, "
                                 "including saturated gates.")
