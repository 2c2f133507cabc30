"""Figures for the report and the notebooks (matplotlib).

Every helper draws on ``ax`` when given one, else on a new figure, and
returns the Axes (``ax.figure`` is its Figure). Nothing here calls
``show()`` or picks a backend, so the helpers run headless (Agg) as well as
in a notebook. ``nmt8.lab.reproduce`` builds its figures with :func:`figure`,
which needs no display and leaves pyplot's state alone.

* :func:`profile` - Tables 1/2: share of decoding time by function;
* :func:`speed` - Tables 3/6: words per core second of several systems;
* :func:`beam_sweep` - WPCS against beam size;
* :func:`attention` - the attention weights alpha of eq. (6) as a heatmap.

Does not: measure (``nmt8.lab.measure``) or format tables (``nmt8.lab.reproduce``).
"""

from __future__ import annotations

import numpy as np

FP32_COLOR, INT8_COLOR = "#4C72B0", "#DD8452"


def figure(width: float = 6.4, height: float = 4.0):
    """A Figure with one Axes, detached from pyplot (safe without a display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig.add_subplot()


def _axes(ax, width=6.4, height=4.0):
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
    """Grouped horizontal bars: {system: {category: percent}}."""
    ax = _axes(ax, 7.0, 4.2)
    systems = list(shares)
    cats = list(dict.fromkeys(c for s in systems for c in shares[s]))
    y = np.arange(len(cats))
    h = 0.8 / max(len(systems), 1)
    for i, s in enumerate(systems):
        vals = [shares[s].get(c, 0.0) for c in cats]
        bars = ax.barh(y + (i - (len(systems) - 1) / 2) * h, vals, h,
                       label=s, color=_color(s, i))
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_yticks(y, cats)
    ax.invert_yaxis()
    ax.set_xlabel("share of decoding time (%)")
    ax.set_title(title or "Where decoding time goes (cf. Tables 1 and 2)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def speed(values: dict[str, float], ax=None, title=None,
          ylabel: str = "words per core second"):
    """Vertical bars {system: WPCS}, labelled with their values."""
    ax = _axes(ax, 7.0, 4.0)
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
    ax = _axes(ax, 6.0, 4.0)
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
    ax = _axes(ax, 0.9 + 0.35 * len(src_tokens), 0.9 + 0.3 * len(tgt_tokens))
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
