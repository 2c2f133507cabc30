"""The PNG figures of ``nmt8 reproduce``: profiles, speeds, beam sweep, attention.

:func:`plots` draws them from the :class:`~nmt8.lab.reproduce.results.Results` of a
run (and the translators of its quality part, for one attention map) with
the helpers of ``nmt8.lab.figures.plot``; ``report.md`` links them by name.

Does not: measure anything, or draw by itself (``nmt8.lab.figures.plot``).
"""

from __future__ import annotations

from pathlib import Path

from nmt8.lab.figures import plot
from nmt8.lab.outputs.quality import QualityRun
from nmt8.lab.reproduce.results import Results
from nmt8.lab.speed.speed import sweep_wpcs


def plots(res: Results, out_dir: Path, q: QualityRun | None = None,
          src=None) -> list[str]:
    """PNG figures of the profiles, speeds, beam sweep and one attention map."""
    written = []

    def save(ax, name):
        plot.save(ax, out_dir / name)
        written.append(name)

    for k, w in enumerate(res.workloads):
        ax = plot.figure(7.5, 4.2)
        plot.profile({p.system.precision: p.share for p in res.profile
                      if p.workload == w.name}, ax=ax,
                     title=f"Profile, beam 5: {w.name}")
        save(ax, f"profile_{k}.png")
    for k, w in enumerate(res.workloads):
        ax = plot.figure(7.5, 4.2)
        vals = {f"{r.system.label}, beam {r.beam}": r.wpcs for r in res.speed
                if r.workload == w.name}
        plot.speed(vals, ax=ax, title=f"WPCS, median of runs: {w.name}")
        save(ax, f"speed_{k}.png")
    ax = plot.figure(6.0, 4.0)
    plot.beam_sweep(sweep_wpcs(res.beam_sweep), ax=ax,
                    title=f"Beam sweep: {res.beam_sweep[0].workload}")
    save(ax, "beam_sweep.png")
    d = res.differences
    if q is not None and d is not None and d.examples:
        i = d.examples[0].index
        fig = plot.figure(11, 5).figure
        fig.clear()
        axes = fig.subplots(1, 2)
        for ax, system in zip(axes, d.systems):
            tr = q.translators[system]
            (h,) = tr.translate_ids([q.translations[system].src_ids[i]],
                                    alignment=True)[0][:1]
            src_tok = tr.src_bpe.pieces(src[i]) + ["</s>"]
            tgt_tok = [tr.tgt_bpe.id_to_piece(t) for t in h.ids]
            plot.attention(h.alignment, src_tok, tgt_tok, ax=ax,
                           title=system.variant)
        save(axes[0], "attention.png")
    return written
