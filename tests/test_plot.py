"""nmt8.lab.figures.plot: every helper draws headless and returns its Axes."""

import matplotlib
import numpy as np
import pytest

from nmt8.lab.figures import plot

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


def test_bleu_differences_draws_each_interval():
    ax = plot.bleu_differences([("theirs De-En", -0.4, None, None),
                                ("nmt8 int8", 0.1, -0.3, 0.5)], ax=plot.figure())
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2
             and ln.get_ydata()[0] == ln.get_ydata()[1] == 1]
    assert [list(ln.get_xdata()) for ln in lines] == [[-0.3, 0.5]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["theirs De-En",
                                                            "nmt8 int8"]
    with pytest.raises(ValueError, match="interval"):
        plot.bleu_differences([("x", 0.0, 1.0, -1.0)], ax=plot.figure())
    with pytest.raises(ValueError, match="at least one"):
        plot.bleu_differences([], ax=plot.figure())


def test_human_scores_sets_simulated_scores_apart():
    from nmt8.lab.figures import paper
    from nmt8.lab.outputs import human

    key = human.blind_key(2, ["32-bit", "8-bit"], seed=0)
    scores = {p: (4 if it.system == "8-bit" else 3) for p, it in enumerate(key)}
    sim = human.tally(key, scores, "SIMULATED", simulated=True)
    you = human.tally(key, {p: 2 for p in range(len(key))}, "you", simulated=False)
    ax = plot.human_scores(paper.TABLE7, [you, sim], ax=plot.figure())
    bars = ax.patches  # system by system, group by group
    groups = len(paper.TABLE7) + 2
    assert len(bars) == 2 * groups
    hatched = [b for b in bars if b.get_hatch()]
    # only the simulated rater's two bars are hatched, with its means
    assert sorted(b.get_height() for b in hatched) == [3.0, 4.0]
    assert all(b.get_hatch() == plot.SIMULATED_HATCH for b in hatched)
    assert [b.get_height() for b in bars[:len(paper.TABLE7)]] == \
        [r["32-bit"] for r in paper.TABLE7]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "SIMULATED" in labels[-1] and "SIMULATED" not in labels[-2]
    # ours start after a wider gap than the paper's groups have between them
    ticks = ax.get_xticks()
    n = len(paper.TABLE7)
    assert ticks[n] - ticks[n - 1] > ticks[1] - ticks[0]


def test_profile_labels_missing_entries_na_not_zero():
    from nmt8.lab.figures import plot

    ax = plot.profile({"paper": {"a": 50.0}, "ours": {"a": 40.0, "b": 10.0}})
    texts = [t.get_text() for t in ax.texts]
    assert "n/a" in texts and "0.0" not in texts
    assert texts.count("n/a") == 1
