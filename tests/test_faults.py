"""The bulk path under faults and the last hostile inputs: each case prints
one clear line or recovers, never a traceback, a hang or unbounded memory.

Dead workers (``--jobs``), the cap on workers, ensembles that cannot
translate together, BPE vocabularies of the wrong size, write errors and
closed standard streams, Ctrl-C while starting, special files as a model, a
model too big for memory, ``out`` aliasing the bias, pickled models, float
ids. The Nematus options are in test_config.py, resuming in test_resume.py,
the pool itself in test_pool.py.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

import nmt8
from nmt8 import cli
from nmt8.model.params import param_shapes
from nmt8.serve import pool as pool_module
from nmt8.serve import stream
from nmt8.serve.windows import translate_stream_parallel
from nmt8.testing import PAIRS, toy_model

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def nmt8_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "nmt8.cli", *args]


def corpus(n: int) -> str:
    """n lines of our own German sentences, empty lines among them."""
    german = [de for de, _ in PAIRS] + [""]
    return "".join(german[i % len(german)] + "\n" for i in range(n))


def children(parent: int) -> list[int]:
    """The worker processes of ``parent`` (spawned; not its resource
    tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in cmd:
            found.append(int(stat.parent.name))
    return found


def wait_for(predicate, timeout=120.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("waited in vain")


@pytest.fixture(scope="module")
def expected(toy_dir):
    """``expect(text)``: what one process writes for ``text`` (beam 2)."""
    tr = nmt8.Translator(str(toy_dir), beam=2)

    def expect(text: str) -> bytes:
        lines = text.splitlines()
        return "".join(o + "\n" for o in tr.translate(lines)).encode()
    return expect


# -- 1. a dead --jobs worker ---------------------------------------------------------
class DieOnce:
    """``make_translate`` for ``line.upper()``, whose worker kills itself
    with SIGKILL on line ``at`` the first time (``marker`` then exists),
    or every time (``marker=None``)."""

    def __init__(self, at: str, marker: str | None):
        self.at, self.marker = at, marker

    def __call__(self):
        def translate(lines):
            if self.at in lines and (self.marker is None
                                     or not os.path.exists(self.marker)):
                if self.marker is not None:
                    Path(self.marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return [line.upper() for line in lines]
        return translate


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_whole(tmp_path):
    text = "".join(f"satz {i}\n" for i in range(1, 201))
    out = io.StringIO()
    n = translate_stream_parallel(
        DieOnce("satz 77", str(tmp_path / "died")),
        stream.read_lines(io.BytesIO(text.encode())), out, jobs=2, window=8,
        progress=False)
    assert (tmp_path / "died").exists()  # it did die
    assert n == 200 and out.getvalue() == text.upper()


def test_a_window_whose_workers_keep_dying_stops_with_one_line(capsys):
    text = "".join(f"satz {i}\n" for i in range(1, 41)).encode()
    out = io.BytesIO()
    status = stream.run(DieOnce("satz 17", None), jobs=2, window=4,
                        in_file=io.BytesIO(text), out_file=out, progress=False)
    assert status == 1
    assert out.getvalue().decode() == "".join(f"SATZ {i}\n" for i in range(1, 17))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("nmt8 translate: error: worker process ")
    assert "was killed by SIGKILL" in err[0]
    assert "lines 17-20" in err[0] and err[0].endswith("; 16 lines written")


def test_the_command_survives_a_real_kill_9_of_a_worker(tmp_path, toy_dir,
                                                        expected):
    """`kill -9` of one worker of `nmt8 translate --jobs 2`, mid-run: the run
    goes on, and writes what one process writes."""
    text = corpus(300)
    src, out = tmp_path / "in.de", tmp_path / "out.en"
    src.write_text(text, encoding="utf-8")
    with src.open("rb") as fin, out.open("wb") as fout:
        proc = subprocess.Popen(nmt8_cmd("translate", "--model", str(toy_dir),
                                         "--beam", "2", "--jobs", "2",
                                         "--window", "4"),
                                stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                                cwd=ROOT, env=ENV)
    try:
        wait_for(lambda: out.stat().st_size > 0 and len(children(proc.pid)) == 2)
        assert proc.poll() is None  # mid-run
        victim = children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert err == b""
    assert out.read_bytes() == expected(text)


# -- 2. --jobs is capped, and workers start as windows need them --------------------
def test_jobs_1000_on_one_line_starts_one_worker(monkeypatch, capsys, toy_dir):
    started = []
    start = pool_module.Pool._start

    def counting(self):
        started.append(1)
        return start(self)

    monkeypatch.setattr(pool_module.Pool, "_start", counting)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Ein Hund.\n")))
    status = cli.main(["translate", "--model", str(toy_dir), "--beam", "1",
                       "--jobs", "1000"])
    out, err = capsys.readouterr()
    assert status == 0 and out.count("\n") == 1
    n = os.sched_getaffinity(0)
    assert err.splitlines() == [
        (f"nmt8 translate: warning: jobs=1000 is more than the {len(n)} core(s) "
        f"this process may run on: using {len(n)}")]
    assert len(started) == 1


def test_a_window_holds_a_bounded_number_of_characters(monkeypatch):
    from nmt8.serve import windows

    monkeypatch.setattr(windows, "MAX_WINDOW_CHARS", 10)
    lines = list(enumerate(["abcd", "efgh", "ijkl", "m", "n"], 1))
    blocks = [len(b) for b, _ in windows.numbered_windows(iter(lines), 64)]
    assert blocks == [3, 2]  # the third line reaches 10 characters


# -- 3. ensembles that cannot translate together ------------------------------------
def test_an_ensemble_of_opposite_directions_is_refused_naming_both():
    with pytest.raises(ValueError, match=r"same languages: de-en translates "
                                         r"de -> en, en-de en -> de"):
        nmt8.Translator(["de-en", "en-de"])
    r = subprocess.run(nmt8_cmd("translate", "--model", "de-en", "--model",
                                "en-de"), input=b"Ein Hund.\n",
                       capture_output=True, cwd=ROOT, env=ENV, timeout=300,
                       check=False)
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.decode().splitlines() == [
        ("nmt8 translate: error: ensemble members must translate between the "
        "same languages: de-en translates de -> en, en-de en -> de")]


def test_an_ensemble_with_other_bpe_models_is_refused(tmp_path, toy):
    # same languages, same sizes, BPE models learnt from other sentences
    other = toy_model(tmp_path / "other", pairs=PAIRS[12:17], seed=3)
    if (len(other.Wemb.table), len(other.Wemb_dec.table)) != \
            (len(toy.Wemb.table), len(toy.Wemb_dec.table)):
        pytest.skip("the BPE models came out of other sizes")
    with pytest.raises(ValueError, match=r"share their BPE models: the source "
                                         r"side of .* is .*bpe\.de\.model"):
        nmt8.Translator([toy, other])


def test_an_ensemble_of_one_direction_still_loads():
    from nmt8.model.params import check_model
    from nmt8.serve.translator import check_models

    src, tgt = check_models([(m, *check_model(m))
                             for m in ("en-de", "en-de-seed2")])
    assert len(src) == 8000 and len(tgt) == 8000


# -- 5. write errors and closed standard streams -------------------------------------
class FullDisk(io.RawIOBase):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    name = "out.en"

    def __init__(self, room: int):
        self.room, self.data = room, b""

    def writable(self):
        return True

    def write(self, b):
        if len(self.data) + len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.data += bytes(b)
        return len(b)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_disk_is_one_line_with_the_lines_written(capsys, jobs):
    from tests.test_stream import Upper

    text = "".join(f"satz {i}\n" for i in range(1, 101)).encode()
    disk = FullDisk(room=len(b"SATZ 1\n") * 9)  # 9 lines fit, not 3 windows
    status = stream.run(Upper(), jobs=jobs, window=4, in_file=io.BytesIO(text),
                        out_file=disk, progress=False)
    assert status == 1
    assert disk.data == b"".join(f"SATZ {i}\n".encode() for i in range(1, 9))
    assert capsys.readouterr().err.splitlines() == [
        ("nmt8 translate: error: cannot write out.en: No space left on device; "
        "8 lines written")]


@pytest.mark.parametrize("shell, message", [
    (">/dev/full", ("cannot write <stdout>: No space left on device; 0 lines "
                   "written")),
    (">&-", "stdout is closed: give the output with --output FILE or > FILE"),
    ("<&-", "stdin is closed: give the input with --input FILE or < FILE"),
    ("--output /dev/full", ("cannot write /dev/full: No space left on device; "
                           "0 lines written")),
])
def test_write_errors_and_closed_streams_are_one_line(tmp_path, toy_dir, shell,
                                                      message):
    src = tmp_path / "in.de"
    src.write_text(corpus(5), encoding="utf-8")
    stdin = "" if "<" in shell else f"< {src}"
    cmd = (f"exec {sys.executable} -m nmt8.cli translate --model {toy_dir} "
           f"--beam 1 {shell} {stdin}")
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, cwd=ROOT,
                       env=ENV, timeout=300, check=False)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [f"nmt8 translate: error: {message}"]


# -- 6. a BPE vocabulary of another size than the embeddings --------------------------
def test_a_bpe_vocabulary_of_another_size_is_refused_at_load(tmp_path, toy_dir):
    folder = tmp_path / "model"
    folder.mkdir()
    for f in toy_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    raw = json.loads((folder / "model.npz.json").read_text())
    raw["n_words_src"] += 5
    (folder / "model.npz.json").write_text(json.dumps(raw))
    with np.load(toy_dir / "model.npz") as z:
        params = dict(z)
    params["Wemb"] = np.zeros((raw["n_words_src"], raw["dim_word"]), np.float32)
    np.savez(folder / "model.npz", **params)
    n, m = raw["n_words_src"] - 5, raw["n_words_src"]
    want = (rf"bpe\.de\.model holds {n} subword units, but the model's source "
            rf"embeddings \(n_words_src in model\.npz\.json\) have {m} rows")
    with pytest.raises(ValueError, match=want):
        nmt8.Translator(str(folder))
    r = subprocess.run(nmt8_cmd("translate", "--model", str(folder)),
                       input=b"Ein Hund.\n", capture_output=True, cwd=ROOT,
                       env=ENV, timeout=300, check=False)
    assert r.returncode == 1 and r.stdout == b""
    assert len(r.stderr.splitlines()) == 1 and b"have %d rows" % m in r.stderr


# -- 7. Ctrl-C while the command starts ------------------------------------------------
_INTERRUPTED_IMPORT = """\
import os, signal, sys
if __name__ == "__main__":
    WHEN = sys.argv[1]
    class Hook:  # SIGINT to this process when WHEN starts to be imported
        def find_spec(self, name, path=None, target=None):
            if name == WHEN:
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
    sys.meta_path.insert(0, Hook())
    sys.argv = ["nmt8", *sys.argv[2:]]
    from nmt8.cli import main  # as the `nmt8` script does
    sys.exit(main())
"""


@pytest.mark.parametrize("module", ["numpy", "sentencepiece",
                                    "nmt8.serve.translator", "nmt8.serve.pool"])
def test_ctrl_c_while_starting_prints_no_traceback(tmp_path, toy_dir, module):
    script = tmp_path / "nmt8_script.py"
    script.write_text(_INTERRUPTED_IMPORT)
    r = subprocess.run([sys.executable, str(script), module, "translate",
                        "--model", str(toy_dir), "--jobs", "2"],
                       input=b"Ein Hund.\n", capture_output=True, cwd=ROOT,
                       env=ENV, timeout=300, check=False)
    assert r.returncode == 130
    assert r.stderr.decode().splitlines() == ["nmt8: interrupted (SIGINT)"]


# -- 8. special files as a model ----------------------------------------------------------
@pytest.mark.parametrize("which", ["model.npz", "model.npz.json"])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_special_file_as_a_model_is_refused_without_reading_it(tmp_path,
                                                                 toy_dir,
                                                                 which, kind):
    folder = tmp_path / "model"
    folder.mkdir()
    for f in toy_dir.iterdir():
        if f.name != which:
            (folder / f.name).write_bytes(f.read_bytes())
    if kind == "fifo":
        os.mkfifo(folder / which)  # opening it to read would wait forever
    else:
        (folder / which).symlink_to(kind)  # reading it would never end
    r = subprocess.run(nmt8_cmd("translate", "--model", str(folder)),
                       input=b"Ein Hund.\n", capture_output=True, cwd=ROOT,
                       env=ENV, timeout=120, check=False)
    assert r.returncode == 1 and r.stdout == b""
    (line,) = r.stderr.decode().splitlines()
    what = "a FIFO" if kind == "fifo" else "a device"
    assert f"{which} is {what}, not a regular file" in line


# -- 10. a model whose declared sizes do not fit in memory ---------------------------------
def test_a_model_too_big_for_memory_is_one_line(tmp_path):
    """Every header agrees with the options, and the sizes are those of a
    model of several TiB: one ValueError, not a MemoryError."""
    E, H, V = 1 << 18, 1 << 18, 4
    cfg = nmt8.ModelConfig(dim_word=E, dim=H, n_words_src=V, n_words=V)
    folder = tmp_path / "huge"
    folder.mkdir()
    cfg.to_json(folder / "model.npz.json")
    with zipfile.ZipFile(folder / "model.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, shape in param_shapes(cfg).items():
            head = io.BytesIO()
            npy.write_array_header_1_0(head, {"descr": "<f4", "fortran_order":
                                              False, "shape": shape})
            header = head.getvalue()  # magic string and header
            info = zipfile.ZipInfo(name + ".npy")
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, header)  # the header alone: no data
            # ... yet the directory says the data is there
            zf.getinfo(name + ".npy").file_size = len(header) + 4 * int(
                np.prod(shape))
    with pytest.raises(ValueError, match=r"not enough memory to load this "
                                         r"model: .* GiB as float32"):
        nmt8.load_model(folder)
    r = subprocess.run(nmt8_cmd("translate", "--model", str(folder)),
                       input=b"Ein Hund.\n", capture_output=True, cwd=ROOT,
                       env=ENV, timeout=300, check=False)
    assert r.returncode == 1
    (line,) = r.stderr.decode().splitlines()
    assert "not enough memory to load this model" in line


# -- 9. out aliasing the bias ---------------------------------------------------------------
def _operands(rng, K=24, N=16, P=3):
    W = rng.standard_normal((K, N)).astype(np.float32)  # (in, out)
    X = rng.standard_normal((P, K)).astype(np.float32)  # (P, in)
    out = np.zeros((P, N), np.float32)  # (P, out)
    out[0] = rng.standard_normal(N)  # the bias lives in out's first row
    return W, X, out


def _product(which, W):
    if which == "int8":
        from nmt8.native.kernels import int8_matmul
        from nmt8.quant.int8 import quantize

        q = quantize(W)
        return lambda X, **kw: int8_matmul(q, X, kernel="ref", **kw)
    if which == "int8_q":
        from nmt8.native.kernels import int8_matmul_q
        from nmt8.quant.int8 import quantize, quantize_activations

        q = quantize(W)

        def product(X, **kw):
            Xq, step = quantize_activations(X)
            return int8_matmul_q(q, Xq, step, kernel="ref", **kw)
        return product
    if which == "fp32":
        from nmt8.native.fp32 import fp32_matmul, pack_fp32

        p = pack_fp32(W)
        return lambda X, **kw: fp32_matmul(p, X, kernel="ref", **kw)
    from nmt8.native.int16 import int16_matmul
    from nmt8.quant.int16 import quantize16

    q = quantize16(W)
    return lambda X, **kw: int16_matmul(q, X, kernel="ref", **kw)


@pytest.mark.parametrize("which", ["int8", "int8_q", "fp32", "int16"])
def test_out_aliasing_the_bias_gives_the_product_with_that_bias(rng, which):
    W, X, out = _operands(rng)
    product = _product(which, W)
    bias = out[0]  # a view of out: the kernel writes where it reads
    want = product(X, bias=bias.copy())
    got = product(X, bias=bias, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)
    # a bias overlapping two rows of out, through a strided view
    W, X, out = _operands(rng)
    product = _product(which, W)
    flat = out.reshape(-1)
    bias = flat[8:8 + out.shape[1]]
    want = product(X, bias=bias.copy())
    np.testing.assert_array_equal(product(X, bias=bias, out=out), want)


# -- 11. a pickled model holds each buffer once -----------------------------------------------
@pytest.mark.parametrize("precision,kernel", [("fp32", "numpy"), ("fp32", "auto"),
                                              ("int16", "auto")])
def test_a_pickled_model_is_not_bigger_than_the_model(precision, kernel):
    m = nmt8.load_model("de-en", precision, kernel)
    data = pickle.dumps(m)
    assert len(data) < 1.01 * m.nbytes()  # was 1.72 x for fp32
    m2 = pickle.loads(data)
    assert m2.nbytes() == m.nbytes()
    assert m2.params.held() == m.params.held()  # the views are back ...
    assert np.shares_memory(m2.params["encoder_b"], m2.b["enc_x"])  # ... views
    if precision == "fp32":
        w = m2.W["enc_x"]
        base = w if isinstance(w, np.ndarray) else w.q.WT
        assert np.shares_memory(m2.params["encoder_W"], base)
    for k in m.params:  # every float32 tensor answers as before
        np.testing.assert_array_equal(m2.params[k], m.params[k])


def test_a_pickled_copy_of_an_in_memory_model_shares_its_source():
    m = nmt8.random_model(16, 24, 50, 40, seed=1)
    q = m.copy("int8")
    data = pickle.dumps(q)
    # the int8 model and the float32 source it keeps, each once
    assert len(data) < 1.05 * (m.nbytes() + q.nbytes())
    q2 = pickle.loads(data)
    np.testing.assert_array_equal(q2.params["decoder_Wc"], m.params["decoder_Wc"])
    src = [0, 3, 5]
    assert nmt8.Translator(q2, "int8", beam=2).translate_ids([src]) == \
        nmt8.Translator(q, "int8", beam=2).translate_ids([src])


# -- 12. ids must be integers -----------------------------------------------------------------
@pytest.mark.parametrize("ids,error,words", [
    ([3.0, 5.0], TypeError, "sentence 2: ids must be integers, got float 3.0"),
    (np.array([3.0, 5.7]), TypeError, "1-D array of integers, got 1-D float64"),
    ([3, True], TypeError, "got bool True"),
    (["3"], TypeError, "got str '3'"),
    ("34", TypeError, "expected a sequence of ids, got str"),
    ([3, 10_000], ValueError, "id 10000 is outside the source vocabulary"),
    ([-1], ValueError, "id -1 is outside"),
])
def test_translate_ids_refuses_what_is_not_an_id(tiny, ids, error, words):
    tr = nmt8.Translator(tiny, beam=1)
    with pytest.raises(error, match=re.escape(words)):
        tr.translate_ids([[3, 4], ids], max_len=2)


def test_integer_ids_of_any_kind_are_ids(tiny):
    tr = nmt8.Translator(tiny, beam=1)
    want = tr.translate_ids([[3, 4, 5]], max_len=3)
    assert tr.translate_ids([np.array([3, 4, 5], np.int32)], max_len=3) == want
    assert tr.translate_ids([(np.int64(3), 4, np.uint8(5))], max_len=3) == want
    assert tr.translate_ids([[]]) == [[]]
