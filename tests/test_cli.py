"""The command line and bad input: nothing is lost, errors name the line."""

import gzip
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


def test_non_utf8_names_the_line():
    r = run(["translate"], GERMAN[0].encode() + b"\n\xff\xfe kaputt\n")
    assert r.returncode == 1
    assert b"line 2" in r.stderr and b"UTF-8" in r.stderr
    assert r.stdout == b""  # nothing half-translated


def test_unknown_option_prints_usage():
    r = run(["translate", "--bogus"])
    assert r.returncode == 2 and b"usage:" in r.stderr


def test_missing_model_is_a_clear_error():
    r = run(["translate", "--model", "/nonexistent/model.npz"], b"Hallo\n")
    assert r.returncode == 1 and b"/nonexistent/model.npz" in r.stderr


def test_read_text_lines_crlf_and_trailing():
    assert cli.read_text_lines(b"a\r\nb\n\nc") == ["a", "b", "", "c"]
    with pytest.raises(ValueError, match="f.txt, line 3"):
        cli.read_text_lines(b"a\nb\n\x80\n", "f.txt")


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
