"""nmt8.lab.figures.diagrams: each helper draws headless, returns its Axes, draws the
numbers it is given (checked against numpy), and rejects bad input."""

import matplotlib
import numpy as np
import pytest

from nmt8.lab.figures import diagrams, plot

matplotlib.use("Agg")


def _texts(ax):
    return [t.get_text() for t in ax.texts if t.get_text()]  # arrows: ""


@pytest.mark.parametrize("detached", [True, False])
def test_helpers_return_axes_and_save(detached, tmp_path):
    import matplotlib.pyplot as plt

    def ax():
        return plot.figure() if detached else None

    rng = np.random.default_rng(0)
    axes = [
        diagrams.architecture(["Ein", "Hund", "</s>"], ["A", "dog", "</s>"],
                              alpha=[0.1, 0.8, 0.1], step=1, ax=ax()),
        diagrams.beam_tree([[(["A"], -0.1), (["The"], -2.0)],
                            [(["A", "dog"], -0.3), (["The", "dog"], -2.2)]],
                           best=["A", "dog"], ax=ax()),
        diagrams.simd_lanes(rng.integers(-127, 128, 16),
                            rng.integers(-127, 128, 16), ax=ax()),
        diagrams.roofline({"fp32": 50.0}, {"DRAM": 10.0, "cache": 80.0},
                          {"GEMV": (0.5, 4.0)}, ax=ax()),
        diagrams.amdahl({"Table 1": 0.8579}, ax=ax()),
    ]
    for k, a in enumerate(axes):
        assert isinstance(a, matplotlib.axes.Axes)
        plot.save(a, tmp_path / f"{k}.png")
        assert (tmp_path / f"{k}.png").stat().st_size > 0
    plt.close("all")


@pytest.mark.parametrize("group", [2, 4])
def test_simd_lanes_sums_match_numpy(group):
    rng = np.random.default_rng(group)
    a = rng.integers(-127, 128, 16).astype(np.int8)
    b = rng.integers(-127, 128, 16).astype(np.int8)
    ax = diagrams.simd_lanes(a, b, group=group, ax=plot.figure())
    # int8 x int8 overflows int8: the drawing must widen before multiplying
    want = (a.astype(np.int64) * b).reshape(-1, group).sum(axis=1)
    texts = _texts(ax)
    assert texts[-(len(want) + 1):-1] == [str(v) for v in want]
    assert str(int(a[0]) * int(b[0])) in texts


def test_simd_lanes_rejects_bad_input():
    with pytest.raises(ValueError, match="groups of 4"):
        diagrams.simd_lanes(np.arange(6), np.arange(6), group=4, ax=plot.figure())
    with pytest.raises(ValueError, match="one length"):
        diagrams.simd_lanes(np.arange(4), np.arange(5), ax=plot.figure())
    with pytest.raises(TypeError, match="integers"):
        diagrams.simd_lanes(np.ones(4), np.ones(4), ax=plot.figure())


def test_roofline_draws_min_of_peak_and_bandwidth():
    ax = diagrams.roofline({"fp32": 40.0}, {"DRAM": 10.0}, ax=plot.figure())
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, np.minimum(40.0, 10.0 * x))
    assert x.min() < 4.0 < x.max()  # the ridge point 40 / 10 is on the plot
    with pytest.raises(ValueError, match="positive"):
        diagrams.roofline({"fp32": -1.0}, {"DRAM": 10.0}, ax=plot.figure())


def test_amdahl_curve_and_bound():
    ax = diagrams.amdahl({"p": 0.75}, max_speedup=100.0, ax=plot.figure())
    s, overall = ax.lines[0].get_data()
    np.testing.assert_allclose(overall, 1.0 / (0.25 + 0.75 / s))
    assert overall[0] == pytest.approx(1.0)  # s = 1: nothing changes
    assert ax.lines[1].get_ydata()[0] == pytest.approx(4.0)  # 1 / (1 - p)
    with pytest.raises(ValueError, match="fraction"):
        diagrams.amdahl({"percent, not fraction": 85.8}, ax=plot.figure())


def test_beam_tree_one_node_per_prefix_ranked_by_score():
    beams = [[(["A"], -0.1), (["The"], -2.0)],
             [(["A", "dog"], -0.3), (["A", "cat"], -1.9)]]
    ax = diagrams.beam_tree(beams, ax=plot.figure())
    labels = _texts(ax)
    assert labels.count("<s>") == 1 and len(labels) == 1 + 4
    by_label = {t.get_text(): t.get_position() for t in ax.texts}
    assert by_label["A\n-0.10"][1] > by_label["The\n-2.00"][1]  # best on top
    assert by_label["dog\n-0.30"][0] == 2  # depth 2: second column
    with pytest.raises(ValueError, match="missing"):
        diagrams.beam_tree([[(["A", "dog"], -0.3)]], ax=plot.figure())
    with pytest.raises(ValueError, match="at least one"):
        diagrams.beam_tree([], ax=plot.figure())


def test_architecture_checks_its_input():
    with pytest.raises(ValueError, match="alpha"):
        diagrams.architecture(["a", "b"], ["x"], alpha=[1.0], ax=plot.figure())
    with pytest.raises(ValueError, match="step"):
        diagrams.architecture(["a"], ["x"], step=3, ax=plot.figure())
    ax = diagrams.architecture(["Ein", "Hund"], ["A", "dog", "</s>"],
                               ax=plot.figure())
    texts = _texts(ax)
    for tok in ("Ein", "Hund", "A", "dog", "</s>"):
        assert tok in texts


def test_int4_lanes_unpacks_the_kernels_layout():
    from nmt8.native.int4 import pack4
    from nmt8.quant.int4 import quantize4

    rng = np.random.default_rng(4)
    W = rng.standard_normal((64, 16)).astype(np.float32)  # (in, out): one block
    qW = quantize4(W, 64)
    line = pack4(qW).Wp[64:128]  # nibble line t = 1 of (block 0, group 0)
    ax = diagrams.int4_lanes(line, t=1, group=64, lanes=3, ax=plot.figure())
    texts = _texts(ax)
    # lane j, byte i: inputs 4 + i (low nibble) and 36 + i (high) of output j
    lo = [str(int(qW.Wq[j, 4 + i])) for j in range(3) for i in range(4)]
    hi = [str(int(qW.Wq[j, 36 + i])) for j in range(3) for i in range(4)]
    assert all(w in texts for w in lo + hi)
    at = texts.index("v & 0x0f, - 8")
    assert texts[at + 1:at + 13] == lo
    at = texts.index("v >> 4, - 8")
    assert texts[at + 1:at + 13] == hi


def test_int4_lanes_rejects_bad_input():
    with pytest.raises(ValueError, match="64 uint8"):
        diagrams.int4_lanes(np.zeros(64, np.int8), ax=plot.figure())
    with pytest.raises(ValueError, match="t must be"):
        diagrams.int4_lanes(np.zeros(64, np.uint8), t=4, group=32,
                            ax=plot.figure())
