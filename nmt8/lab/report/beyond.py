"""The sections of the ``nmt8 reproduce`` report beyond the paper.

:func:`batch`: batch decoding, the paper's future work (Section 7) - WPCS
against batch size, batch invariance, Dask scaling, kernel GOP/s
against P and the kernel targets (``nmt8.lab.reproduce.targets``), read
from :class:`nmt8.lab.reproduce.batch_records.BatchDecoding`;
:func:`memory`: resident memory per precision and model, each figure's
ratio to fp32's, from the :class:`nmt8.lab.reproduce.records.MemoryUse` records.

Does not: measure anything (``nmt8.lab.speed.bulk``, ``nmt8.lab.speed.resident``).
"""

from __future__ import annotations

from nmt8.lab.report.markdown import grouped, note, num, ratio, table
from nmt8.lab.reproduce import targets as batch_targets
from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8, TORCH_FP32, TORCH_INT8

BATCH = "Batch decoding (the paper's future work)"
MEMORY = "Memory: resident set per precision"
MiB = 2**20


def batch(res) -> str:
    text = (f"## {BATCH}\n\nBeyond the paper, whose conclusion names "
            "batch decoding as future work. B sentences x 5 hypotheses are the "
            "rows of one matrix at every step (`nmt8.search.batch`; finished "
            "sentences leave the batch), so the weights stream once per step "
            "for the whole batch. The PyTorch peer batches the same sentences "
            "the way a PyTorch user does (sources padded, masks in the "
            "encoder and the attention) inside the same search, so nmt8 and "
            "PyTorch at one batch size are like for like.\n")
    b = res.batch
    if b is None:
        return text + note("Skipped (settings.batch is off).")
    text += "".join(note(f"Note: {n}") for n in b.notes)
    for (wname,), rows in grouped(b.speed, "workload").items():
        sizes = sorted({r.batch for r in rows})
        by = {(r.system, r.batch): r for r in rows}
        systems = list(dict.fromkeys(r.system for r in rows))
        first = rows[0]
        cells = [(s.label, *(_spread(by.get((s, n))) for n in sizes))
                 for s in systems]
        text += (f"\n**{wname}**: words per core second, median (min-max) of "
                 f"{len(first.runs)} interleaved runs, {first.sentences} "
                 f"sentences ({first.words} words), beam {first.beam}, one "
                 "core.\n\n"
                 + table(("system", *[f"batch {n}" for n in sizes]), cells))
        med = {k: r.wpcs_median for k, r in by.items()}
        ratios = [(s.label + " / batch 1", *(ratio(med.get((s, n)), med.get((s, 1)))
                                            for n in sizes)) for s in systems]
        for a, z in ((NMT8_INT8, TORCH_FP32), (NMT8_INT8, TORCH_INT8),
                     (NMT8_INT8, NMT8_FP32)):
            if a in systems and z in systems:
                ratios.append((f"{a.label} / {z.label}, same batch",
                               *(ratio(med.get((a, n)), med.get((z, n)))
                                 for n in sizes)))
        text += "\nRatios of the medians:\n\n" + table(
            ("", *[f"batch {n}" for n in sizes]), ratios)
    if b.invariance:
        rows = [(i.system.label, i.workload, i.sentences, i.batch,
                 i.translations_differ, i.scores_differ) for i in b.invariance]
        text += ("\n### Batch invariance\n\nOutputs at batch B that differ "
                 "from batch 1 (beam 5): another translation, or another "
                 "score in any bit. nmt8 int8 quantizes each row on its own "
                 "and sums exactly, so a sentence cannot see its neighbours; "
                 "fp32 BLAS may round rows differently for another row count; "
                 "PyTorch's dynamic int8 takes one activation scale per "
                 "product, shared by the whole batch.\n\n"
                 + table(("system", "workload", "sentences", "batch B",
                           "translations differ", "scores differ"), rows))
    d = b.dask
    if d is not None:
        rows = [(r.workers, num(r.lines_per_s_min), num(r.lines_per_s_median),
                 num(r.lines_per_s_max)) for r in d.by_workers]
        text += (f"\n### Dask on this machine\n\n`nmt8.serve.dask.translate_file` "
                 f"on a LocalCluster of single-threaded worker processes, "
                 f"{d.system.label}, {d.workload}, a generated file of "
                 f"{d.lines} lines of our own sentences, one sentence at a "
                 f"time per worker; {len(d.by_workers[0].runs)} runs after an "
                 f"untimed warm-up. This machine has {res.machine.cores} "
                 "core(s).\n\n"
                 + table(("workers", "lines/s min", "lines/s median",
                           "lines/s max"), rows)
                 + (f"\nMost workers / one worker: {d.ratio:.2f}x.\n"
                    if d.ratio is not None else ""))
    k = b.kernels
    if k is not None:
        Ps = sorted({p.P for p in k.points})
        by = {(p.method, p.P): p.gops for p in k.points}
        methods = list(dict.fromkeys(p.method for p in k.points))
        rows = [(m, *(num(by.get((m, P))) for P in Ps)) for m in methods]
        text += (f"\n### Kernels against P\n\nGOP/s of one product with the "
                 f"{k.shape[0]} x {k.shape[1]} recurrent matrix of the "
                 "paper-size model against P, the rows of X (beam x batch: "
                 "P = 5 is the paper's beam, P = 320 a batch of 64); "
                 "`nmt8.lab.kernels.bench`, one thread, weights from cache, median of "
                 "interleaved rounds.\n\n"
                 + table(("method", *[f"P={P}" for P in Ps]), rows))
        if k.blocked is None:
            text += ("\nNo naive/blocked crossover is marked: the blocked "
                     "kernel is not built yet (or this CPU cannot run it); "
                     "the int8 kernels above are the naive ones.\n")
        elif k.crossover is None:
            text += (f"\nThe blocked kernel ({k.blocked}) does not overtake "
                     f"the naive one ({k.naive}) at the P measured here.\n")
        else:
            text += (f"\nCrossover: the blocked kernel ({k.blocked}) has more "
                     f"GOP/s than the naive one ({k.naive}) from P = "
                     f"{k.crossover} on, in this run.\n")
    return text + _kernel_targets(b.kernel_shapes, b.peaks)


def _kernel_targets(shapes, peaks=None) -> str:
    """The kernel targets: GOP/s of numpy fp32, the int8 kernel and
    FBGEMM on each paper shape at each target P, with the two ratios (min /
    median / max over the interleaved rounds when recorded), and with
    ``peaks`` (``nmt8.native.peak.measure_peaks``) each int8 kernel's share
    of this core's true int8 peak."""
    rows = [r for k in shapes for r in batch_targets.kernel_rows(k)]
    if not rows:
        return ""
    # the machine's int8 peak: AMX's where the core has it, else VNNI's,
    # else the AVX2 chain's; and that of the vector instructions the
    # kernels use (as nmt8.native.peak.int8_peak, read here without
    # loading the C library)
    group = next((k for k in ("int8_amx", "int8_vnni", "int8_avx2")
                  if k in (peaks or {})), None)
    g = peaks[group]["gops"]["max"] if group else None
    vec = next((k for k in ("int8_vnni", "int8_avx2") if k in (peaks or {})),
               None) if group == "int8_amx" else None
    gv = peaks[vec]["gops"]["max"] if vec else None

    def own(r):  # the peak of the int8 kernel's own instructions
        return g if r.method == "int8-amx" else gv

    cells = [(f"{r.shape[0]} x {r.shape[1]}", r.P, r.method, num(r.numpy),
              _mmm(r.int8_spread, ".0f") if r.int8_spread else num(r.int8),
              num(r.fbgemm),
              _mmm(r.vs_numpy_spread, ".2f") if r.vs_numpy_spread
              else ratio(r.int8, r.numpy),
              _mmm(r.vs_fbgemm_spread, ".2f") if r.vs_fbgemm_spread
              else ratio(r.int8, r.fbgemm))
             + ((_share(r.int8, g), _share(r.fbgemm, g)) if g else ())
             + ((_share(r.int8, own(r)), _share(r.fbgemm, gv)) if gv else ())
             for r in rows]
    head = ("in x out", "P", "int8 kernel", "numpy fp32 GOP/s",
            "int8 GOP/s min/med/max", "FBGEMM GOP/s",
            "int8 / numpy fp32 min/med/max", "int8 / FBGEMM min/med/max") + (
        ("int8 % of true peak", "FBGEMM % of true peak") if g else ()) + (
        ("int8 % of its ISA's peak", "FBGEMM % of VNNI peak") if gv else ())
    said = ""
    if g:
        sp = peaks[group]["gops"]
        said = (f" This core's true int8 peak: {g:,.0f} GOP/s, the best "
                f"round of a register-only `{peaks[group]['kind']}` loop "
                f"(min/median/max {sp['min']:.0f}/{sp['median']:.0f}/"
                f"{sp['max']:.0f}; `nmt8.native.peak`), not nmt8's own "
                "kernels; the shares are of the median GOP/s.")
        if gv:
            said += (f" This core has AMX: the `amx` kernel uses it, FBGEMM "
                     f"and nmt8's vector kernels do not; the peak of the "
                     f"vector instructions, a register-only "
                     f"`{peaks[vec]['kind']}` loop, is {gv:,.0f} GOP/s, and "
                     "the last two columns are each kernel's share of the "
                     "peak of its own instructions (AMX's for `amx`, this "
                     "one for the others).")
    return (f"\n### Kernel targets\n\nThe targets ask, on the paper's shapes "
            f"(in, out) at P = 64 and 256, for int8 >= "
            f"{batch_targets.KERNEL_VS_NUMPY}x numpy fp32 and >= "
            f"{batch_targets.KERNEL_VS_FBGEMM}x FBGEMM (PyTorch's dynamic int8 "
            "Linear) at the same P. GOP/s, `nmt8.lab.kernels.bench`, one thread, "
            "median of interleaved rounds (min/median/max where the rounds "
            "were recorded, ratios taken round by round); the int8 kernel is "
            "the blocked one \"auto\" runs at these P (`int8-amx` where the "
            "core has AMX, else `int8-gemm`, else `int8-gemm_avx2`, else the "
            "fastest int8 kernel measured), named in each row; `-`: not "
            "measured."
            + said + "\n\n" + table(head, cells))


def _mmm(sp: dict, fmt: str) -> str:
    return "/".join(format(sp[k], fmt) for k in ("min", "median", "max"))


def _share(gops, peak) -> str:
    return "-" if gops is None else f"{100 * gops / peak:.0f}%"


def _spread(r) -> str:
    if r is None:
        return "-"
    return f"{r.wpcs_median:,.1f} ({r.wpcs_min:,.1f}-{r.wpcs_max:,.1f})"


def memory(res) -> str:
    """Resident memory by model and system, in MiB, with ratios to fp32's."""
    text = (f"## {MEMORY}\n\nBeyond the paper: the other half of 8 bits. "
            "Each system loads its model from the model's file in a fresh "
            "Python process (`nmt8.lab.speed.memory.measure`; a model without a file is "
            "saved first) and translates three sentences of random ids at "
            "beam 5. Resident sets from `/proc/self/statm`, the peak is "
            "`VmHWM`; *start* is the interpreter, numpy and nmt8 before "
            "loading, so the model's own share is loaded - start. "
            "`Model.nbytes` counts the arrays the model holds. MiB; ratios "
            "to the same model's fp32 (numpy).\n")
    if not res.memory:
        return text + note("Skipped (settings.memory is off).")
    for (model,), rows in grouped(res.memory, "model").items():
        fp32 = next((r for r in rows if r.system == NMT8_FP32), None)
        cells = []
        for r in rows:
            x = [r.loaded, r.translated, r.peak, r.own]
            base = ([fp32.loaded, fp32.translated, fp32.peak, fp32.own]
                    if fp32 else [None] * len(x))
            cells.append((r.system.label, r.embeddings,
                          *(num(v / MiB) for v in (r.nbytes, r.start, r.loaded,
                                                   r.translated, r.peak)),
                          *(ratio(a, b) for a, b in zip(x, base))))
        text += (f"\n**{model}**\n\n"
                 + table(("system", "embeddings", "Model.nbytes", "start",
                          "loaded", "after translating", "peak",
                          "loaded / fp32", "after translating / fp32",
                          "peak / fp32", "own (loaded - start) / fp32"),
                         cells))
    return text
