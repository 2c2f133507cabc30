"""Model files: the Nematus names, and a reader that checks before it reads.

Hostile or broken ``model.npz`` files (a bare ``.npy``, a header declaring
2^34 elements, a zip bomb, object arrays, NaN) must each give one ValueError
naming the file and the tensor, without allocating what the file claims.
"""

import io
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from numpy.lib import format as npy

import nmt8
from nmt8.model.params import check_model, param_groups, param_shapes, read_params

from .test_config import nematus_options


@pytest.fixture(scope="module")
def small():
    m = nmt8.random_model(4, 6, 10, 12, seed=0)
    rng = np.random.default_rng(1)  # non-zero biases, so a mix-up would show
    params = {k: (v + rng.standard_normal(v.shape).astype(np.float32))
              for k, v in m.params.items()}
    return m.cfg, params


def _write(tmp_path, cfg, params, **extra):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    cfg.to_json(d / "model.npz.json")
    np.savez(d / "model.npz", **params, **extra)
    return d


def _header(shape, descr="<f4", fortran=False) -> bytes:
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran,
                                     "shape": shape})
    return buf.getvalue()


def _replace_member(d, name, raw: bytes):
    """Rewrite model.npz with member ``name`` holding the bytes ``raw``."""
    with np.load(d / "model.npz") as f:
        arrays = {k: f[k] for k in f.files if k != name}
    with zipfile.ZipFile(d / "model.npz", "w") as zf:
        for k, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            zf.writestr(k + ".npy", buf.getvalue())
        zf.writestr(name + ".npy", raw)


# -- names and shapes ---------------------------------------------------------------
def test_groups_cover_every_parameter_once(small):
    cfg, _ = small
    groups = param_groups(cfg)
    names = [n for g in groups.values() for n in g]
    assert len(names) == len(set(names)) == len(param_shapes(cfg))
    assert set(groups["encoder"]) == {f"{p}_{w}" for p in ("encoder", "encoder_r")
                                      for w in ("W", "b", "U", "Wx", "bx", "Ux")}
    assert groups["attention"]["decoder_U_att"] == (2 * cfg.dim, 1)  # v, eq. (6)


def test_param_order_is_fixed(small):
    """random_model draws in this order: reordering would change every model."""
    cfg, _ = small
    names = list(param_shapes(cfg))
    assert names[:4] == ["Wemb", "Wemb_dec", "ff_state_W", "ff_state_b"]
    assert names[4:16:6] == ["encoder_W", "encoder_r_W"]
    assert names[16:23] == ["decoder_W", "decoder_b", "decoder_U", "decoder_Wx",
                            "decoder_bx", "decoder_Ux", "decoder_U_nl"]
    assert names[28:33] == ["decoder_W_comb_att", "decoder_Wc_att",
                            "decoder_b_att", "decoder_U_att", "decoder_c_tt"]
    assert names[-2:] == ["ff_logit_W", "ff_logit_b"]


def test_old_import_paths_still_work():
    from nmt8.model.params import MODELS_DIR
    from nmt8.model.params import param_shapes as old

    assert old is param_shapes
    assert (MODELS_DIR / "de-en" / "model.npz").exists()


# -- a real Nematus training output loads ----------------------------------------
def test_nematus_model_with_training_extras_loads(tmp_path, small):
    """Nematus's own options and the extra members its training writes."""
    import json

    cfg, params = small
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.npz.json").write_text(json.dumps(nematus_options(cfg)))
    extras = {"uidx": np.array(123456), "history_errs": np.array([61.2, 58.9]),
              "adam_Wemb_m": np.zeros((3,)),  # optimizer state, any name
              "zipped_params": np.array([{"not": "a tensor"}], dtype=object)}
    np.savez(d / "model.npz", **params, **extras)
    m = nmt8.load_model(d)
    assert set(m.params) == set(params)
    for k in params:
        np.testing.assert_array_equal(m.params[k], params[k])
    ref = nmt8.model.model.Model(cfg, params)
    enc_a, enc_b = m.encode([3, 4, 0]), ref.encode([3, 4, 0])
    np.testing.assert_array_equal(enc_a.h, enc_b.h)


def test_fortran_order_and_big_endian_read_as_written(tmp_path, small):
    cfg, params = small
    bad = dict(params, decoder_Wc=np.asfortranarray(params["decoder_Wc"]),
               ff_logit_W=params["ff_logit_W"].astype(">f8"))
    d = _write(tmp_path, cfg, bad)
    m = nmt8.load_model(d)
    np.testing.assert_array_equal(m.params["decoder_Wc"], params["decoder_Wc"])
    np.testing.assert_array_equal(m.params["ff_logit_W"], params["ff_logit_W"])
    assert m.params["ff_logit_W"].dtype == np.float32
    read = read_params(d / "model.npz", param_shapes(cfg))
    assert read["decoder_Wc"].flags.c_contiguous
    assert read["ff_logit_W"].dtype == np.float32


def test_reader_reads_one_tensor_at_a_time(tmp_path, small):
    """ParamReader checks every header on opening, then reads only what is
    asked for; a closed reader says so."""
    from nmt8.model.params import ParamReader

    cfg, params = small
    d = _write(tmp_path, cfg, params)
    with ParamReader(d / "model.npz", param_shapes(cfg)) as r:
        np.testing.assert_array_equal(r["decoder_Wc"], params["decoder_Wc"])
        with pytest.raises(KeyError):
            r["not_a_tensor"]
    with pytest.raises(ValueError, match="closed"):
        r["decoder_Wc"]
    bad = dict(params, ff_logit_b=np.zeros(3, np.float32))
    (tmp_path / "bad").mkdir()
    d2 = _write(tmp_path / "bad", cfg, bad)
    with pytest.raises(ValueError, match="'ff_logit_b' has shape"):
        ParamReader(d2 / "model.npz", param_shapes(cfg)).__enter__()


def test_fp32_params_are_views_of_the_fused_matrices(tmp_path, small):
    """A loaded fp32 model holds each tensor once: params[name] is a view
    of its slice of the fused matrix (was: a second full copy)."""
    cfg, params = small
    m = nmt8.load_model(_write(tmp_path, cfg, params))
    for name in ("encoder_W", "encoder_r_Wx", "decoder_Ux", "ff_logit_ctx_W",
                 "decoder_bx_nl", "encoder_r_b"):
        np.testing.assert_array_equal(m.params[name], params[name])
    assert np.shares_memory(m.params["encoder_r_Wx"], m.W["enc_x"])
    assert np.shares_memory(m.params["decoder_Wcx"], m.W["dec_ctx"])
    assert np.shares_memory(m.params["decoder_bx"], m.b["dec_y"])
    assert m.params["Wemb"] is m.Wemb.table


# -- broken and hostile files ------------------------------------------------------
def test_bare_npy_is_named(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    np.save(d / "model.npy", params["Wemb"])
    (d / "model.npy").rename(d / "model.npz")
    with pytest.raises(ValueError, match=r"model\.npz: is a bare \.npy") as err:
        nmt8.load_model(d)
    assert "allow_pickle" not in str(err.value)


def test_header_declaring_2_34_elements_is_not_allocated(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    _replace_member(d, "decoder_Wcx", _header((2**34,)) + bytes(16))
    with pytest.raises(ValueError, match=r"'decoder_Wcx' has shape \(17179869184,\)"):
        nmt8.load_model(d)


def test_header_matching_huge_options_but_short_data(tmp_path):
    """Options and header agree on 2^34 elements; the member holds 16 bytes."""
    cfg = nmt8.ModelConfig(dim_word=4, dim=6, n_words_src=2**32, n_words=12)
    d = tmp_path / "m"
    d.mkdir()
    cfg.to_json(d / "model.npz.json")
    with zipfile.ZipFile(d / "model.npz", "w") as zf:
        zf.writestr("Wemb.npy", _header((2**32, 4)) + bytes(16))
    with pytest.raises(ValueError, match=r"'Wemb' holds 16 data bytes.*needs "
                                         r"68719476736"):
        nmt8.load_model(d)


def _zip_raw(path, name: str, deflated: bytes, crc: int, size: int):
    """A one-member zip whose member is given already deflated."""
    fn = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc,
                        len(deflated), size, len(fn), 0) + fn
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21,
                          crc, len(deflated), size, len(fn), 0, 0, 0, 0, 0,
                          0) + fn
    offset = len(local) + len(deflated)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                      offset, 0)
    path.write_bytes(local + deflated + central + end)


def test_zip_bomb_is_refused_before_inflating(tmp_path, small):
    """~1 MB on disk, 1 GiB inflated: the header is checked first."""
    cfg, _ = small
    d = tmp_path / "m"
    d.mkdir()
    cfg.to_json(d / "model.npz.json")
    head = _header((2**28,))  # 1 GiB of float32 where Wemb (10, 4) belongs
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    mib = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)  # repeats
    stream = first + mib * 1024 + c.flush()
    crc = 0x310F4655  # zlib.crc32 of head + 2**30 zero bytes, computed once
    _zip_raw(d / "model.npz", "Wemb.npy", stream, crc, len(head) + 2**30)
    assert (d / "model.npz").stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"'Wemb' has shape \(268435456,\)"):
            nmt8.load_model(d)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_trailing_bytes_after_the_tensor_are_refused(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    a = params["ff_logit_b"]
    _replace_member(d, "ff_logit_b", _header(a.shape) + a.tobytes() + bytes(8))
    with pytest.raises(ValueError, match=r"'ff_logit_b' holds 56 data bytes"):
        nmt8.load_model(d)


def test_object_array_is_refused_without_pickle_advice(tmp_path, small):
    cfg, params = small
    bad = dict(params, decoder_c_tt=np.array([None], dtype=object))
    with pytest.raises(ValueError, match=r"'decoder_c_tt' has dtype object") as err:
        nmt8.load_model(_write(tmp_path, cfg, bad))
    assert "allow_pickle" not in str(err.value)


@pytest.mark.parametrize("dtype", [np.int32, np.complex64, np.bool_])
def test_non_float_dtype_is_refused(tmp_path, small, dtype):
    cfg, params = small
    bad = dict(params, ff_state_b=params["ff_state_b"].astype(dtype))
    with pytest.raises(ValueError, match=r"'ff_state_b' has dtype"):
        nmt8.load_model(_write(tmp_path, cfg, bad))


def test_huge_header_is_refused_without_pickle_advice(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    head = b"\x93NUMPY\x01\x00" + struct.pack("<H", 60000) + b" " * 60000
    _replace_member(d, "ff_state_b", head)
    with pytest.raises(ValueError, match=r"'ff_state_b' is not a valid") as err:
        nmt8.load_model(d)
    assert "allow_pickle" not in str(err.value)


@pytest.mark.parametrize("name", ["decoder_b_att", "ff_logit_b", "Wemb"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused_anywhere(tmp_path, small, name, bad_value):
    cfg, params = small
    a = params[name].copy()
    a.flat[-1] = bad_value
    with pytest.raises(ValueError, match=rf"'{name}' holds NaN/inf"):
        nmt8.load_model(_write(tmp_path, cfg, dict(params, **{name: a})))


def test_tensor_stored_twice_is_refused(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate
        with zipfile.ZipFile(d / "model.npz", "a") as zf:
            zf.writestr("decoder_Wc.npy", b"")
    with pytest.raises(ValueError, match=r"'decoder_Wc' is stored more than once"):
        nmt8.load_model(d)


def test_bad_crc_is_a_value_error(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    data = bytearray((d / "model.npz").read_bytes())
    i = data.index(params["decoder_U"].tobytes())
    data[i] ^= 0xFF  # flip bits inside the tensor data: CRC mismatch
    (d / "model.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.npz: corrupt model file"):
        nmt8.load_model(d)


def test_options_are_checked_before_the_npz(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    (d / "model.npz").write_bytes(b"not a zip")
    (d / "model.npz.json").write_text('{"dim": null}')
    with pytest.raises(ValueError, match=r"model\.npz\.json"):
        nmt8.load_model(d)


def test_not_a_zip_at_all(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    (d / "model.npz").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"model\.npz: not an \.npz"):
        nmt8.load_model(d)


def test_read_params_reads_only_what_is_asked(tmp_path, small):
    cfg, params = small
    d = _write(tmp_path, cfg, params)
    got = read_params(d / "model.npz", {"Wemb": params["Wemb"].shape})
    assert list(got) == ["Wemb"]


def test_check_model_reads_headers_only(tmp_path, small):
    cfg, params = small
    bad = dict(params, ff_logit_b=np.full(12, np.nan, np.float32))
    d = _write(tmp_path, cfg, bad)
    npz, got = check_model(d)  # NaN is in the data, which is not read
    assert npz == d / "model.npz" and got == cfg
    _replace_member(d, "decoder_Wcx", _header((2**34,)) + bytes(16))
    with pytest.raises(ValueError, match=r"'decoder_Wcx' has shape"):
        check_model(d)
