"""The speed sections of the ``nmt8 reproduce`` report: Tables 1, 2 and 3.

:func:`profiles` (Tables 1 and 2: share of decoding time by function,
cross-checked with cProfile) and :func:`speed` (Table 3: WPCS of every
system, the speed targets, multi-core throughput and the beam sweep), each
read from the fields of :class:`nmt8.lab.reproduce.results.Results`.

Does not: measure anything (``nmt8.lab.speed.speed``).
"""

from __future__ import annotations

from nmt8.lab.figures import paper
from nmt8.lab.report.markdown import THEIRS, grouped, num, ratio, table
from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8

PROFILES = "Tables 1 and 2: profiles before and after 8-bit conversion"
SPEED = "Table 3: running speed"


def profiles(res) -> str:
    text = (f"## {PROFILES}\n\nShare of decoding time by function, beam 5, "
            "from nmt8's instrumented timers. \"everything else (Python)\" is the "
            "total minus every timed function: the interpreter and the glue "
            "between numpy calls, which a C++ decoder does not pay. The "
            f"*Q&B 2018* columns are {THEIRS} (Tables 1 and 2).\n")
    by_workload = grouped(res.profile, "workload")
    for k, ((wname,), profs) in enumerate(by_workload.items()):
        cats = list(profs[0].share)
        theirs = paper.PROFILE_BY_CATEGORY
        rows = [(c, *(num(p.share[c]) for p in profs),
                 *(num(v, 2) for v in theirs.get(c, (None, None)))) for c in cats]
        rows.append(("total seconds", *(num(p.total_s, 2) for p in profs),
                     "", ""))
        head = ("function", *[f"{p.system.precision} %" for p in profs],
                "*Q&B 2018 32-bit %*", "*Q&B 2018 8-bit %*")
        text += (f"\n**{wname}**\n\n" + table(head, rows)
                 + f"\n![profile](profile_{k}.png)\n")
    rows = [(f"{THEIRS}: {k}", v, "") for k, v in paper.TABLE1.items()]
    rows += [(f"{THEIRS}: {k}", "", v) for k, v in paper.TABLE2.items()]
    text += ("\nThe paper's Tables 1 (32-bit) and 2 (8-bit) as printed (their "
             "tanh rows are summed in the columns above; their \"NMT decoder "
             "layer\" has no timer of ours):\n\n"
             + table(("function", "32-bit %", "8-bit %"), rows))
    if res.cross_check:
        text += (f"\nCross-check of the timers against cProfile "
                 f"({res.cross_check[0].workload}, same sentences; cProfile "
                 "charges every Python call, which moves its shares toward "
                 "\"rest\"):\n\n")
    for cc in res.cross_check:
        rows = [(r.category, num(r.timers), num(r.cprofile)) for r in cc.rows]
        text += (f"\n{cc.system.precision}:\n\n"
                 + table(("category", "timers %", "cProfile %"), rows))
    return text


def measured(t) -> str:
    """A target's measured cell: ``1.44x``, ``-0.21 BLEU``; with its
    round-by-round min/median/max and 95% interval when it has them."""
    sign = "+" if t.unit != "x" else ""
    text = f"{t.value:{sign}.2f}{t.unit}"
    if t.spread:
        text += " (rounds: " + "/".join(
            f"{t.spread[k]:.2f}" for k in ("min", "median", "max")) + ")"
    if t.interval:
        lo, hi = t.interval
        text += f" [95%: {lo:{sign}.2f} to {hi:{sign}.2f}]"
    return text


def speed(res) -> str:
    groups = grouped(res.speed, "workload", "beam")
    text = (f"## {SPEED}\n\nWords per core second (WPCS = source words / "
            f"(seconds x cores)), median of {res.settings.runs} runs, "
            "one core, one sentence at a time; all systems of one workload "
            "and beam are "
            "timed with their runs interleaved (fp32, int8, PyTorch fp32, "
            "PyTorch int8, then again in a rotated order), so machine "
            "noise reaches all of them alike.\n\n")
    rows = []
    for (wname, beam), group in groups.items():
        wpcs = {r.system: r.wpcs for r in group}
        f32, i8 = wpcs.get(NMT8_FP32), wpcs.get(NMT8_INT8)
        rows.append((f"{wname}, beam {beam}", num(f32), num(i8), ratio(i8, f32)))
    t3 = paper.TABLE3
    rows.append((f"{THEIRS}: NMT (Section 3)", t3["NMT 32-bit"], t3["NMT 8-bit"],
                 ratio(t3["NMT 8-bit"], t3["NMT 32-bit"])))
    for k in ("Phrase-based", "Syntax-based"):
        rows.append((f"{THEIRS}: {k} SMT", t3[k], "", ""))
    text += table(("system", "32-bit WPCS", "8-bit WPCS", "speed-up"), rows)

    text += "\n### Every system, one core\n\n"
    rows = []
    for r in res.speed:
        rows.append((r.workload, f"beam {r.beam}", r.system.label, num(r.wps),
                     num(r.wpcs), num(r.mean_latency_ms, 0)))
    text += (table(("workload", "beam", "system", "WPS", "WPCS",
                     "mean latency (ms/sentence)"), rows)
             + "\nPyTorch runs the same network (nn.Linear layers built from the "
             "same fused matrices; int8 is `torch.ao.quantization."
             "quantize_dynamic`, FBGEMM) inside nmt8's own beam search, one "
             "thread." + "".join(
                 f" On {c.sentences} sentences of {c.workload} its fp32 output is "
                 f"identical to nmt8 fp32's in {c.identical} (beam {c.beam})."
                 for c in res.peer_check) + "\n\n"
             + "".join(f"![speed](speed_{k}.png)\n"
                       for k in range(len(grouped(res.speed, "workload")))))
    if res.targets:
        rows = [(t.target, measured(t), "yes" if t.met else "NO")
                for t in res.targets]
        text += ("\nTargets of the issues (each row names its workload, shape or P; meant for a quiet machine):\n\n"
                 + table(("target", "measured", "met"), rows))

    text += "\n### Multi-core throughput\n\n"
    rows = []
    for t in res.throughput:
        for j in t.by_jobs:
            rows.append((t.workload, t.system.label, j.jobs, num(j.wps), num(j.wpcs),
                         num(j.efficiency, 2)))
    text += (f"One worker process per core, median of "
             f"{res.settings.throughput_runs} runs, beam 5. Efficiency = "
             "WPS(N) / (N x WPS(1)). The paper: \"total throughput is simply the "
             "product of WPCS and the number of cores\".\n\n"
             + table(("workload", "system", "workers", "total WPS", "WPCS",
                       "efficiency"), rows))
    sweep = grouped(res.beam_sweep, "system")
    rows = [(system.label, *(num(r.wpcs) for r in by))
            for (system,), by in sweep.items()]
    beams = [r.beam for r in next(iter(sweep.values()))]
    text += (f"\n### Beam size\n\nWPCS by beam size, "
             f"{res.beam_sweep[0].workload}:\n\n"
             + table(("system", *[f"beam {b}" for b in beams]), rows)
             + "\n![beam sweep](beam_sweep.png)\n")
    return text
