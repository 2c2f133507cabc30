"""nmt8.native.tuning: the decoding stream's parameters are checked, set
and read back, resolved per CPU (the tune cache, else the built-in family
default, else generic), and a bad cache is ignored with a warning.  That
every setting gives the same bits is tests/test_kernels.py's
test_every_stream_setting_is_exact."""

import json
import os

import pytest

from nmt8 import cli
from nmt8.native import tuning

ZEN4 = {"vendor": "AuthenticAMD", "family": "25", "model": "17",
        "name": "AMD EPYC 9R14"}
ICX = {"vendor": "GenuineIntel", "family": "6", "model": "106",
       "name": "Intel(R) Xeon(R) Platinum 8375C"}
OTHER = {"vendor": "GenuineIntel", "family": "6", "model": "85",
         "name": "Intel(R) Xeon(R) Gold 6148"}


@pytest.fixture
def restore():
    before = tuning.stream()
    yield
    tuning.set_all(before)


def test_set_and_read_back(restore):
    for s in tuning.STREAMS:
        tuning.set_stream(s, 4096)
        tuning.set_ladder_prefetch(64 * s)
        assert tuning.stream() == {"streams": s, "prefetch_bytes": 4096,
                                   "ladder_prefetch_bytes": 64 * s}
    with pytest.raises(ValueError):
        tuning.set_ladder_prefetch(100)


@pytest.mark.parametrize("streams, prefetch", [
    (3, 0), (0, 0), (16, 0), (4, -64), (4, 100), (4, tuning.MAX_PREFETCH + 64),
    (4.0, 0), (4, "2048"), (True, 0)])
def test_bad_settings_raise_and_change_nothing(restore, streams, prefetch):
    before = tuning.stream()
    with pytest.raises(ValueError):
        tuning.set_stream(streams, prefetch)
    assert tuning.stream() == before


def test_cpu_id_and_family():
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"
            "model\t\t: 17\nmodel name\t: AMD EPYC 9R14\n\nprocessor\t: 1\n"
            "vendor_id\t: GenuineIntel\n")
    cpu = tuning.cpu_id(text)
    assert cpu == {**ZEN4, "flags": ""}
    assert tuning.cpu_family(cpu) == "zen4"
    assert tuning.cpu_family(ICX) == "icelake"
    # a KVM guest that masks the model: known by its flags
    spr = {**ICX, "model": "167", "flags": "fpu avx512f amx_int8 avx512_fp16"}
    assert tuning.cpu_family(spr) == "sapphirerapids"
    assert tuning.cpu_family({**spr, "flags": "fpu avx512f"}) is None
    assert tuning.cpu_family({**ICX, "model": "143"}) == "sapphirerapids"
    assert tuning.cpu_family(OTHER) is None
    assert tuning.cpu_family({"vendor": "", "family": "", "model": ""}) is None


def test_resolve_prefers_the_cache_then_the_family():
    b = tuning.BUILTIN
    assert tuning.resolve(ZEN4, {}) == {
        "streams": b["zen4"]["streams"],
        "prefetch_bytes": b["zen4"]["prefetch_bytes"],
        "ladder_prefetch_bytes": b["zen4"]["ladder_prefetch_bytes"],
        "source": "built-in zen4"}
    assert tuning.resolve(ICX, {})["source"] == "built-in icelake"
    assert tuning.resolve(OTHER, {}) == {**tuning.GENERIC, "source": "generic"}
    mine = {"streams": 8, "prefetch_bytes": 1024, "ladder_prefetch_bytes": 0}
    cache = {tuning.cpu_key(OTHER): {**mine, "ladder_P": [1, 5]}}
    assert tuning.resolve(OTHER, cache) == {**mine,
                                            "source": "nmt8 tune cache"}
    # an older nmt8 tune judged the ladder at P = 1 alone: its streams
    # stand, its ladder prefetch gives way to the built-in (or generic) one
    cache = {tuning.cpu_key(OTHER): mine}
    got = tuning.resolve(OTHER, cache)
    assert got["streams"] == 8 and got["prefetch_bytes"] == 1024
    assert got["ladder_prefetch_bytes"] == tuning.GENERIC[
        "ladder_prefetch_bytes"]
    assert got["source"].startswith("nmt8 tune cache (ladder prefetch: "
                                    "generic") and "rerun nmt8 tune" in \
        got["source"]
    # a cached choice that cannot be used falls back
    cache = {tuning.cpu_key(OTHER): {"streams": 3, "prefetch_bytes": 1024}}
    assert tuning.resolve(OTHER, cache)["source"] == "generic"


def test_cache_round_trip_and_bad_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NMT8_CACHE", str(tmp_path))
    assert tuning.cache_path() == str(tmp_path / "tune.json")
    assert tuning.read_cache() == {}
    tuning.write_cache({"streams": 2, "prefetch_bytes": 512,
                        "ladder_prefetch_bytes": 0}, OTHER)
    tuning.write_cache({"streams": 8, "prefetch_bytes": 0,
                        "ladder_prefetch_bytes": 4096}, ICX)
    got = json.loads((tmp_path / "tune.json").read_text())
    assert got[tuning.cpu_key(OTHER)]["streams"] == 2
    assert tuning.resolve(ICX)["streams"] == 8
    (tmp_path / "tune.json").write_text("{not json")
    with pytest.warns(UserWarning, match="ignoring the tune cache"):
        assert tuning.read_cache() == {}
    (tmp_path / "tune.json").write_text("[1, 2]")
    with pytest.warns(UserWarning, match="not a JSON object"):
        assert tuning.read_cache() == {}


def test_apply_auto_sets_what_resolve_picks(restore, tmp_path, monkeypatch):
    monkeypatch.setenv("NMT8_CACHE", str(tmp_path))
    mine = {"streams": 2, "prefetch_bytes": 1024, "ladder_prefetch_bytes": 128}
    tuning.write_cache({**mine, "ladder_P": list(tuning.LADDER_P)})
    assert tuning.apply_auto()["source"] == "nmt8 tune cache"
    assert tuning.stream() == mine


def test_tune_command_caches_its_choice(tmp_path, monkeypatch, capsys,
                                       restore):
    from nmt8.native.kernels import available_kernels

    monkeypatch.setenv("NMT8_CACHE", str(tmp_path))
    from nmt8.lab.kernels import tune

    monkeypatch.setattr(tune, "SHAPES", [(64, 48), (40, 100)])
    monkeypatch.setattr(tune, "STREAM_BYTES", 1e5)
    rc = cli.main(["tune", "--quick", "--rounds", "1", "--no-read", "--json"])
    if "vnni" not in available_kernels():
        assert rc == 1 and "VNNI" in capsys.readouterr().err
        return
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    s, p = out["best"]
    assert out["choice"]["streams"] == s and out["cache"]
    assert tuning.read_cache()[tuning.cpu_key(tuning.cpu_id())][
        "prefetch_bytes"] == p
    assert len(out["rows"]) == 2 * len(out["score"])
    assert out["ladder"]["best"] in (0, 16384)
    assert out["choice"]["ladder_P"] == list(tuning.LADDER_P)
    # the ladder is judged at P = 1 and at the paper's beam of 5
    assert {r["P"] for r in out["ladder"]["rows"]} == {1, 5}
    assert len(out["ladder"]["rows"]) == 2 * 2 * 2  # shapes x P x tries
    assert tuning.resolve()["ladder_prefetch_bytes"] == out["ladder"]["best"]


@pytest.mark.parametrize("module", ["fp32", "int16", "kernels"])
def test_the_first_kernel_module_imported_sets_the_parameters(module, tmp_path):
    """Was: importing nmt8.native.fp32 alone left the fp32 ladder at the
    library's compiled-in default, not this CPU's choice."""
    import subprocess
    import sys

    code = (f"import nmt8.native.{module}, sys\n"
            "from nmt8.native.clib import ffi, lib\n"
            "s = ffi.new('int *'); p = ffi.new('int64_t *')\n"
            "lib.nmt8_get_stream(s, p)\n"
            "print(s[0], p[0], lib.nmt8_get_ladder_prefetch())\n"
            "from nmt8.native import tuning\n"
            "c = tuning.resolve()\n"
            "print(c['streams'], c['prefetch_bytes'], "
            "c['ladder_prefetch_bytes'])\n")
    env = {**os.environ, "NMT8_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                         capture_output=True, check=True).stdout.split("\n")
    assert out[0] == out[1]
