"""Chapter 1's build-it exercise (``nmt8.course.gru``): the worked
solution passes, known-wrong GRU steps get their hints, a stub is "not
done yet"."""

import numpy as np
import pytest

from nmt8.course.gru import check_gru_step
from tests.notebook_solutions import define, solution_cell, stub_source

NB, ID, NAME = "01_encoder_decoder.ipynb", "ex-01-gru-step", "my_gru_step"


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free, like the library


def _parts(x, h, W, U, b):
    H = h.shape[1]
    g = _sig(x @ W + h @ U + b)
    return g[:, :H], g[:, H:]


def reset_on_h_first(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    cand = np.tanh((h * r) @ Ux + x @ Wx + bx)
    return u * h + (1.0 - u) * cand


def gates_read_backwards(x, h, W, U, b, Wx, Ux, bx):
    H = h.shape[1]
    g = _sig(x @ W + h @ U + b)
    u, r = g[:, :H], g[:, H:]
    cand = np.tanh(x @ Wx + bx + r * (h @ Ux))
    return h * u + cand * (1.0 - u)


def new_state_mixed_the_other_way(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    cand = np.tanh(x @ Wx + bx + r * (h @ Ux))
    return h + u * (cand - h)  # = (1 - u) h + u h~


def reset_scales_everything(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    cand = np.tanh((x @ Wx + h @ Ux + bx) * r)
    return u * h + (1.0 - u) * cand


def gates_without_b(x, h, W, U, b, Wx, Ux, bx):
    H = h.shape[1]
    g = _sig(x @ W + h @ U)
    r, u = g[:, :H], g[:, H:]
    return u * h + (1.0 - u) * np.tanh(x @ Wx + bx + r * (h @ Ux))


def candidate_without_bx(x, h, W, U, b, Wx, Ux, bx):
    r, u = _parts(x, h, W, U, b)
    return u * h + (1.0 - u) * np.tanh(x @ Wx + r * (h @ Ux))


def no_biases(x, h, W, U, b, Wx, Ux, bx):
    H = h.shape[1]
    g = _sig(x @ W + h @ U)
    r, u = g[:, :H], g[:, H:]
    return u * h + (1.0 - u) * np.tanh(x @ Wx + r * (h @ Ux))


def test_the_worked_solution_passes():
    fn = define(solution_cell(NB, ID).source, NAME, np=np)
    v = check_gru_step(fn)
    assert v.ok, v.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (reset_on_h_first, "before the product with U_x"),
    (gates_read_backwards, "you swapped the two gates"),
    (new_state_mixed_the_other_way, "u keeps the OLD state"),
    (reset_scales_everything, "also multiplies the input part"),
    (gates_without_b, "your gates have no bias"),
    (candidate_without_bx, "your candidate state has no bias"),
    (no_biases, "you left out both biases"),
])
def test_known_mistakes_get_their_hint(wrong, hint):
    v = check_gru_step(wrong)
    assert not v.ok and v.done
    assert hint in v.message


def test_the_learners_stub_is_not_done_yet():
    src = stub_source(solution_cell(NB, ID))
    assert "BEGIN SOLUTION" not in src and "NotImplementedError" in src
    v = check_gru_step(define(src, NAME, np=np))
    assert not v.ok and not v.done
    assert v._repr_markdown_().startswith("**… Not done yet.**")
