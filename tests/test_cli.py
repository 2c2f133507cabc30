"""The command line and bad input: nothing is lost, errors name the line."""

import gzip
import io
import re
import subprocess
import sys

import pytest

from nmt8 import cli, data

from .conftest import GERMAN


def run(args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "nmt8.cli", *args], input=stdin,
                          check=False, capture_output=True, timeout=600)


def test_translate_keeps_empty_lines():
    text = "\n".join([GERMAN[0], "", GERMAN[1], "   ", GERMAN[2]]) + "\n"
    r = run(["translate", "--beam", "2"], text.encode())
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().split("\n")
    assert out[-1] == "" and len(out) == 6
    assert out[1] == "" and out[3] == ""
    assert all(out[i] for i in (0, 2, 4))


def test_non_utf8_stops_at_the_line_with_every_line_before_it_written():
    r = run(["translate", "--beam", "1"],
            GERMAN[0].encode() + b"\n\xff\xfe kaputt\n" + GERMAN[1].encode())
    assert r.returncode == 1
    assert b"line 2" in r.stderr and b"UTF-8" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    out = r.stdout.decode().split("\n")
    assert len(out) == 2 and out[0] and out[1] == ""  # line 1, complete


def test_batched_int8_output_equals_one_sentence_at_a_time():
    text = ("\n".join(GERMAN + ["", GERMAN[0]]) + "\n").encode()
    one = run(["translate", "--precision", "int8", "--beam", "3"], text)
    many = run(["translate", "--precision", "int8", "--beam", "3",
                "--batch-size", "3"], text)
    assert one.returncode == 0 and many.returncode == 0, many.stderr
    assert many.stdout == one.stdout
    assert len(one.stdout.decode().split("\n")) == len(GERMAN) + 3


@pytest.mark.parametrize("args", [
    ["--precision", "int16"], ["--precision", "msfp12"],
    ["--precision", "fp32", "--kernel", "auto"],
    ["--precision", "int8", "--embeddings", "fp16", "--scheme", "per-row"]])
def test_every_precision_translates(args):
    text = ("\n".join(GERMAN[:2]) + "\n").encode()
    r = run(["translate", "--beam", "2", *args], text)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().split("\n")
    assert len(out) == 3 and out[0] and out[1]


def test_help_says_msfp_is_simulated():
    p = cli.build_parser()
    text = p._subparsers._group_actions[0].choices["translate"].format_help()
    text = " ".join(text.split())
    assert "msfp16/msfp12 SIMULATED in fp32" in text
    for word in ("int16", "--embeddings", "avx512"):
        assert word in text


def test_bench_batch_is_a_command():
    r = run(["bench", "batch", "--help"])
    assert r.returncode == 0 and b"batch size" in r.stdout
    r = run(["bench", "nothing"])
    assert r.returncode == 2 and b"'kernels'" in r.stderr \
        and b"'batch'" in r.stderr


COMMANDS = (["translate"], ["evaluate"], ["demo"], ["data"], ["bench"],
            ["bench", "kernels"], ["bench", "batch"], ["reproduce"], ["train"],
            ["tune"], ["course"], ["course", "student"])


@pytest.mark.parametrize("command", [[]] + list(COMMANDS), ids=" ".join)
def test_every_help_exits_0_and_every_option_says_what_it_does(command,
                                                                 capsys):
    """One argparse tree: ``--help`` of every command exits 0, and no
    option is left without a help text."""
    import argparse

    with pytest.raises(SystemExit) as e:
        cli.main([*command, "--help"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("usage: nmt8")
    parser = cli.build_parser([*command, "--help"])
    for word in command:  # down the tree to this command's parser
        sub = next(a for a in parser._actions
                   if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    bare = [a.option_strings or [a.dest] for a in parser._actions
            if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not bare, f"options without help: {bare}"


def test_translate_help_says_it_reads_stdin(capsys):
    with pytest.raises(SystemExit):
        cli.main(["translate", "--help"])
    assert "stdin" in capsys.readouterr().out


def test_a_file_as_argument_says_how_input_is_read():
    r = run(["translate", "input.de"])
    assert r.returncode == 2 and b"--input input.de" in r.stderr \
        and b"< input.de" in r.stderr


def test_unknown_option_prints_usage():
    r = run(["translate", "--bogus"])
    assert r.returncode == 2 and b"usage:" in r.stderr


def test_missing_model_is_a_clear_error():
    r = run(["translate", "--model", "/nonexistent/model.npz"], b"Hallo\n")
    assert r.returncode == 1 and b"/nonexistent/model.npz" in r.stderr


def test_cr_only_input_keeps_its_line_count():
    r = run(["translate", "--beam", "1"], "\r".join(GERMAN).encode() + b"\r")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.decode().split("\n")) == len(GERMAN) + 1


def main_in_process(args, monkeypatch, capsys, stdin=b""):
    """cli.main(args) here, fast; (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        status = cli.main(args)
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("args,message", [
    (["--beam", "100000"], "beam must be between 1 and 64, got 100000"),
    (["--beam", "1000"], "beam must be between 1 and 64"),
    (["--beam", "2.5"], "--beam: expected an int, got '2.5'"),
    (["--beam", "0"], "beam must be between 1 and 64, got 0"),
    (["--jobs", "0"], "jobs must be >= 1, got 0"),
    (["--jobs", "-3"], "jobs must be >= 1, got -3"),
    (["--length-alpha", "nan"], "finite and >= 0, got nan"),
    (["--length-exponent", "-1"], "finite and >= 0, got -1.0"),
    (["--length-exponent", "inf"], "finite and >= 0, got inf"),
    (["--batch-size", "0"], "batch_size must be between 1 and 1024, got 0"),
    (["--batch-size", "x"], "--batch-size: expected an int, got 'x'"),
    (["--window", "0"], "window"),
])
def test_bad_numbers_are_usage_errors(monkeypatch, capsys, args, message):
    status, out, err = main_in_process(["translate", *args], monkeypatch, capsys)
    assert status == 2 and out == ""
    assert message in err and "usage:" in err


@pytest.mark.parametrize("args,message", [
    (["--kernel", "sse4"], ("unknown kernel 'sse4' for precision 'fp32'; "
                            "choices: numpy, auto, ref, avx2, avx512")),
    (["--scheme", "per_row"], ("scheme='per_row' applies to precision 'int8' "
                               "and 'int16' only, not 'fp32'")),
    (["--precision", "msfp16", "--kernel", "ref"],
     "unknown kernel 'ref' for precision 'msfp16'; choices: numpy"),
    (["--precision", "int16", "--kernel", "maddubs"],
     "unknown kernel 'maddubs' for precision 'int16'"),
    (["--precision", "int8", "--kernel", "foo"],
     ("unknown kernel 'foo' for precision 'int8'; choices: auto, ref, sse4, "
      "avx2, vnni, maddubs")),
])
def test_kernel_and_scheme_errors(monkeypatch, capsys, args, message):
    status, out, err = main_in_process(["translate", "--model", "/nonexistent",
                                        *args], monkeypatch, capsys, b"Hallo\n")
    assert status == 1 and out == ""
    assert message in err and "/nonexistent" not in err  # checked before loading


class Recorder:
    def __init__(self, **kw):
        self.kw = kw

    def translate(self, lines):
        return [f"<{line}>" for line in lines]


@pytest.mark.parametrize("args,expect", [
    ([], {}),
    (["--precision", "int8"], {"precision": "int8"}),
    (["--precision", "int8", "--kernel", "ref", "--beam", "3"],
     {"precision": "int8", "kernel": "ref", "beam": 3}),
    (["--length-alpha", "0.5"], {"length_exponent": 0.5}),  # the old name
    (["--precision", "msfp16", "--embeddings", "fp16"],
     {"precision": "msfp16", "embeddings": "fp16"}),
    (["--precision", "int16", "--scheme", "per_row"],
     {"precision": "int16", "scheme": "per_row"}),
])
def test_only_the_options_given_reach_the_translator(monkeypatch, capsys, args,
                                                     expect):
    from nmt8.serve import parallel

    made = []
    monkeypatch.setattr(parallel, "make_translator",
                        lambda **kw: made.append(kw) or Recorder(**kw))
    status, out, _ = main_in_process(["translate", *args], monkeypatch, capsys,
                                     b"a\n")
    assert status == 0 and out == "<a>\n"
    assert made == [{"model_or_models": ["de-en"], "precision": "fp32",
                     **expect}]


def test_length_alpha_is_a_hidden_alias():
    p = cli.build_parser()
    text = p._subparsers._group_actions[0].choices["translate"].format_help()
    assert "--length-exponent" in text and "--length-alpha" not in text


def test_jobs_stop_at_a_bad_line_with_the_lines_before_it(monkeypatch, capsys):
    text = "\n".join([GERMAN[0], "Hund " * 1200] + GERMAN * 10) + "\n"
    r = run(["translate", "--jobs", "2", "--beam", "1"], text.encode())
    assert r.returncode == 1
    assert b"line 2:" in r.stderr and b"limit" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout.decode().count("\n") == 1  # line 1, and nothing after


def test_demo_is_single_threaded_and_sums_up(monkeypatch, capsys):
    from threadpoolctl import threadpool_info

    from nmt8.model.model import Model

    seen, step = [], Model.step_batch

    def spying(self, *args, **kw):
        seen.append({p["num_threads"] for p in threadpool_info()
                     if p["user_api"] == "blas"})
        return step(self, *args, **kw)

    monkeypatch.setattr(Model, "step_batch", spying)
    status, out, _ = main_in_process(["demo", "--beam", "1"], monkeypatch, capsys)
    assert status == 0
    lines = out.strip().splitlines()
    # the limits named are those in force while timing: one BLAS thread
    assert lines[0].startswith("CPU: ") and "one thread (while timing: " \
        in lines[0] and "2 thread" not in lines[0]
    summaries = [x for x in lines if x.startswith("int8 is ")]
    assert len(summaries) == 2  # both shipped directions, each summed up
    for x in summaries:
        assert re.fullmatch(r"int8 is \d+\.\d\dx as fast as numpy fp32 and "
                            r"\d+\.\d\dx as fast as the C fp32 kernel; [0-4] "
                            r"of 4 int8 outputs identical to fp32's", x), x
    assert "== de-en: de -> en" in lines and "== en-de: en -> de" in lines
    # each direction reads sentences in its source language
    from nmt8.testing import DEMO_ENGLISH, DEMO_SENTENCES

    assert f"EN    {DEMO_ENGLISH[0]}" in lines and f"DE    {DEMO_SENTENCES[0]}" in lines
    assert seen and all(s == {1} for s in seen)


def test_too_long_line_is_rejected_naming_it(shipped):
    import nmt8

    tr = nmt8.Translator(shipped, beam=1)
    with pytest.raises(ValueError, match="line 2: .* limit"):
        tr.translate([GERMAN[0], "Hund " * 1200])


def test_translate_rejects_a_bare_string(shipped):
    import nmt8

    with pytest.raises(TypeError):
        nmt8.Translator(shipped, beam=1).translate(GERMAN[0])


def test_evaluate_scores_with_sacrebleu(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("a cat sits on the mat .\nthe dog runs\n")
    ref.write_text("a cat sits on the mat .\nthe dog runs fast\n")
    r = run(["evaluate", "--hyp", str(hyp), "--ref", str(ref)])
    assert r.returncode == 0, r.stderr
    assert b"BLEU" in r.stdout and b"chrF2" in r.stdout and b"nrefs:1" in r.stdout


def test_data_download_from_file_url(tmp_path):
    src = tmp_path / "mirror"
    src.mkdir()
    for split in data.SPLITS:
        for lang in ("de", "en"):
            with gzip.open(src / f"{split}.{lang}.gz", "wt", encoding="utf-8") as fh:
                fh.write("Eine Zeile.\nNoch eine.\n")
    out = tmp_path / "dl"
    r = run(["data", "download", "--out", str(out), "--url", src.as_uri()])
    assert r.returncode == 0, r.stderr
    assert data.read_lines("val", "en", out) == ["Eine Zeile.", "Noch eine."]


def test_missing_corpus_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DataMissing, match="nmt8 data download"):
        data.read_lines("val", "de", tmp_path)
