"""The GRU cell against a hand-written Nematus-formula reference."""

import numpy as np

from nmt8.model.gru import gru_step


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_gru(x, h, W, b, U, Wx, bx, Ux):
    """Nematus ``gru_layer`` step, written out term by term in float64."""
    r = _sigmoid(x @ W[:, :W.shape[1] // 2] + b[:b.size // 2] + h @ U[:, :U.shape[1] // 2])
    u = _sigmoid(x @ W[:, W.shape[1] // 2:] + b[b.size // 2:] + h @ U[:, U.shape[1] // 2:])
    h_tilde = np.tanh(x @ Wx + bx + r * (h @ Ux))
    return u * h + (1 - u) * h_tilde


def test_gru_step_matches_reference(rng):
    E, H, P = 7, 5, 3
    W, U = rng.normal(size=(E, 2 * H)), rng.normal(size=(H, 2 * H))
    Wx, Ux = rng.normal(size=(E, H)), rng.normal(size=(H, H))
    b, bx = rng.normal(size=2 * H), rng.normal(size=H)
    x, h = rng.normal(size=(P, E)), rng.normal(size=(P, H))
    expect = reference_gru(x, h, W, b, U, Wx, bx, Ux)
    f32 = np.float32
    x_proj = (x @ np.concatenate([W, Wx], 1) + np.concatenate([b, bx])).astype(f32)
    got = gru_step(x_proj, h.astype(f32), np.concatenate([U, Ux], 1).astype(f32))
    assert got.shape == (P, H) and got.dtype == f32
    np.testing.assert_allclose(got, expect, atol=1e-5)
