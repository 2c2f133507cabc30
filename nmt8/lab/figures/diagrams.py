"""Explanatory diagrams for the on-ramp chapters (matplotlib, headless).

Pictures of ideas rather than of measurements; ``nmt8.lab.figures.plot`` draws the
measurements. As there, every helper draws on ``ax`` when given one (e.g. a
detached ``nmt8.lab.figures.plot.figure()``), else on a new pyplot figure that a
notebook displays, and returns the Axes; nothing calls ``show()`` or picks
a backend, so they run headless (Agg) too.

* :func:`architecture` - the bi-GRU encoder, attention and decoder of
  Section 2, eq. (1)-(6), for given source and target tokens;
* :func:`beam_tree` - the hypotheses a beam search kept at every step;
* :func:`simd_lanes` - one ``pmaddwd``-style multiply-add over int8 lanes
  (Section 3's SSE4 kernel);
* :func:`int4_lanes` - one packed line of 4-bit weights, its lanes and
  nibbles unpacked (``csrc/nmt8_int4.c``, the rung below Section 3);
* :func:`roofline` - the roofline model from measured peaks and bandwidths;
* :func:`amdahl` - overall speed-up against the speed-up of one part
  (Tables 1 and 2).

Does not: measure anything, decode, or compute the numbers it draws (the
caller passes them in; ``roofline`` and ``amdahl`` only evaluate their
one-line models along the curve).
"""

from __future__ import annotations

import numpy as np

from nmt8.lab.figures.plot import FP32_COLOR, INT8_COLOR
from nmt8.lab.figures.plot import new_axes as _new_axes

ENC_COLOR, DEC_COLOR, ATT_COLOR = "#DCE6F2", "#FBE3D6", "#E2F0D9"


def _axes(ax, width, height):
    return _new_axes(ax, width, height)  # a pyplot figure: notebooks show it


def _box(ax, x, y, text, color, w=0.8, h=0.55, fontsize=7):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02", fc=color, ec="0.3",
                                lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, x0, y0, x1, y1, color="0.3", lw=0.8, alpha=1.0):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": color, "lw": lw,
                            "alpha": alpha, "shrinkA": 0, "shrinkB": 0})


def architecture(src_tokens, tgt_tokens, alpha=None, step: int | None = None,
                 ax=None, title=None):
    """The attentional encoder-decoder, unrolled over the given tokens.

    Encoder (left, blue): source tokens, their embeddings ``x_i``, a forward
    and a backward GRU (eq. 1), annotations ``h_i``. Decoder (right, orange):
    for each output step ``t`` a GRU ``r`` on the previous word (eq. 3), the
    context ``H_t`` (eq. 5), a GRU ``q`` (eq. 4) and the readout ``g``
    (eq. 2). Attention (green, eq. 6) links every ``h_i`` to the context of
    step ``step`` (default: the last); with ``alpha`` (len(src),) the line
    widths show those weights.
    """
    src, tgt = list(src_tokens), list(tgt_tokens)
    if not src or not tgt:
        raise ValueError("need at least one source and one target token")
    step = len(tgt) - 1 if step is None else step
    if not 0 <= step < len(tgt):
        raise ValueError(f"step {step} outside the {len(tgt)} target tokens")
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=float)
        if alpha.shape != (len(src),):
            raise ValueError(f"alpha has shape {alpha.shape}, the source has "
                             f"{len(src)} tokens")
    S, T = len(src), len(tgt)
    x_dec = [S + 1.5 + t * 1.2 for t in range(T)]  # decoder columns
    ax = _axes(ax, 1.5 + 0.75 * (S + 1.2 * T + 1.5), 4.6)
    for i, tok in enumerate(src):
        ax.text(i, -0.1, tok, ha="center", va="top", fontsize=7, rotation=30)
        _box(ax, i, 0.6, f"$x_{{{i + 1}}}$", "white")
        _box(ax, i, 1.6, r"$\rightarrow$", ENC_COLOR)
        _box(ax, i, 2.6, r"$\leftarrow$", ENC_COLOR)
        _box(ax, i, 3.8, f"$h_{{{i + 1}}}$", ENC_COLOR, h=0.7)
        _arrow(ax, i, 0.9, i, 1.3)
        _arrow(ax, i - 0.45, 0.6, i - 0.45, 2.3, lw=0.5)
        _arrow(ax, i + 0.2, 1.9, i + 0.2, 3.4, lw=0.5)
        _arrow(ax, i, 2.9, i, 3.4, lw=0.5)
        if i + 1 < S:
            _arrow(ax, i + 0.4, 1.6, i + 0.6, 1.6)  # forward GRU: left to right
            _arrow(ax, i + 0.6, 2.6, i + 0.4, 2.6)  # backward GRU: right to left
    ax.text(-0.7, 1.6, "GRU fwd", ha="right", va="center", fontsize=7)
    ax.text(-0.7, 2.6, "GRU bwd", ha="right", va="center", fontsize=7)
    ax.text(-0.7, 3.8, "annotations", ha="right", va="center", fontsize=7)
    for t, (x, tok) in enumerate(zip(x_dec, tgt)):
        prev = "<s>" if t == 0 else tgt[t - 1]
        ax.text(x, -0.1, prev, ha="center", va="top", fontsize=7, rotation=30)
        _box(ax, x, 0.6, f"$y^*_{{{t}}}$", "white")
        _box(ax, x, 1.6, f"$s'_{{{t + 1}}}$", DEC_COLOR)
        _box(ax, x, 2.6, f"$H_{{{t + 1}}}$", ATT_COLOR)
        _box(ax, x, 3.8, f"$s_{{{t + 1}}}$", DEC_COLOR, h=0.7)
        _box(ax, x, 4.9, "g", DEC_COLOR)
        ax.text(x, 5.4, tok, ha="center", va="bottom", fontsize=7,
                fontweight="bold")
        for y0, y1 in ((0.9, 1.3), (1.9, 2.3), (2.9, 3.4), (4.2, 4.6)):
            _arrow(ax, x, y0, x, y1)
        if t + 1 < T:
            _arrow(ax, x + 0.4, 3.8, x_dec[t + 1] - 0.4, 1.7, lw=0.5)
    ax.text(x_dec[-1] + 0.6, 1.6, "GRU r", va="center", fontsize=7)
    ax.text(x_dec[-1] + 0.6, 2.6, "context", va="center", fontsize=7)
    ax.text(x_dec[-1] + 0.6, 3.8, "GRU q", va="center", fontsize=7)
    ax.text(x_dec[-1] + 0.6, 4.9, "readout", va="center", fontsize=7)
    weights = np.full(S, 1.0 / S) if alpha is None else alpha
    for i in range(S):  # attention: every h_i feeds the context of `step`
        w = float(weights[i])
        _arrow(ax, i, 4.15, x_dec[step] - 0.4, 2.7, color="green",
               lw=0.3 + 4.0 * w, alpha=0.25 + 0.75 * min(w * 2, 1.0))
    ax.text(S - 0.4, 4.5, r"attention $\alpha$", ha="left", fontsize=8,
            color="green")
    ax.set_xlim(-2.2, x_dec[-1] + 1.6)
    ax.set_ylim(-1.2, 6.0)
    ax.set_axis_off()
    ax.set_title(title or "Encoder (eq. 1), attention (5-6), decoder (2-4)",
                 fontsize=9)
    return ax


def beam_tree(beams, ax=None, best=None, title=None):
    """The hypotheses kept at every step of a beam search, as a tree.

    beams: one list per step of ``(tokens, score)`` pairs, the hypotheses
    alive (or finished) after that step; ``tokens`` is the whole prefix, so a
    node's parent is the same prefix without its last token. Nodes at depth
    ``d`` are ranked by score (best on top). ``best`` (a token list) is drawn
    in colour. Every non-empty prefix is one node.
    """
    nodes: dict[tuple, float] = {}
    for step in beams:
        for tokens, score in step:
            tokens = tuple(tokens)
            if not tokens:
                raise ValueError("a hypothesis needs at least one token")
            nodes[tokens] = float(score)
    if not nodes:
        raise ValueError("beam_tree needs at least one hypothesis")
    for tokens in nodes:  # every prefix must have been kept one step earlier
        if len(tokens) > 1 and tokens[:-1] not in nodes:
            raise ValueError(f"prefix {tokens[:-1]} of {tokens} is missing")
    depth = max(len(k) for k in nodes)
    pos = {(): (0.0, 0.0)}
    width = 1
    for d in range(1, depth + 1):
        level = sorted((k for k in nodes if len(k) == d), key=lambda k: -nodes[k])
        width = max(width, len(level))
        for r, k in enumerate(level):
            pos[k] = (float(d), -float(r))
    best = tuple(best) if best is not None else ()
    on_best = {best[:d] for d in range(len(best) + 1)} if best else set()
    ax = _axes(ax, max(4.5, 1.2 + 1.3 * depth), 0.9 + 0.6 * width)
    ax.text(0, 0, "<s>", ha="center", va="center", fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.4"})
    for k, score in nodes.items():
        x, y = pos[k]
        px, py = pos[k[:-1]]
        hit = k in on_best
        ax.plot([px + 0.2, x - 0.2], [py, y], color=INT8_COLOR if hit else "0.6",
                lw=2.0 if hit else 0.8)
        ax.text(x, y, f"{k[-1]}\n{score:.2f}", ha="center", va="center",
                fontsize=7, bbox={"boxstyle": "round", "ec": "0.4",
                                  "fc": "#FFE9D6" if hit else "white"})
    ax.set_xlim(-0.5, depth + 0.5)
    ax.set_ylim(-width + 0.4, 0.6)
    ax.set_axis_off()
    ax.set_title(title or "Beam search: kept hypotheses (token, log-prob so far)",
                 fontsize=9)
    return ax


def simd_lanes(a, b, group: int = 2, ax=None, title=None):
    """One multiply-add over int8 lanes, as ``pmaddwd`` does after widening.

    a, b: equally long integer sequences (one register each, e.g. 16 int8
    lanes = 128 bits). Every lane multiplies its pair; each run of ``group``
    adjacent products is summed into one 32-bit lane (``pmaddwd``: 2;
    AVX-512 VNNI ``vpdpbusd``: 4). The printed sums are computed in int64 by
    numpy, so they are exact.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"a and b must be 1-D and of one length, got "
                         f"{a.shape} and {b.shape}")
    if not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        raise TypeError("a and b must hold integers (int8 lane values)")
    if group < 1 or a.size % group:
        raise ValueError(f"{a.size} lanes do not split into groups of {group}")
    L = a.size
    prod = a.astype(np.int64) * b.astype(np.int64)  # (L,)
    sums = prod.reshape(-1, group).sum(axis=1)  # (L / group,)
    ax = _axes(ax, 1.5 + 0.55 * L, 3.6)
    rows = ((3, a, "a (int8)", FP32_COLOR), (2, b, "b (int8)", FP32_COLOR),
            (1, prod, "a * b", "0.85"))
    for y, vals, label, color in rows:
        ax.text(-0.7, y, label, ha="right", va="center", fontsize=8)
        for i, v in enumerate(vals):
            _box(ax, i, y, str(int(v)), color if y > 1 else "white", w=0.9,
                 h=0.6, fontsize=7)
    for j, s in enumerate(sums):
        x0, x1 = j * group - 0.45, (j + 1) * group - 0.55
        _box(ax, (x0 + x1) / 2, 0, str(int(s)), INT8_COLOR, w=x1 - x0, h=0.6,
             fontsize=7)
        for i in range(j * group, (j + 1) * group):
            _arrow(ax, i, 0.7, (x0 + x1) / 2, 0.3, lw=0.5)
    ax.text(-0.7, 0, "sum (int32)", ha="right", va="center", fontsize=8)
    ax.set_xlim(-3.2, L)
    ax.set_ylim(-0.6, 3.6)
    ax.set_axis_off()
    ax.set_title(title or f"One instruction: {L} multiplies and "
                 f"{L - len(sums)} adds into {len(sums)} int32 lanes",
                 fontsize=9)
    return ax


def int4_lanes(line, t: int = 0, group: int = 64, k0: int = 0,
               lanes: int = 4, ax=None, title=None):
    """One 64-byte nibble line of packed int4 weights, unpacked lane by lane.

    line: the 64 bytes (uint8) of nibble line ``t`` of one (block, group)
    of ``nmt8.native.int4.pack4``'s buffer, whose group starts at input
    ``k0``.  The first ``lanes`` lanes (4 bytes each, lane j = output
    16 b + j) are drawn: each byte, its low nibble ``v & 0x0f`` and its
    high nibble ``v >> 4``, each minus 8, which are the weights of inputs
    ``k .. k+3`` (low) and ``k+H .. k+H+3`` (high), ``k = k0 + 4 t``,
    ``H = group / 2`` (the layout drawn at the top of ``csrc/nmt8_int4.c``).
    The weights printed are computed from the bytes here, with numpy.
    """
    line = np.asarray(line)
    if line.shape != (64,) or line.dtype != np.uint8:
        raise ValueError(f"line must be 64 uint8 bytes, got {line.dtype} "
                         f"{line.shape}")
    if group not in (32, 64) or not 0 <= t < group // 8:
        raise ValueError(f"t must be in [0, {group // 8}) for group {group}")
    if not 1 <= lanes <= 16:
        raise ValueError(f"lanes must be in [1, 16], got {lanes}")
    n = 4 * lanes
    v = line[:n].astype(np.int64)                    # (n,) bytes
    lo, hi = (v & 0x0F) - 8, (v >> 4) - 8            # (n,) weights
    k, H = k0 + 4 * t, group // 2
    ax = _axes(ax, 2.4 + 0.62 * n, 4.2)
    rows = ((3.2, [f"{b:02x}" for b in v], "byte (hex)", "0.9"),
            (2.0, [str(w) for w in lo], "v & 0x0f, - 8", FP32_COLOR),
            (1.0, [str(w) for w in hi], "v >> 4, - 8", INT8_COLOR))
    for y, texts, label, color in rows:
        ax.text(-0.8, y, label, ha="right", va="center", fontsize=8)
        for i, s in enumerate(texts):
            _box(ax, i, y, s, color, w=0.9, h=0.6, fontsize=7)
    for i in range(n):
        ax.text(i, 2.45, str(k + i % 4), ha="center", va="bottom",
                fontsize=6, color="0.35")
        ax.text(i, 0.55, str(k + H + i % 4), ha="center", va="top",
                fontsize=6, color="0.35")
    for j in range(lanes):
        x0, x1 = 4 * j - 0.45, 4 * j + 3.45
        ax.plot([x0, x0, x1, x1], [3.65, 3.75, 3.75, 3.65], color="0.3",
                lw=0.8)
        ax.text((x0 + x1) / 2, 3.82, f"lane {j}: output 16b+{j}",
                ha="center", va="bottom", fontsize=7)
    ax.text(-0.8, 0.35, "input index", ha="right", va="center", fontsize=6,
            color="0.35")
    ax.set_xlim(-4.0, n)
    ax.set_ylim(0.1, 4.3)
    ax.set_axis_off()
    ax.set_title(title or f"Nibble line t = {t} of a group of {group}: "
                 f"low nibbles are inputs {k}..{k + 3}, high nibbles "
                 f"{k + H}..{k + H + 3}, of every lane's output", fontsize=9)
    return ax


def roofline(peaks: dict[str, float], bandwidths: dict[str, float],
             points: dict[str, tuple[float, float]] | None = None, ax=None,
             title=None, intensity_range=None):
    """The roofline model: attainable GOP/s = min(peak, intensity x GB/s).

    peaks: {name: GOP/s}; bandwidths: {name: GB/s}; points: {name:
    (intensity in operations per byte, measured GOP/s)}. One roof per
    (peak, bandwidth) pair: solid for the first bandwidth, dashed after.
    """
    points = points or {}
    if not peaks or not bandwidths:
        raise ValueError("need at least one peak and one bandwidth")
    vals = list(peaks.values()) + list(bandwidths.values()) + \
        [v for p in points.values() for v in p]
    if not all(np.isfinite(v) and v > 0 for v in vals):
        raise ValueError("peaks, bandwidths and points must be positive numbers")
    if intensity_range is None:
        knees = [p / bw for p in peaks.values() for bw in bandwidths.values()]
        xs = knees + [i for i, _ in points.values()]
        intensity_range = (min(xs) / 8, max(xs) * 8)
    ai = np.logspace(np.log10(intensity_range[0]), np.log10(intensity_range[1]),
                     200)
    ax = _axes(ax, 6.6, 4.2)
    for i, (pname, peak) in enumerate(peaks.items()):
        color = f"C{i}"
        for j, (bname, bw) in enumerate(bandwidths.items()):
            ax.plot(ai, np.minimum(peak, ai * bw), color=color,
                    ls="-" if j == 0 else "--", lw=1.2,
                    label=f"{pname} / {bname}")
    for k, (name, (inten, gops)) in enumerate(points.items()):
        ax.plot([inten], [gops], "o", color="k" if k == 0 else f"C{k + 3}", ms=6)
        ax.annotate(name, (inten, gops), textcoords="offset points",
                    xytext=(6, -10), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (operations per byte moved)")
    ax.set_ylabel("GOP/s")
    ax.set_title(title or "Roofline: min(peak, intensity x bandwidth)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def amdahl(shares: dict[str, float], max_speedup: float = 64.0, ax=None,
           title=None):
    """Overall speed-up ``1 / ((1 - p) + p / s)`` against the part's ``s``.

    shares: {label: p}, the fraction of the time (0 <= p < 1) spent in the
    part that gets ``s`` times faster. A dotted line marks each bound
    ``1 / (1 - p)``, reached only as ``s`` goes to infinity.
    """
    if not shares:
        raise ValueError("need at least one share")
    for label, p in shares.items():
        if not 0.0 <= p < 1.0:
            raise ValueError(f"share {label!r} = {p}: need a fraction in [0, 1)")
    if max_speedup <= 1:
        raise ValueError(f"max_speedup must exceed 1, got {max_speedup}")
    s = np.logspace(0, np.log10(max_speedup), 100)
    ax = _axes(ax, 6.0, 4.0)
    for i, (label, p) in enumerate(shares.items()):
        ax.plot(s, 1.0 / ((1.0 - p) + p / s), color=f"C{i}",
                label=f"{label} (p = {p:.1%})")
        ax.axhline(1.0 / (1.0 - p), color=f"C{i}", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up s of the part")
    ax.set_ylabel("overall speed-up")
    ax.set_title(title or "Amdahl's law: the untouched part sets the limit",
                 fontsize=9)
    ax.legend(fontsize=8)
    return ax
