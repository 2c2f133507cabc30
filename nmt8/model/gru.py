"""The GRU cell of eq. (1) (Cho et al., 2014), in the Nematus formulation.

For input projection ``x_proj = x [W | Wx] + [b | bx]`` (computed once for all
positions by the encoder) and previous state ``h_prev``::

    [r | u]  = sigmoid(x W + b + h_prev U)          reset and update gates
    h_tilde  = tanh(x Wx + bx + r * (h_prev Ux))    candidate state
    h        = u * h_prev + (1 - u) * h_tilde

``U`` and ``Ux`` are stored side by side as one (H, 3H) matrix so one weight
product per step serves both (the paper's 1000 x 3000 shape).

With int8 or C fp32 weights (``nmt8.model.products.in_c``) the three lines run
as one C pass per row (``nmt8.native.fused.gru``), in this order, with nmt8's own
float32 tanh; numpy's fp32 computes them as written.

Does not: run a sequence (``nmt8.model.model.Model.encode``) or hold weights.
"""

from __future__ import annotations

import numpy as np

from nmt8.model.ops import linear, sigmoid, tanh
from nmt8.model.products import in_c
from nmt8.native.fused.gru import gates as _c_gates
from nmt8.timers import TIMERS


def gru_step(x_proj: np.ndarray, h_prev: np.ndarray, U_Ux) -> np.ndarray:
    """One GRU step for P rows at once.

    x_proj: (P, 3H) input projection ``[x W + b | x Wx + bx]``;
    h_prev: (P, H); U_Ux: (H, 3H) weight (fp32 ndarray or int8).
    Returns h: (P, H).
    """
    return gru_gates(x_proj, linear(h_prev, U_Ux), h_prev, in_c(U_Ux))


def gru_gates(x_proj: np.ndarray, h_proj: np.ndarray,
              h_prev: np.ndarray, in_C: bool = False) -> np.ndarray:
    """The non-linear part of a GRU step, given both projections.

    x_proj, h_proj: (P, 3H) = ``[. W | . Wx]`` of the input and
    ``[. U | . Ux]`` of the previous state (each with its bias);
    h_prev: (P, H). The conditional GRU's second cell ``q`` calls this
    directly, because it computes ``h_proj`` fused with another product.
    ``in_C``: in one C pass (``nmt8.native.fused.gru``, nmt8's tanh).
    """
    if in_C:
        with TIMERS.section("GRU gates (fused C)"):
            return _c_gates(x_proj, h_proj, h_prev)
    H = h_prev.shape[1]
    gates = sigmoid(x_proj[:, : 2 * H] + h_proj[:, : 2 * H])  # (P, 2H)
    r, u = gates[:, :H], gates[:, H:]
    h_tilde = tanh(x_proj[:, 2 * H:] + r * h_proj[:, 2 * H:])  # (P, H)
    return u * h_prev + (1.0 - u) * h_tilde
