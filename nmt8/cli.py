"""The ``nmt8`` command line: translate, evaluate, demo, bench, reproduce, tune,
train, data.

Every subcommand is a thin argparse layer over a library function, so what
the CLI does a notebook can do too.

Does not: implement any of the work itself.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import signal
import sys
import time

# Everything else is imported when the command line is parsed, inside
# main()'s handler of Ctrl-C: a Ctrl-C while Python imports numpy and the
# model prints no traceback.


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after every option's help, except where
    the help already says what the default is (in words: "every kernel
    this CPU runs", "$NMT8_DATA")."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text:
            return text
        return super()._get_help_string(action)


def _checked(check, kind=int):
    """An argparse type: ``kind(text)`` then the library's own check, so the
    CLI and the library reject the same values with the same words."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an int' if kind is int else 'a number'}, "
                f"got {text!r}") from None
        try:
            return check(value)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def _translator_args(p: argparse.ArgumentParser) -> None:
    from nmt8.model.embedding import EMBEDDINGS
    from nmt8.model.precision import DEFAULT_GROUP, GROUP_SCHEMES, PRECISIONS
    from nmt8.search.sentence import MAX_BEAM, check_beam, check_length_exponent

    p.add_argument("--model", action="append", default=None,
                   help="model name or path; repeat for an ensemble (default: de-en)")
    p.add_argument("--beam", type=_checked(check_beam), default=None,
                   help=f"beam size, 1 to {MAX_BEAM} (default 5)")
    p.add_argument("--precision", choices=list(PRECISIONS), default="fp32",
                   help="fp32 (default), int16, int8, int4 (4-bit weights, "
                        "int8 activations), or block floating point "
                        "msfp16/msfp12 SIMULATED in fp32 (quality only, no "
                        "speed claim)")
    p.add_argument("--kernel", default=None,
                   help="fp32: numpy (default), auto, ref, avx2, avx512; "
                        "int16: auto (default), ref, sse4, avx2, vnni; int8: "
                        "auto (default), ref, sse4, avx2, vnni, maddubs; "
                        "int4: auto (default), ref, avx2, vnni; msfp: numpy")
    p.add_argument("--scheme", default=None,
                   choices=["per_tensor", "per-tensor", "per_row", "per-row",
                            *GROUP_SCHEMES],
                   help="int8 and int16: how weights are quantized (default "
                        "per_tensor); int4: the group size, "
                        f"{' or '.join(GROUP_SCHEMES)} (default "
                        f"{DEFAULT_GROUP})")
    p.add_argument("--embeddings", default=None, choices=list(EMBEDDINGS),
                   help="how the embedding tables are stored (default: fp32; "
                        "fp16 for int16; int8 rows for int8 and int4)")
    exponent = _checked(check_length_exponent, float)
    p.add_argument("--length-exponent", type=exponent, default=None,
                   help="length normalisation exponent, finite and >= 0 "
                        "(default: the model's)")
    p.add_argument("--length-alpha", dest="length_exponent", type=exponent,
                   help=argparse.SUPPRESS)  # the old name, kept working


def _translator_kwargs(a) -> dict:
    """Translator arguments the user gave (the library's defaults otherwise),
    the precision's settings checked (``nmt8.model.model.check_options``)."""
    from nmt8.model.model import check_options

    check_options(a.precision, *(getattr(a, k) or "default"
                                 for k in ("kernel", "scheme", "embeddings")))
    kw = {"model_or_models": a.model or ["de-en"], "precision": a.precision}
    for k in ("beam", "kernel", "scheme", "embeddings", "length_exponent"):
        if getattr(a, k) is not None:
            kw[k] = getattr(a, k)
    return kw


def _translator(a):
    from nmt8.serve.parallel import make_translator

    return make_translator(**_translator_kwargs(a))


def read_file_lines(path: str) -> list[str]:
    """The lines of a file, as ``nmt8.serve.lines.read_lines`` splits them."""
    from nmt8.serve.lines import read_lines

    with open(path, "rb") as fh:
        return [text for _, text in read_lines(fh, path)]


def cmd_translate(a) -> int:
    """Stream the input to the output window by window
    (``nmt8.serve.stream``): memory stays bounded, every finished window is
    written before a signal or a bad line stops the run (the run stops AT a
    bad line, naming it, with every line before it written); with
    ``--output FILE --resume`` a run goes on where an interrupted one
    stopped."""
    import warnings

    from nmt8.model.params import check_model
    from nmt8.serve.parallel import TranslatorFactory, check_jobs
    from nmt8.serve.stream import run
    from nmt8.serve.translator import check_models
    from nmt8.serve.windows import DEFAULT_WINDOW

    if a.resume and not a.output:
        raise ValueError("--resume continues an --output FILE: give one")
    kw = _translator_kwargs(a)  # checked before reading input and the model
    # a bad model file, or models that cannot make an ensemble: one error,
    # before any input is read or output written, before any worker
    check_models([(m, *check_model(m)) for m in kw["model_or_models"]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jobs = check_jobs(a.jobs)  # capped at the cores
    for w in caught:
        print(f"nmt8 translate: warning: {w.message}", file=sys.stderr)
    driver = None
    if a.dask:
        from nmt8.serve import dask as nmt8_dask

        driver = functools.partial(nmt8_dask.translate_file, scheduler=a.dask)
    window = a.window
    if window is None and a.batch_size:
        window = max(DEFAULT_WINDOW, 16 * a.batch_size)  # room for a maxi-batch
    with _files(a) as (in_file, out_file, skip, resume):
        return run(TranslatorFactory(kw, a.batch_size), jobs=jobs,
                   driver=driver, window=window, progress=a.progress,
                   in_file=in_file, out_file=out_file, skip=skip,
                   resume=resume)


class _files:
    """``(in_file, out_file, lines already in out_file, the command that
    resumes)`` for ``--input``/``--output``/``--resume`` (None: stdin,
    stdout), the files closed at the end."""

    def __init__(self, a):
        self.a, self.opened = a, []

    def __enter__(self):
        try:
            return self._enter()
        except BaseException:
            self.__exit__()
            raise

    def _enter(self):
        from nmt8.serve.stream import resume_output

        a = self.a
        if a.output and _same_file(a.input, a.output):
            raise ValueError(f"the input and --output are the same file, "
                             f"{a.output}: it would be cut before it is read")
        in_file = self._open(a.input, "rb", "read") if a.input else None
        skip, resume = 0, None
        if a.output:
            skip = resume_output(a.output) if a.resume else 0
            out_file = self._open(a.output, "ab" if a.resume else "wb", "write")
            if os.path.isfile(a.output):  # not a device: --resume goes on
                resume = _resume_command(a)
        else:
            out_file = None
        return in_file, out_file, skip, resume

    def _open(self, path, mode, what):
        try:
            fh = open(path, mode)  # noqa: SIM115 - closed in __exit__
        except OSError as err:
            raise ValueError(f"cannot {what} {path}: {err.strerror or err}") \
                from None
        self.opened.append(fh)
        return fh

    def __exit__(self, *exc):
        for fh in self.opened:
            try:
                fh.close()
            except OSError:  # what could not be written was reported
                pass


def _same_file(src, out) -> bool:
    """Whether the output ``out`` is the input (``src``; None: stdin)."""
    try:
        o = os.stat(out)
        i = os.stat(src) if src else os.fstat(0)
    except (OSError, ValueError):
        return False
    return (o.st_dev, o.st_ino) == (i.st_dev, i.st_ino)


def _resume_command(a) -> str:
    """The command line that goes on where this one stops."""
    words = ["nmt8", *a.argv]
    if "--resume" not in words:
        words.append("--resume")
    command = shlex.join(words)
    if not a.input:  # the same input again, on stdin
        try:
            path = os.readlink("/proc/self/fd/0")
        except OSError:
            path = ""
        command += f" < {shlex.quote(path) if os.path.isfile(path) else 'INPUT'}"
    return command


def cmd_evaluate(a) -> int:
    import sacrebleu

    from nmt8 import data

    if a.split:
        src = data.read_lines(a.split, a.src_lang, a.data)
        ref = data.read_lines(a.split, a.tgt_lang, a.data)
    else:
        if not (a.src or a.hyp) or not a.ref:
            raise ValueError("give --split, or --ref with --src or --hyp")
        ref = read_file_lines(a.ref)
        src = read_file_lines(a.src) if a.src else None
    if a.hyp:
        hyp = read_file_lines(a.hyp)
    else:
        tr = _translator(a)
        t0 = time.perf_counter()
        hyp = tr.translate(src)
        print(f"translated {len(src)} sentences in {time.perf_counter() - t0:.1f} s "
              f"with {tr}", file=sys.stderr)
    if len(hyp) != len(ref):
        raise ValueError(f"{len(hyp)} hypotheses but {len(ref)} references")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    b, c = bleu.corpus_score(hyp, [ref]), chrf.corpus_score(hyp, [ref])
    print(f"{b}\n  {bleu.get_signature()}\n{c}\n  {chrf.get_signature()}")
    if a.out:
        try:
            with open(a.out, "w", encoding="utf-8") as fh:
                fh.writelines(h + "\n" for h in hyp)
        except OSError as err:
            raise ValueError(f"cannot write {a.out}: {err.strerror or err}") \
                from None
    return 0


def cmd_demo(a) -> int:
    """fp32 and int8 side by side on our own sentences (``nmt8.demo``)."""
    from nmt8.demo import demo

    return demo(a.model or None, a.beam)


def cmd_data(a) -> int:
    from nmt8 import data

    if a.action == "download":
        for f in data.download(a.out, base_url=a.url):
            print(f)
    else:  # check
        for split in data.SPLITS:
            for lang in (a.src_lang, a.tgt_lang):
                n = len(data.read_lines(split, lang, a.data))
                print(f"{data.corpus_file(split, lang, a.data)}: {n} lines")
    return 0


def build_parser(argv=()) -> argparse.ArgumentParser:
    """The whole ``nmt8`` command tree; ``argv`` says which lab command
    needs its module imported for its options."""
    ap = argparse.ArgumentParser(
        prog="nmt8", description="8-bit CPU decoding for attentional GRU NMT "
        "(Quinn & Ballesteros 2018).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    from nmt8.search.batch import check_batch_size
    from nmt8.serve.threads import check_threads
    from nmt8.serve.windows import DEFAULT_WINDOW, MAX_WINDOW, check_window

    p = sub.add_parser(
        "translate", help="translate stdin to stdout, line by line",
        description="Translate the lines of stdin (or --input FILE) and write "
                    "them to stdout (or --output FILE), in order: `nmt8 "
                    "translate < input.de > output.en`. Memory stays bounded "
                    "whatever the input's size. An interrupted run into "
                    "--output FILE goes on with --resume.",
        formatter_class=_DefaultsFormatter)
    _translator_args(p)
    p.add_argument("--input", metavar="FILE", default=None,
                   help="read this file instead of stdin")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="write this file (replaced) instead of stdout")
    p.add_argument("--resume", action="store_true",
                   help="go on with the --output FILE of an interrupted run: "
                        "keep its complete lines and translate the input "
                        "lines after them")
    p.add_argument("--jobs", type=_checked(functools.partial(
                       check_threads, what="jobs")), default=1,
                   help="worker processes, one per core, at most the cores "
                        "(default 1)")
    p.add_argument("--batch-size", type=_checked(check_batch_size), default=None,
                   help="sentences decoded at once (default 1, the paper's "
                        "setting; int8 output is identical at any batch size)")
    p.add_argument("--window", type=_checked(check_window), default=None,
                   help="lines read, translated and written together, at "
                        f"most {MAX_WINDOW} (default {DEFAULT_WINDOW}, or 16 x "
                        "batch size; 1 on a terminal)")
    p.add_argument("--dask", metavar="SCHEDULER", default=None,
                   help="translate on a Dask cluster: tcp://host:8786, or "
                        "'local' (needs the [dask] extra)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   default=None, help="progress bar on stderr (default: when "
                                      "stderr is a terminal)")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("evaluate", help="BLEU and chrF (sacrebleu) of a system",
                       formatter_class=_DefaultsFormatter)
    _translator_args(p)
    p.add_argument("--split", help="a Multi30k split, e.g. test_2016_flickr")
    p.add_argument("--data", help="Multi30k folder (default $NMT8_DATA)")
    p.add_argument("--src-lang", default="de", help="source language")
    p.add_argument("--tgt-lang", default="en", help="target language")
    p.add_argument("--src", help="source file (one sentence per line)")
    p.add_argument("--ref", help="reference file")
    p.add_argument("--hyp", help="score these hypotheses instead of translating")
    p.add_argument("--out", help="write the hypotheses here")
    p.set_defaults(func=cmd_evaluate)

    from nmt8.search.sentence import MAX_BEAM, check_beam

    p = sub.add_parser("demo", help="translate a few sentences, fp32 and int8",
                       formatter_class=_DefaultsFormatter)
    p.add_argument("--model", action="append", default=None,
                   help="a model name or path (repeat for an ensemble); "
                        "default: de-en, then en-de")
    p.add_argument("--beam", type=_checked(check_beam), default=5,
                   help=f"beam size, 1 to {MAX_BEAM} (default 5)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("data", help="download or check the Multi30k corpus",
                       formatter_class=_DefaultsFormatter)
    p.add_argument("action", choices=["download", "check"],
                   help="download the corpus, or check the one you have")
    p.add_argument("--out", default="data/multi30k", help="download folder")
    p.add_argument("--url", default=None, help="base URL (default: GitHub)")
    p.add_argument("--data", help="corpus folder to check (default $NMT8_DATA)")
    p.add_argument("--src-lang", default="de", help="source language")
    p.add_argument("--tgt-lang", default="en", help="target language")
    p.set_defaults(func=cmd_data)

    groups = {}  # "bench" -> its subparsers: commands of two words
    for name, help_, module in _LAB_COMMANDS:
        *group, leaf = name.split()
        where = sub
        if group:
            if group[0] not in groups:
                g = sub.add_parser(group[0], help=_GROUPS[group[0]],
                                   description=_GROUPS[group[0]])
                groups[group[0]] = g.add_subparsers(dest=group[0],
                                                    required=True)
            where = groups[group[0]]
        _lab_command(where, name, leaf, help_, module, argv)
    return ap


# subcommands whose code lives above the CLI's own imports: their module is
# imported only when the command line names them, so `nmt8 translate`
# starts without the lab or PyTorch
_LAB_COMMANDS = (
    ("bench kernels", "time the kernels against numpy, C fp32 and FBGEMM",
     "nmt8.lab.kernels.bench"),
    ("bench batch", "words per core second against batch size",
     "nmt8.lab.speed.bulk"),
    ("bench amp", "time training steps, fp32 against bf16/fp16 autocast",
     "nmt8.train.amp"),
    ("reproduce", "regenerate the paper's tables on this machine",
     "nmt8.lab.reproduce.run"),
    ("tune", "measure the kernels' run-time parameters, cache them per CPU",
     "nmt8.lab.kernels.tune"),
    ("train", "train a model (needs the [train] extra)", "nmt8.train.loop"),
    ("course student", ("write the learner's copy of the course: exercises "
                        "without their solutions"), "nmt8.course.student"),
)
_GROUPS = {
    "bench": ("benchmarks: `nmt8 bench kernels`, `nmt8 bench batch`, "
              "`nmt8 bench amp`"),
    "course": "the course: `nmt8 course student DIR`",
}


def _lab_command(sub, name: str, leaf: str, help_: str, module: str,
                 argv) -> None:
    """The subcommand ``name`` (its last word ``leaf`` under ``sub``) of a
    lab, course or train module: its ``add_arguments`` and ``run``,
    imported only when ``argv`` names it."""
    words = [w for w in argv if not w.startswith("-")]
    p = sub.add_parser(leaf, help=help_, description=help_,
                       formatter_class=_DefaultsFormatter)
    if words[:len(name.split())] == name.split():
        import importlib

        mod = importlib.import_module(module)
        p.description = getattr(mod, "DESCRIPTION", help_)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before a command handles it: while starting
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one: quiet
        print("nmt8: interrupted (SIGINT)", file=sys.stderr)
        return 130


def _main(argv) -> int:
    ap = build_parser(argv)
    a, extra = ap.parse_known_args(argv)
    if extra:
        if getattr(a, "cmd", "") == "translate" and not extra[0].startswith("-"):
            # the one mistake a newcomer makes first: a file as an argument
            ap.error(f"unrecognized arguments: {' '.join(extra)}; nmt8 "
                     f"translate reads stdin, or a file with --input: "
                     f"`nmt8 translate --input {extra[0]}` or "
                     f"`nmt8 translate < {extra[0]}`")
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    a.argv = argv
    if getattr(a, "url", None) is None and getattr(a, "cmd", "") == "data":
        from nmt8.data import BASE_URL

        a.url = BASE_URL
    try:
        return a.func(a) or 0
    except (ValueError, FileNotFoundError) as err:
        print(f"nmt8 {a.cmd}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
