"""The Nematus parameter names and shapes, and the reading of a model file.

A model is two files: ``model.npz`` (one ``.npy`` member per tensor, the names
and (in, out) shapes of Theano Nematus) and ``model.npz.json`` (the options,
``nmt8.model.config``). This module is the one place that knows those names
(``param_shapes``, ``param_groups``) and reads them (``read_params``, or
``ParamReader``: one tensor at a time, so a model can be built without
ever holding the whole file in float32).

Reading never trusts the file: it reads only a regular file (not a FIFO,
which would wait for a writer, nor a device such as ``/dev/zero``, which
never ends), opens the zip archive itself, reads every
needed member's ``.npy`` header (shape, dtype, order) and checks it against
the options and against the member's size BEFORE any tensor data is read, so
a wrong or hostile file fails fast with one ValueError naming the file and
the tensor, instead of allocating what a header claims or inflating a zip
bomb. Members Nematus training also writes (``uidx``, ``history_errs``,
optimizer state, ...) are ignored.

Does not: compute anything (``nmt8.model.model``), or write models (``nmt8.train``).
"""

from __future__ import annotations

import contextlib
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from nmt8.model.config import ModelConfig, regular_file

MODELS_DIR = Path(__file__).parent.parent / "models"
_CHUNK = 1 << 24  # bytes read from a zip member at a time


def param_groups(cfg: ModelConfig) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every parameter nmt8 reads, by part of the network, with its shape.

    Groups: ``embeddings`` (x_i, E[y]); ``ff_state`` (s_0); ``encoder`` (the
    two GRUs of eq. (1), ``encoder_*`` forward and ``encoder_r_*`` backward);
    ``gru_r`` (eq. (3)); ``gru_q`` (eq. (4)); ``attention`` (eq. (6));
    ``readout`` (g of eq. (2)). Within a group, names are in Nematus order.
    """
    E, H, C = cfg.dim_word, cfg.dim, 2 * cfg.dim

    def gru(pre: str, n_in: int) -> dict[str, tuple[int, ...]]:
        return {f"{pre}_W": (n_in, 2 * H), f"{pre}_b": (2 * H,),
                f"{pre}_U": (H, 2 * H), f"{pre}_Wx": (n_in, H),
                f"{pre}_bx": (H,), f"{pre}_Ux": (H, H)}

    return {
        "embeddings": {"Wemb": (cfg.n_words_src, E), "Wemb_dec": (cfg.n_words, E)},
        "ff_state": {"ff_state_W": (C, H), "ff_state_b": (H,)},
        "encoder": {**gru("encoder", E), **gru("encoder_r", E)},
        "gru_r": gru("decoder", E),
        "gru_q": {"decoder_U_nl": (H, 2 * H), "decoder_b_nl": (2 * H,),
                  "decoder_Ux_nl": (H, H), "decoder_bx_nl": (H,),
                  "decoder_Wc": (C, 2 * H), "decoder_Wcx": (C, H)},
        "attention": {"decoder_W_comb_att": (H, C), "decoder_Wc_att": (C, C),
                      "decoder_b_att": (C,), "decoder_U_att": (C, 1),
                      "decoder_c_tt": (1,)},
        "readout": {"ff_logit_lstm_W": (H, E), "ff_logit_lstm_b": (E,),
                    "ff_logit_prev_W": (E, E), "ff_logit_prev_b": (E,),
                    "ff_logit_ctx_W": (C, E), "ff_logit_ctx_b": (E,),
                    "ff_logit_W": (E, cfg.n_words), "ff_logit_b": (cfg.n_words,)},
    }


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter nmt8 reads, with the shape ``cfg`` implies.

    The order is fixed (``random_model`` draws its weights in this order).
    """
    return {k: v for group in param_groups(cfg).values() for k, v in group.items()}


# -- finding a model -------------------------------------------------------------
def resolve(name_or_path) -> Path:
    """The ``model.npz`` of a path, a folder or a shipped model's name."""
    p = Path(name_or_path)
    if p.suffix == ".npz" and p.exists():
        return p
    if p.is_dir():
        return p / "model.npz"
    packaged = MODELS_DIR / str(name_or_path) / "model.npz"
    if packaged.exists():
        return packaged
    known = sorted(d.name for d in MODELS_DIR.iterdir()) if MODELS_DIR.exists() else []
    raise FileNotFoundError(
        f"model {str(name_or_path)!r} not found: give a model.npz, a folder "
        f"holding one, or a shipped model name {known}")


def options_path(npz: Path) -> Path:
    return npz.parent / (npz.name + ".json")


# -- reading model.npz -------------------------------------------------------------
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError,
                NotImplementedError)  # encrypted or unknown-compression members


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str):
    """(shape, fortran_order, dtype, header bytes) of one ``.npy`` member."""
    with zf.open(info) as fh:
        try:
            version = npy.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npy.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unknown .npy format version {version}")
        except ValueError as err:
            why = str(err).splitlines()[0] if str(err) else "unreadable"
            if "allow_pickle" in str(err) or "max_header_size" in str(err):
                why = "its header is too large"
            raise ValueError(f"{where} is not a valid .npy array ({why})") from None
        return shape, fortran, dtype, fh.tell()


def _check(shape, dtype, want, info, header_len, where) -> int:
    """Validate one header against the options; returns the data's bytes."""
    if dtype.hasobject or dtype.fields is not None or dtype.kind != "f" \
            or dtype.itemsize not in (2, 4, 8):
        raise ValueError(f"{where} has dtype {dtype}; nmt8 reads float16, "
                         f"float32 or float64 tensors")
    if tuple(shape) != tuple(want):
        raise ValueError(f"{where} has shape {tuple(shape)}, the options "
                         f"imply {tuple(want)}")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != header_len + nbytes:
        raise ValueError(f"{where} holds {info.file_size - header_len} data "
                         f"bytes, its shape {tuple(shape)} x {dtype} needs "
                         f"{nbytes}")
    return nbytes


def _data(zf, info, header_len, shape, fortran, dtype, where) -> np.ndarray:
    """The member's tensor as C-ordered float32; NaN/inf are refused."""
    a = np.empty(shape[::-1] if fortran else shape, dtype)
    buf = memoryview(a.reshape(-1)).cast("B")
    with zf.open(info) as fh:
        fh.read(header_len)
        got = 0
        while got < len(buf):  # in chunks: no second full-size buffer
            n = fh.readinto(buf[got:got + _CHUNK])
            if not n:
                raise ValueError(f"{where} is truncated")
            got += n
        if fh.read(1):  # also makes zipfile check the member's CRC
            raise ValueError(f"{where} is longer than its header says")
    if fortran:
        a = a.T
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{where} holds NaN/inf")
    return a


class ParamReader:
    """Tensors of a Nematus ``.npz`` read one at a time, as float32.

    Opening checks every needed member's header (name, float dtype, shape,
    size) before any tensor data is read; ``reader[name]`` then reads that
    one tensor (NaN/inf refused), so a caller can build what it needs
    tensor by tensor and never hold the whole file in float32. Use as a
    context manager (the zip archive stays open inside it)::

        with ParamReader(npz, param_shapes(cfg)) as r:
            W = r["ff_logit_W"]

    Each problem is one ValueError naming ``npz`` and the tensor.
    """

    def __init__(self, npz: str | Path, shapes: dict[str, tuple[int, ...]]):
        self.npz, self.shapes = Path(npz), dict(shapes)
        self._zf: zipfile.ZipFile | None = None
        self._heads: dict = {}

    def __enter__(self):  # -> ParamReader
        npz = self.npz
        with _errors(npz):
            regular_file(npz, "model file")  # a FIFO is never opened
            self._zf = zf = zipfile.ZipFile(npz)
            try:
                self._heads = _headers(zf, npz, self.shapes)
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._zf is not None:
            self._zf.close()
            self._zf = None

    def __getitem__(self, name: str) -> np.ndarray:
        if self._zf is None:
            raise ValueError(f"{self.npz}: the reader is closed")
        if name not in self._heads:
            raise KeyError(name)
        with _errors(self.npz):
            return _data(self._zf, *self._heads[name])


def _headers(zf: zipfile.ZipFile, npz: Path, shapes) -> dict:
    """name -> (info, header length, shape, fortran, dtype, where), checked."""
    members: dict[str, list[zipfile.ZipInfo]] = {}
    for info in zf.infolist():
        if info.filename.endswith(".npy"):
            members.setdefault(info.filename[:-4], []).append(info)
    heads = {}
    for name, want in shapes.items():
        where = f"{npz}: tensor {name!r}"
        if name not in members:
            raise ValueError(f"{where} is missing")
        if len(members[name]) > 1:
            raise ValueError(f"{where} is stored more than once")
        info = members[name][0]
        shape, fortran, dtype, hlen = _header(zf, info, where)
        _check(shape, dtype, want, info, hlen, where)
        heads[name] = (info, hlen, shape, fortran, dtype, where)
    return heads


@contextlib.contextmanager
def _errors(npz: Path):
    """Turn the zip and I/O errors of reading ``npz`` into one ValueError."""
    try:
        yield
    except zipfile.BadZipFile as err:
        raise ValueError(f"{npz}: {_not_zip(npz, err)}") from None
    except _READ_ERRORS as err:
        raise ValueError(f"{npz}: cannot read model file ({err})") from None


def read_params(npz: str | Path, shapes: dict[str, tuple[int, ...]],
                data: bool = True) -> dict[str, np.ndarray]:
    """The tensors named in ``shapes`` from a Nematus ``.npz``, as float32.

    Every member's header is checked (name, float dtype, shape, size) before
    any tensor data is read; each problem is one ValueError naming ``npz``
    and the tensor. Other members are ignored. With ``data=False`` only the
    headers are checked and an empty dict is returned. (``ParamReader``
    reads them one at a time.)
    """
    with ParamReader(npz, shapes) as r:
        return {name: r[name] for name in shapes} if data else {}


def check_model(name_or_path) -> tuple[Path, ModelConfig]:
    """Check a model's options and every tensor header, reading no tensor data.

    Cheap (a few kB read): call it before reading input data or starting
    workers, so a bad model file fails first. Returns the ``model.npz`` path
    and its options. NaN/inf can only be found by ``load_model``.
    """
    npz = resolve(name_or_path)
    cfg = ModelConfig.from_json(options_path(npz))
    read_params(npz, param_shapes(cfg), data=False)
    return npz, cfg


def _not_zip(npz: Path, err: Exception) -> str:
    with open(npz, "rb") as fh:
        start = fh.read(6)
    if start == b"\x93NUMPY":
        return ("is a bare .npy array, not an .npz archive of named tensors "
                "(write models with numpy.savez)")
    if zipfile.is_zipfile(npz):
        return f"corrupt model file ({err})"
    return "not an .npz (zip) archive, or a truncated one"
