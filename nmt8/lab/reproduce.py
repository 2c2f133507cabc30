"""``nmt8 reproduce``: every measurement of the paper, in one report.

Runs, on this machine, the experiments behind Tables 1-9 of Quinn &
Ballesteros (2018) and writes ``report.md`` (one section per table),
``results.json`` (every figure) and PNG plots into an output folder:

1. profiles, fp32 and int8 (Tables 1 and 2), cross-checked with cProfile;
2. speed in WPS and WPCS, median of 9 runs, beam 1 and 5, one sentence at a
   time per core (Tables 3 and 6), per-sentence latency (Tables 8/9), a beam
   sweep, multi-core throughput and a PyTorch peer;
3. BLEU and chrF, fp32 vs int8 with per-tensor and per-row scales
   (Table 6), optionally a 2-model ensemble;
4. how the outputs differ (Section 5, Tables 8 and 9), and where the beam
   decisions flip (beyond the paper);
5. the paper's own numbers beside ours, labelled as theirs.

Speed is measured on two workloads: the given (trained) model on test
sentences, and a paper-size model (E=620, H=1000, 40k vocabularies) with
random weights on random source ids as long as the same test sentences,
decoding a fixed round(1.1 x length) steps: speed depends on shapes, not on
trained values. Each part is a function the notebooks call too.

Does not: tune anything on the test set (no choice is made from it), or
train models (``nmt8 train``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ..model import Model, load_model, random_model
from . import diff, measure, paper, plot

ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
             "avx512_vnni", "avx_vnni", "amx_int8")
SAMPLE_SEED = 2018  # which test sentences the speed runs use; fixed, not tuned


@dataclasses.dataclass
class Settings:
    """How much of everything to run (``quick()`` is the 3-minute version)."""

    speed_sentences: int = 15  # sentences per speed run
    runs: int = 9  # "the median of 9 runs" (Section 4.1)
    beams: tuple[int, ...] = (1, 5)
    sweep_beams: tuple[int, ...] = (1, 2, 3, 5, 8)
    sweep_sentences: int = 5
    sweep_runs: int = 3
    throughput_runs: int = 3
    jobs: int | None = None  # workers for the multi-core run (None: all cores)
    profile_sentences: int = 5
    quality_sentences: int | None = None  # None: the whole test set
    examples: int = 5  # differing sentences shown, Tables 8/9
    example_runs: int = 10  # "sentence times are average of 10 runs"
    flip_sentences: int | None = None  # None: every differing sentence
    paper_size: tuple[int, int, int, int] = (620, 1000, 40000, 40000)
    tgt_ratio: float = 1.1  # target steps per source word, random model
    peer: bool = True  # the PyTorch comparison, when torch is installed
    seed: int = 1

    @classmethod
    def quick(cls, **kw) -> Settings:
        base = {"speed_sentences": 4, "runs": 3, "sweep_beams": (1, 5),
                "sweep_sentences": 2, "sweep_runs": 1, "throughput_runs": 1,
                "profile_sentences": 2, "quality_sentences": 100, "examples": 3,
                "example_runs": 3, "flip_sentences": 20}
        return cls(**{**base, **kw})


@dataclasses.dataclass
class Workload:
    """A model and the sentences its speed is measured on."""

    name: str
    model: Model
    ref: object  # what a worker process builds the model from
    src_ids: list  # source id lists (without </s>)
    words_each: list  # source words of each sentence, what WPCS counts
    max_lens: list | None  # fixed step counts (random model) or None

    @property
    def words(self) -> int:
        return sum(self.words_each)

    def head(self, n: int) -> Workload:
        """The first n sentences."""
        return dataclasses.replace(
            self, src_ids=self.src_ids[:n], words_each=self.words_each[:n],
            max_lens=self.max_lens[:n] if self.max_lens else None)


def paper_model(emb=620, hidden=1000, src_vocab=40000, tgt_vocab=40000,
                seed=1) -> Model:
    """The paper-size model with random weights (float32), for speed only."""
    return _float32(random_model(emb, hidden, src_vocab, tgt_vocab, seed=seed))


def _float32(m: Model) -> Model:
    # random_model may hand back float64 tensors; speed is measured in fp32
    if any(a.dtype != np.float32 for a in m.params.values()):
        m.params = {k: a.astype(np.float32) for k, a in m.params.items()}
        m.prepare("fp32")
    return m


def int8_available() -> bool:
    try:
        import nmt8.quant.kernels  # noqa: F401
    except ImportError:
        return False
    return True


def precisions() -> list[str]:
    return ["fp32", "int8"] if int8_available() else ["fp32"]


def _tqdm(it, progress, **kw):
    from tqdm.auto import tqdm

    return tqdm(it, disable=not progress, leave=False, **kw)


def _translator(models, precision="fp32", beam=5, scheme="per_tensor"):
    from ..translator import Translator

    return Translator(models, precision=precision, beam=beam, scheme=scheme)


# -- machine -----------------------------------------------------------------------
def machine_info() -> dict:
    """CPU, cores, ISA flags, kernel, BLAS and library versions."""
    from .. import __version__
    from ..parallel import cores

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": cores(), "cpu_count": os.cpu_count(),
            "isa_flags": [f for f in ISA_FLAGS if f in flags],
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "nmt8": __version__,
            "loadavg_start": list(os.getloadavg())}
    fns = measure._blas_thread_functions()
    info["blas"] = "OpenBLAS (one thread)" if fns else "unknown BLAS"
    if int8_available():
        from ..quant.kernels import available_kernels, default_kernel

        info["kernels"] = available_kernels()
        info["kernel"] = default_kernel()
    for mod in ("torch", "sacrebleu", "sentencepiece", "matplotlib"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


# -- sentences -----------------------------------------------------------------------
def load_test(data=None, limit=None):
    """(German sources, English references) of test_2016_flickr, or None."""
    from ..data import DataMissing, read_lines

    try:
        src = read_lines("test_2016_flickr", "de", data, limit)
        ref = read_lines("test_2016_flickr", "en", data, limit)
    except DataMissing:
        return None
    return src, ref


def speed_sentences(test_src, n: int) -> list[str]:
    """n test sources picked with a fixed seed (our own sentences if none)."""
    if not test_src:
        from ..testing import GOLDEN_PAIRS

        own = [de for de, _ in GOLDEN_PAIRS]
        return [own[i % len(own)] for i in range(n)]
    rng = np.random.default_rng(SAMPLE_SEED)
    idx = np.sort(rng.choice(len(test_src), size=min(n, len(test_src)),
                             replace=False))
    return [test_src[i] for i in idx]


def workloads(model: Model, model_ref, lines, settings: Settings,
              translator=None) -> list[Workload]:
    """The trained model on ``lines`` and the paper-size model on the same
    lengths (random ids, one per source word)."""
    words = [measure.count_words(line) for line in lines]
    out = []
    tr = translator or _translator(model)
    if tr.src_bpe is not None:
        out.append(Workload(model_label(model), model, model_ref,
                            tr.encode(lines), words, None))
    E, H, Vs, Vt = settings.paper_size
    ref = functools.partial(paper_model, E, H, Vs, Vt, settings.seed)
    big = ref()
    rng = np.random.default_rng(settings.seed)
    words = [max(w, 1) for w in words]
    src = [rng.integers(2, Vs, size=w).tolist() for w in words]
    steps = [max(1, round(settings.tgt_ratio * w)) for w in words]
    out.append(Workload(f"paper size E={E} H={H} V={Vs} (random)",
                        big, ref, src, words, steps))
    return out


def model_label(model: Model) -> str:
    c = model.cfg
    name = Path(model.path).parent.name if model.path else "model"
    kind = "random" if model.random else "trained"
    return f"{name} E={c.dim_word} H={c.dim} ({kind})"


# -- 1. profiles -------------------------------------------------------------------
def profiles(loads, settings: Settings, progress=True) -> dict:
    """Tables 1/2 for every workload and precision, beam 5, plus one
    cross-check of the timers against cProfile (paper-size model)."""
    out = {}
    todo = [(w.head(settings.profile_sentences), p) for w in loads
            for p in precisions()]
    for w, prec in _tqdm(todo, progress, desc="profiles"):
        tr = _translator(w.model, prec, beam=5)
        out.setdefault(w.name, {})[prec] = measure.profile(tr, w.src_ids,
                                                           w.max_lens)
    w = loads[-1].head(settings.profile_sentences)
    check = {prec: measure.cross_check(_translator(w.model, prec, beam=5),
                                       w.src_ids, w.max_lens)
             for prec in precisions()}
    return {"by_workload": out, "cross_check": {"workload": w.name, **check}}


# -- 2. speed -------------------------------------------------------------------------
def speeds(loads, settings: Settings, progress=True) -> dict:
    """WPS, WPCS and latency, median of ``runs``, each workload x beam x
    system (nmt8 fp32/int8, PyTorch fp32/int8); the systems of one workload
    and beam are timed with their runs interleaved (``measure.speeds``)."""
    out = {}
    peer = settings.peer and _has_torch()
    for w in loads:
        for beam in settings.beams:
            systems = [(f"nmt8 {p}", p) for p in precisions()]
            if peer:
                systems += [("PyTorch fp32", "torch-fp32"),
                            ("PyTorch int8", "torch-int8")]
            res = measure.speeds({label: _system(w.model, prec, beam)
                                  for label, prec in systems},
                                 w.src_ids, w.words, settings.runs, w.max_lens,
                                 progress=progress,
                                 desc=f"{w.name} beam {beam}")
            for r in res.values():
                r.pop("latency_s")
            out.setdefault(w.name, {})[f"beam {beam}"] = res
    return out


def peer_check(w: Workload, n: int = 2, beam: int = 5) -> dict:
    """Do PyTorch fp32 and nmt8 fp32 give the same outputs on n sentences?"""
    w = w.head(n)
    ours = _system(w.model, "fp32", beam)
    theirs = _system(w.model, "torch-fp32", beam)
    same = 0
    for ids, ml in zip(w.src_ids, w.max_lens or [None] * len(w.src_ids)):
        same += ours.translate_ids([ids], ml) == theirs.translate_ids([ids], ml)
    return {"sentences": len(w.src_ids), "identical": same, "beam": beam}


def beam_sweep(w: Workload, settings: Settings, progress=True) -> dict:
    """WPCS against beam size, nmt8 fp32 and int8."""
    out = {}
    w = w.head(settings.sweep_sentences)
    for prec in precisions():
        for beam in settings.sweep_beams:
            r = measure.speed(_translator(w.model, prec, beam), w.src_ids,
                              w.words, settings.sweep_runs, w.max_lens,
                              progress=progress,
                              desc=f"sweep {prec} beam {beam}")
            out.setdefault(f"nmt8 {prec}", {})[beam] = r["wpcs"]
    return {"workload": w.name, "wpcs": out}


def throughputs(loads, settings: Settings, progress=True) -> dict:
    """Total WPS with 1 and N worker processes (one per core), beam 5."""
    from ..parallel import cores

    n = settings.jobs or cores()
    jobs = (1, n) if n > 1 else (1,)
    out = {}
    for w in loads:
        for prec in precisions():
            kw = {"model_or_models": w.ref, "precision": prec, "beam": 5}
            out.setdefault(w.name, {})[f"nmt8 {prec}"] = measure.throughput(
                kw, w.src_ids, w.words, jobs, settings.throughput_runs,
                w.max_lens, progress=progress)
    return out


def _system(model, precision: str, beam: int):
    """An nmt8 Translator, or the PyTorch peer for "torch-fp32"/"torch-int8"."""
    if precision.startswith("torch-"):
        from .peer import PeerTranslator

        return PeerTranslator(model, precision == "torch-int8", beam)
    return _translator(model, precision, beam)


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# -- 3. quality --------------------------------------------------------------------------
def translate_all(tr, src_lines, progress=True, desc="translate"):
    """Ids, text and per-sentence seconds of every line, one at a time."""
    ids = tr.encode(src_lines)
    out_ids, text, secs = [], [], []
    for s in _tqdm(ids, progress, desc=desc):
        (o,) = tr.translate_ids([s])
        out_ids.append(o)
        text.append(tr.tgt_bpe.decode(o))
        secs.append(tr.last_seconds[0])
    return {"src_ids": ids, "ids": out_ids, "text": text, "seconds": secs}


def quality(model: Model, src, refs, ensemble: Model | None = None,
            progress=True) -> dict:
    """BLEU/chrF of fp32 and int8 (per-tensor, per-row), beam 5, and of a
    2-model ensemble when given; identical outputs against fp32."""
    systems = {"fp32": (model, "fp32", "per_tensor")}
    if int8_available():
        systems["int8 per-tensor"] = (model, "int8", "per_tensor")
        systems["int8 per-row"] = (model, "int8", "per_row")
    if ensemble is not None:
        systems["2x fp32"] = ([model, ensemble], "fp32", "per_tensor")
        if int8_available():
            systems["2x int8 per-tensor"] = ([model, ensemble], "int8",
                                             "per_tensor")
    words = sum(measure.count_words(s) for s in src)
    out, trs = {}, {}
    for name, (m, prec, scheme) in systems.items():
        trs[name] = tr = _translator(m, prec, 5, scheme)
        with measure.single_threaded():
            res = translate_all(tr, src, progress, desc=name)
        res.update(measure.quality(res["text"], refs))
        res["wpcs_one_run"] = measure.wpcs(words, sum(res["seconds"]))
        base = "2x fp32" if name.startswith("2x") else "fp32"
        res["identical_to_fp32"] = measure.identical(res["text"], out[base]["text"]) \
            if base in out else len(src)
        out[name] = res
    return {"sentences": len(src), "words": words, "systems": out,
            "translators": trs}


# -- 4. differences ----------------------------------------------------------------------
def differences(q: dict, src, settings: Settings, a="fp32",
                b="int8 per-tensor", progress=True) -> dict:
    """Tables 8/9: identical count, bold-diff examples with times, and the
    step and score margin where the beams part."""
    if b not in q["systems"]:
        return {"skipped": "int8 kernels not available"}
    A, B = q["systems"][a], q["systems"][b]
    tra, trb = q["translators"][a], q["translators"][b]
    differ = [i for i, (x, y) in enumerate(zip(A["ids"], B["ids"])) if x != y]
    n166 = min(paper.IDENTICAL["sentences"], len(src))
    out = {"systems": [a, b], "sentences": len(src),
           "identical": len(src) - len(differ),
           "identical_first_166": n166 - sum(i < n166 for i in differ)}
    flips = {}
    todo = differ if settings.flip_sentences is None else \
        differ[: settings.flip_sentences]
    for i in _tqdm(todo, progress, desc="flips"):
        flips[i] = diff.flip(tra, trb, A["src_ids"][i], A["ids"][i],
                             B["ids"][i], names=(a, b))
    out["flip_summary"] = diff.summarize_flips(list(flips.values()))
    out["flip_sentences"] = len(todo)
    examples = []
    for i in _tqdm(differ[: settings.examples], progress, desc="examples"):
        ta, tb = diff.word_diff(A["text"][i], B["text"][i])
        times = {}
        with measure.single_threaded():
            for name, tr in ((a, tra), (b, trb)):
                secs = []
                for _ in range(settings.example_runs):
                    tr.translate_ids([A["src_ids"][i]])
                    secs.append(tr.last_seconds[0])
                times[name] = 1000 * float(np.mean(secs))
        f = flips.get(i) or diff.flip(tra, trb, A["src_ids"][i], A["ids"][i],
                                      B["ids"][i], names=(a, b))
        examples.append({"index": i, "source": src[i], a: A["text"][i],
                         b: B["text"][i], "marked": {a: ta, b: tb},
                         "time_ms": times, "flip": f.to_dict(),
                         "explain": f.explain(tra.tgt_bpe)})
    out["examples"] = examples
    return out


# -- plots ------------------------------------------------------------------------------
def plots(results: dict, out_dir: Path, q=None, src=None) -> list[str]:
    """PNG figures of the profiles, speeds, beam sweep and one attention map."""
    written = []

    def save(ax, name):
        plot.save(ax, out_dir / name)
        written.append(name)

    prof = results["profile"]["by_workload"]
    for k, (wname, by_prec) in enumerate(prof.items()):
        ax = plot.figure(7.5, 4.2)
        plot.profile({p: r["share"] for p, r in by_prec.items()}, ax=ax,
                     title=f"Profile, beam 5: {wname}")
        save(ax, f"profile_{k}.png")
    for k, (wname, by_beam) in enumerate(results["speed"].items()):
        ax = plot.figure(7.5, 4.2)
        vals = {f"{s}, {bm}": r["wpcs"] for bm, systems in by_beam.items()
                for s, r in systems.items()}
        plot.speed(vals, ax=ax, title=f"WPCS, median of runs: {wname}")
        save(ax, f"speed_{k}.png")
    sw = results["beam_sweep"]
    ax = plot.figure(6.0, 4.0)
    plot.beam_sweep(sw["wpcs"], ax=ax, title=f"Beam sweep: {sw['workload']}")
    save(ax, "beam_sweep.png")
    d = results.get("differences", {})
    if q is not None and d.get("examples"):
        i = d["examples"][0]["index"]
        fig = plot.figure(11, 5).figure
        fig.clear()
        axes = fig.subplots(1, 2)
        for ax, name in zip(axes, d["systems"]):
            tr = q["translators"][name]
            (h,) = tr.translate_ids([q["systems"][name]["src_ids"][i]],
                                    alignment=True)[0][:1]
            src_tok = tr.src_bpe.pieces(src[i]) + ["</s>"]
            tgt_tok = [tr.tgt_bpe.id_to_piece(t) for t in h.ids]
            plot.attention(h.alignment, src_tok, tgt_tok, ax=ax, title=name)
        save(axes[0], "attention.png")
    return written


def write_report(res: dict, out_dir: Path) -> str:
    """Render ``res`` as markdown into out_dir/report.md."""
    from .report import render

    text = render(res)
    (Path(out_dir) / "report.md").write_text(text, encoding="utf-8")
    return text


# -- everything ---------------------------------------------------------------------------
def reproduce(out_dir, quick: bool = False, data=None, model="de-en",
              progress: bool = True, ensemble=None,
              settings: Settings | None = None, command: str | None = None
              ) -> dict:
    """Run every part and write report.md, results.json and PNGs to out_dir.

    model: a shipped name, a path or a Model (with BPE models beside it).
    data: the Multi30k folder (default ``$NMT8_DATA``); without it the
    quality and difference parts are skipped with a note, and speed runs on
    our own example sentences. Returns the results (also in results.json).
    """
    with measure.single_threaded():  # one core per sentence, as measured
        return _reproduce(out_dir, quick, data, model, progress, ensemble,
                          settings, command)


def _reproduce(out_dir, quick, data, model, progress, ensemble, settings,
               command) -> dict:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = settings or (Settings.quick() if quick else Settings())
    m = model if isinstance(model, Model) else load_model(model)
    ref = model if not isinstance(model, Model) else m
    ens = None
    if ensemble is not None:
        ens = ensemble if isinstance(ensemble, Model) else load_model(ensemble)
    res = {"command": command or _call_repr(out_dir, quick, data, model, ensemble),
           "quick": quick, "settings": dataclasses.asdict(settings),
           "machine": machine_info(), "notes": [], "seconds": {},
           "model": {"label": model_label(m), **dataclasses.asdict(m.cfg)},
           "ensemble": model_label(ens) if ens is not None else None,
           "paper": paper.as_dict()}
    if not int8_available():
        res["notes"].append("nmt8's int8 kernels are not compiled: int8 parts "
                            "were skipped (run `pip install -e .`).")
    if settings.peer and not _has_torch():
        res["notes"].append("PyTorch is not installed: no PyTorch peer.")
    test = load_test(data, settings.quality_sentences)
    if test is None:
        res["notes"].append("Multi30k not found (set NMT8_DATA or --data): "
                            "quality and output differences were skipped; "
                            "speed runs on our own example sentences.")
    res["data"] = _data_stats(data, test)

    def part(name, fn):
        t0 = time.perf_counter()
        if progress:
            print(f"[nmt8 reproduce] {name} ...", file=sys.stderr, flush=True)
        r = fn()
        res["seconds"][name] = time.perf_counter() - t0
        return r

    tr0 = _translator(m)
    lines = speed_sentences(test[0] if test else None, settings.speed_sentences)
    loads = part("workloads", lambda: workloads(m, ref, lines, settings, tr0))
    res["workloads"] = [{"name": w.name, "sentences": len(w.src_ids),
                         "words": w.words, "paper_size": w is loads[-1],
                         "steps": sum(w.max_lens) if w.max_lens else None}
                        for w in loads]
    res["profile"] = part("profile", lambda: profiles(loads, settings, progress))
    res["speed"] = part("speed", lambda: speeds(loads, settings, progress))
    if settings.peer and _has_torch():
        res["peer_check"] = part("peer check",
                                 lambda: {w.name: peer_check(w) for w in loads})
    res["beam_sweep"] = part("beam sweep",
                             lambda: beam_sweep(loads[-1], settings, progress))
    res["throughput"] = part("throughput",
                             lambda: throughputs(loads, settings, progress))
    q = None
    if test is not None and tr0.src_bpe is not None:
        src, refs = test
        q = part("quality", lambda: quality(m, src, refs, ens, progress))
        res["quality"] = {k: v for k, v in q.items() if k != "translators"}
        res["quality"]["systems"] = {
            k: {f: v[f] for f in v if f not in ("src_ids", "ids", "seconds")}
            for k, v in q["systems"].items()}
        res["differences"] = part("differences", lambda: differences(
            q, src, settings, progress=progress))
    res["targets"] = targets(res)
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["plots"] = part("plots", lambda: plots(res, out_dir, q,
                                               test[0] if test else None))
    res["seconds"]["total"] = time.perf_counter() - t_start
    (out_dir / "results.json").write_text(
        json.dumps(res, indent=1, default=_json_default) + "\n", encoding="utf-8")
    write_report(res, out_dir)
    return res


def targets(res: dict) -> list[dict]:
    """The issue's speed targets, checked on the paper-size workload."""
    out = []
    big = list(res["speed"])[-1]
    by_beam = res["speed"][big]
    for beam, need in (("beam 5", 5.0), ("beam 1", 3.5)):
        s = by_beam.get(beam, {})
        if "nmt8 int8" in s and "nmt8 fp32" in s:
            r = s["nmt8 int8"]["wpcs"] / s["nmt8 fp32"]["wpcs"]
            out.append({"target": f"int8/fp32 WPCS >= {need}x, {beam}",
                        "value": r, "met": r >= need})
        if "nmt8 int8" in s and "PyTorch int8" in s:
            r = s["nmt8 int8"]["wpcs"] / s["PyTorch int8"]["wpcs"]
            out.append({"target": f"nmt8 int8 / PyTorch int8 WPCS >= 1.2x, {beam}",
                        "value": r, "met": r >= 1.2})
    return out


# -- small stand-ins, for tests and notebooks without the corpus or a trained model
def toy_model(folder, pairs=None, vocab_size: int = 60, emb: int = 8,
              hidden: int = 8, seed: int = 0) -> Model:
    """A tiny random model that reads and writes text.

    Trains two small BPE models on ``pairs`` (German, English; default: our own
    ``nmt8.testing.GOLDEN_PAIRS``) into ``folder`` and returns a random model
    with matching vocabularies whose ``path`` points there. Its translations
    are nonsense; every code path runs.
    """
    from ..testing import GOLDEN_PAIRS
    from ..text import train_bpe

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = list(pairs or GOLDEN_PAIRS)
    src = train_bpe([p[0] for p in pairs], folder / "bpe.de", vocab_size)
    tgt = train_bpe([p[1] for p in pairs], folder / "bpe.en", vocab_size)
    m = _float32(random_model(emb, hidden, len(src), len(tgt), seed=seed))
    m.cfg.bpe_models = ["bpe.de.model", "bpe.en.model"]
    m.path = folder / "model.npz"
    return m


def write_multi30k(folder, pairs, splits=("val", "test_2016_flickr")) -> Path:
    """Write sentence pairs in the Multi30k layout (``split.lang.gz``)."""
    import gzip

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        for k, lang in enumerate(("de", "en")):
            with gzip.open(folder / f"{split}.{lang}.gz", "wt",
                           encoding="utf-8") as fh:
                fh.writelines(p[k] + "\n" for p in pairs)
    return folder


def _data_stats(data, test) -> dict:
    from ..data import data_dir

    if test is None:
        return {"found": False}
    src, ref = test
    return {"found": True, "dir": str(data_dir(data)), "split": "test_2016_flickr",
            "sentences": len(src),
            "src_len": float(np.mean([measure.count_words(s) for s in src])),
            "tgt_len": float(np.mean([measure.count_words(s) for s in ref]))}


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _call_repr(out_dir, quick, data, model, ensemble) -> str:
    """How reproduce() was called from Python (Models shown by their label)."""
    def show(x):
        return f"<{model_label(x)}>" if isinstance(x, Model) else repr(str(x))

    args = [repr(str(out_dir)), f"quick={quick}"]
    args += [f"data={show(data)}"] if data else []
    args += [f"model={show(model)}"]
    args += [f"ensemble={show(ensemble)}"] if ensemble is not None else []
    return f"nmt8.lab.reproduce.reproduce({', '.join(args)})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="nmt8 reproduce",
        description="Measure Tables 1-9 of Quinn & Ballesteros (2018) on this "
                    "machine; write report.md, results.json and PNGs.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true",
                   help="fewer sentences and runs (about 3 minutes)")
    p.add_argument("--data", default=None,
                   help="Multi30k folder (default: $NMT8_DATA)")
    p.add_argument("--model", default="de-en", help="model name or path")
    p.add_argument("--ensemble", default=None,
                   help="a second model: adds the 2-model ensemble to Table 6")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the multi-core run (default: cores)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    settings = Settings.quick(jobs=a.jobs) if a.quick else Settings(jobs=a.jobs)
    try:
        res = reproduce(a.out, a.quick, a.data, a.model, not a.no_progress,
                        a.ensemble, settings,
                        command="nmt8 reproduce " + " ".join(argv))
    except (FileNotFoundError, ValueError) as err:
        print(f"nmt8 reproduce: {err}", file=sys.stderr)
        return 2
    print(f"wrote {Path(a.out) / 'report.md'} ({res['seconds']['total']:.0f} s)")
    return 0


if __name__ == "__main__":  # python -m nmt8.lab.reproduce --out DIR [--quick]
    sys.exit(main())
