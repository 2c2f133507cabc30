"""nmt8.lab.plot: every helper draws headless and returns its Axes."""

import matplotlib
import numpy as np
import pytest

from nmt8.lab import plot

matplotlib.use("Agg")


@pytest.mark.parametrize("detached", [True, False])
def test_helpers_return_axes(detached, tmp_path):
    import matplotlib.pyplot as plt

    def ax():
        return plot.figure() if detached else None

    axes = [
        plot.profile({"fp32": {"tanh": 2.0, "product": 90.0},
                      "int8": {"tanh": 6.0, "product": 70.0}}, ax=ax()),
        plot.speed({"nmt8 fp32": 10.0, "nmt8 int8": 50.0}, ax=ax()),
        plot.beam_sweep({"nmt8 fp32": {1: 30.0, 5: 10.0},
                         "nmt8 int8": {"1": 90.0, "5": 45.0}}, ax=ax()),
        plot.attention(np.full((3, 4), 0.25), ["a", "b", "c", "</s>"],
                       ["x", "y", "</s>"], ax=ax()),
    ]
    for k, a in enumerate(axes):
        assert isinstance(a, matplotlib.axes.Axes)
        plot.save(a, tmp_path / f"{k}.png")
        assert (tmp_path / f"{k}.png").stat().st_size > 0
    plt.close("all")


def test_attention_checks_shape():
    with pytest.raises(ValueError, match="shape"):
        plot.attention(np.zeros((2, 2)), ["a"], ["b", "c"], ax=plot.figure())
