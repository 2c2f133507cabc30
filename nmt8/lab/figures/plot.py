"""Figures for the report and the notebooks (matplotlib).

Every helper draws on ``ax`` when given one, else on a new figure, and
returns the Axes (``ax.figure`` is its Figure). Nothing here calls
``show()`` or picks a backend, so the helpers run headless (Agg) as well as
in a notebook. ``nmt8.lab.reproduce.run`` builds its figures with :func:`figure`,
which needs no display and leaves pyplot's state alone.

* :func:`profile` - Tables 1/2: share of decoding time by function;
* :func:`speed` - Tables 3/6: words per core second of several systems;
* :func:`beam_sweep` - WPCS against beam size;
* :func:`attention` - the attention weights alpha of eq. (6) as a heatmap;
* :func:`bleu_differences` - Table 6's 8-bit minus 32-bit BLEU, each with its
  bootstrap interval where there is one;
* :func:`human_scores` - Table 7's mean scores, human raters and simulated
  ones apart (their own group, hatched, labelled).

Does not: measure (``nmt8.lab.speed.measure``) or format tables (``nmt8.lab.reproduce.run``).
"""

from __future__ import annotations

import numpy as np

FP32_COLOR, INT8_COLOR = "#4C72B0", "#DD8452"


def figure(width: float = 6.4, height: float = 4.0):
    """A Figure with one Axes, detached from pyplot (safe without a display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig.add_subplot()


def new_axes(ax, width=6.4, height=4.0):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return ax


def _color(label: str, i: int):
    low = label.lower()
    if "int8" in low or "8-bit" in low:
        return INT8_COLOR
    if "fp32" in low or "32-bit" in low:
        return FP32_COLOR
    return f"C{i + 2}"


def profile(shares: dict[str, dict[str, float]], ax=None, title=None):
    """Grouped horizontal bars: {system: {category: percent}}; a category
    missing from a system's table is labelled "n/a" (no bar)."""
    ax = new_axes(ax, 7.0, 4.2)
    systems = list(shares)
    cats = list(dict.fromkeys(c for s in systems for c in shares[s]))
    y = np.arange(len(cats))
    h = 0.8 / max(len(systems), 1)
    for i, s in enumerate(systems):
        # a category a system's table does not list is "n/a", not a 0.0 bar
        vals = [shares[s].get(c, 0.0) for c in cats]
        labels = [f"{v:.1f}" if c in shares[s] else "n/a"
                  for c, v in zip(cats, vals)]
        bars = ax.barh(y + (i - (len(systems) - 1) / 2) * h, vals, h,
                       label=s, color=_color(s, i))
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    ax.set_yticks(y, cats)
    ax.invert_yaxis()
    ax.set_xlabel("share of decoding time (%)")
    ax.set_title(title or "Where decoding time goes (cf. Tables 1 and 2)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def speed(values: dict[str, float], ax=None, title=None,
          ylabel: str = "words per core second"):
    """Vertical bars {system: WPCS}, labelled with their values."""
    ax = new_axes(ax, 7.0, 4.0)
    labels = list(values)
    bars = ax.bar(range(len(labels)), [values[k] for k in labels],
                  color=[_color(k, i) for i, k in enumerate(labels)])
    ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right",
                  fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Speed, one sentence at a time per core")
    return ax


def beam_sweep(sweep: dict[str, dict[int, float]], ax=None, title=None,
               ylabel: str = "words per core second"):
    """Lines {system: {beam: WPCS}}."""
    ax = new_axes(ax, 6.0, 4.0)
    for i, (label, by_beam) in enumerate(sweep.items()):
        beams = sorted(int(b) for b in by_beam)
        vals = [by_beam[b] if b in by_beam else by_beam[str(b)] for b in beams]
        ax.plot(beams, vals, "o-", label=label, color=_color(label, i))
    ax.set_xlabel("beam size")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title or "Speed against beam size")
    ax.legend(fontsize=8)
    return ax


def attention(alpha, src_tokens, tgt_tokens, ax=None, title=None):
    """Heatmap of alpha (len(tgt), len(src)): which source each step reads."""
    alpha = np.asarray(alpha)
    if alpha.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"alpha has shape {alpha.shape}, tokens imply "
                         f"{(len(tgt_tokens), len(src_tokens))}")
    ax = new_axes(ax, 0.9 + 0.35 * len(src_tokens), 0.9 + 0.3 * len(tgt_tokens))
    ax.imshow(alpha, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tgt_tokens)), tgt_tokens, fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def save(ax, path) -> None:
    """Write the Axes' figure as PNG (works for detached and pyplot figures)."""
    ax.figure.savefig(path, dpi=120)


def bleu_differences(rows, ax=None, title=None):
    """One row per comparison: ``(label, delta, low, high)``, BLEU points.

    ``low``/``high`` (None: no interval, e.g. the paper's) draw a 95%
    interval; a dotted line marks no difference. Rows run top to bottom.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("need at least one row (label, delta, low, high)")
    ax = new_axes(ax, 6.4, 0.6 + 0.32 * len(rows))
    for y, (label, delta, low, high) in enumerate(rows):
        color = _color(label, y)
        if low is not None and high is not None:
            if not low <= high:
                raise ValueError(f"{label}: interval low {low} > high {high}")
            ax.plot([low, high], [y, y], color=color, lw=2)
            ax.plot(delta, y, "o", color=color)
        else:
            ax.plot(delta, y, "D", mfc="white", color="grey")
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("BLEU, 8-bit minus 32-bit")
    ax.set_title(title or "BLEU differences (bars: 95% paired bootstrap interval)",
                 fontsize=10)
    return ax


SIMULATED_HATCH = "//"


def human_scores(paper_rows, ours, ax=None, title=None,
                 systems=("32-bit", "8-bit")):
    """Grouped bars of mean 0-5 scores, the paper's and ours.

    paper_rows: ``nmt8.lab.figures.paper.TABLE7`` (``{"lang", "32-bit", "8-bit"}``);
    ours: tallies (``nmt8.lab.outputs.human.Tally``: ``rater``, ``simulated``,
    ``mean``, ``se``, ``systems`` in the order of ``systems``). Ours come
    after a gap and a dashed line; a simulated rater's bars are hatched and
    its label says SIMULATED, so it is never read as a human score.
    """
    ax = new_axes(ax, 7.0, 3.6)
    groups = [(r["lang"], [r[s] for s in systems], None, False) for r in paper_rows]
    n_paper = len(groups)
    for t in ours:
        label = "nmt8 De-En\n" + ("SIMULATED\n(not human)" if t.simulated
                                   else t.rater)
        groups.append((label, [t.mean[s] for s in t.systems],
                       [t.se[s] for s in t.systems], t.simulated))
    xs = np.arange(len(groups), dtype=float)
    xs[n_paper:] += 0.6  # a gap between theirs and ours
    w = 0.8 / len(systems)
    for k, name in enumerate(systems):
        for x, (_, vals, ses, simulated) in zip(xs, groups):
            color = _color(name, k)
            ax.bar(x + (k - (len(systems) - 1) / 2) * w, vals[k], w,
                   color="white" if simulated else color, edgecolor=color,
                   hatch=SIMULATED_HATCH if simulated else None,
                   yerr=None if ses is None else ses[k], capsize=3,
                   label=name if x == xs[0] else None)
    if len(groups) > n_paper:
        ax.axvline((xs[n_paper - 1] + xs[n_paper]) / 2 if n_paper else -0.7,
                   color="grey", lw=0.8, ls="--")
    ax.set_xticks(xs, [g[0] for g in groups], fontsize=7)
    ax.set_ylim(0, 5)
    ax.set_ylabel("mean score (0-5)")
    ax.set_title(title or "Table 7: the paper's human evaluation (left) and "
                 "ours (right)", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return ax
