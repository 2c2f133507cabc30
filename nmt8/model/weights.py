"""Where a model's float32 tensors come from, and its fused matrices.

The network of Section 2 (``nmt8.model.model``) multiplies each input vector by
ONE matrix per step: the Nematus matrices that multiply the same input
stored side by side (the table ``FUSED``). This module assembles those
fused matrices, tensor by tensor, from a source (the model file,
``FileSource``, or float32 arrays in memory, ``MemorySource``), builds
each in the weight type of a precision (``build``, ``nmt8.model.precision``), and
answers for the float32 Nematus tensors afterwards (``Params``).

Memory. A model holds only what its precision decodes with:

* fp32: each fused matrix is allocated once and every Nematus tensor is
  read into its column slice; ``model.params[name]`` is a VIEW of that
  slice (not C-contiguous for fused tensors), so the tensors are never
  held twice;
* quantized precisions are built tensor by tensor: each fused matrix is
  assembled in float32, quantized, and its float32 pieces dropped before
  the next, so no float32 copy of a quantized matrix stays behind (int4
  keeps only the packed buffer: no int8 values nor float32 either);
* after building, the heap pages freed on the way are handed back to the
  OS (glibc ``malloc_trim``), so the resident set is what the model holds;
  for the int8 kernels that read the VNNI layout (vnni, gemm, and "auto"
  where it means them) that includes its packed copy of each matrix, made
  at load rather than at the first product (it is held beside the plain
  int8 matrix: ``QuantizedMatrix.packed``).

``model.params`` (a ``Params`` mapping) always answers with the float32
Nematus tensors: held ones directly, the others re-read, one tensor at a
time, from the model's source. The source is the model file for
``load_model`` and every copy of a loaded model (a model loaded as int8
holds no float32 weights; ``copy("fp32")`` and ``params`` read the file
again, its contents of that moment, checked again), or, for models built
from arrays (``Model(cfg, params)``, ``random_model``), those float32
arrays, which a quantized copy keeps alive. A copy of an fp32 numpy model
is built from its arrays in memory (no reading), yet keeps the file as its
source. ``Model.nbytes()`` counts every array the model holds, each buffer
once.

Pickling. A view pickles as a copy of what it shows, so the float32 views
(``params``, a ``MemorySource``) would double an fp32 model in a pickle:
:func:`views` rebuilds them from the matrices and tables after unpickling
(``Model.__setstate__``), and a ``MemorySource`` or ``Params`` pickled on
its own stores each view as (the array that owns the memory, offset,
shape, strides), so every buffer is pickled once.

A model whose sizes pass every check but do not fit in memory is one
ValueError naming the file and what it needs, not a MemoryError.

Does not: choose a precision or its weight type (``nmt8.model.precision``),
check or parse a model file (``nmt8.model.params``) or run the network
(``nmt8.model.model``).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from nmt8.model.config import ModelConfig
from nmt8.model.embedding import Embedding
from nmt8.model.params import ParamReader, param_shapes
from nmt8.model.precision import Options, make_weight
from nmt8.model.products import F32Weight

__all__ = ["FUSED", "Params", "build", "release_freed_memory", "views"]

# fused matrix -> (Nematus weights side by side, their biases; None: zeros)
FUSED: dict[str, tuple[tuple[str, ...], tuple[str | None, ...] | None]] = {
    "enc_x": (("encoder_W", "encoder_Wx", "encoder_r_W", "encoder_r_Wx"),
              ("encoder_b", "encoder_bx", "encoder_r_b", "encoder_r_bx")),
    "enc_U": (("encoder_U", "encoder_Ux"), None),
    "enc_r_U": (("encoder_r_U", "encoder_r_Ux"), None),
    "ff_state": (("ff_state_W",), ("ff_state_b",)),
    "Wc_att": (("decoder_Wc_att",), ("decoder_b_att",)),
    # E[y_{t-1}] -> [GRU r input | readout W2]
    "dec_y": (("decoder_W", "decoder_Wx", "ff_logit_prev_W"),
              ("decoder_b", "decoder_bx", "ff_logit_prev_b")),
    "dec_U": (("decoder_U", "decoder_Ux"), None),
    # s'_t -> [attention u | GRU q state]
    "dec_s1": (("decoder_W_comb_att", "decoder_U_nl", "decoder_Ux_nl"),
               (None, "decoder_b_nl", "decoder_bx_nl")),
    "U_att": (("decoder_U_att",), ("decoder_c_tt",)),
    # H_t -> [GRU q input | readout W3]
    "dec_ctx": (("decoder_Wc", "decoder_Wcx", "ff_logit_ctx_W"),
                (None, None, "ff_logit_ctx_b")),
    "logit_lstm": (("ff_logit_lstm_W",), ("ff_logit_lstm_b",)),
    "logit": (("ff_logit_W",), ("ff_logit_b",)),
}
_EMB = {"src": "Wemb", "tgt": "Wemb_dec"}


def release_freed_memory() -> None:
    """Give the heap pages freed while building back to the OS (glibc's
    ``malloc_trim``): without it the float32 temporaries of reading and
    quantizing stay resident after they are freed. A no-op without glibc."""
    if _LIBC[0] is None:
        try:
            _LIBC[0] = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _LIBC[0] = False
    if _LIBC[0]:
        _LIBC[0](0)


_LIBC: list = [None]


# -- where float32 tensors come from ----------------------------------------------
class FileSource:
    """The float32 tensors of a model file, read on demand."""

    def __init__(self, npz: Path, cfg: ModelConfig):
        self.npz, self.shapes = Path(npz), param_shapes(cfg)

    def open(self) -> ParamReader:
        """Every header checked, then ``reader[name]`` reads one tensor."""
        return ParamReader(self.npz, self.shapes)

    def tensor(self, name: str) -> np.ndarray:
        with ParamReader(self.npz, {name: self.shapes[name]}) as r:
            return r[name]


def _shared(a):
    """What pickles ``a`` without copying a view: the array itself if it
    owns its memory, else (its owner, byte offset, shape, strides, dtype),
    so that the owner, pickled once, is shared."""
    if not isinstance(a, np.ndarray) or not isinstance(a.base, np.ndarray):
        return a
    owner = a.base
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if not owner.flags.c_contiguous:
        return a
    offset = (a.__array_interface__["data"][0]
              - owner.__array_interface__["data"][0])
    return (owner, offset, a.shape, a.strides, a.dtype)


def _unshared(x):
    """The array of :func:`_shared`: a view again."""
    if isinstance(x, np.ndarray):
        return x
    owner, offset, shape, strides, dtype = x
    return np.ndarray(shape, dtype, buffer=owner, offset=offset,
                      strides=strides)


def _shared_dict(d: dict) -> dict:
    return {k: _shared(v) for k, v in d.items()}


def _unshared_dict(d: dict) -> dict:
    return {k: _unshared(v) for k, v in d.items()}


class MemorySource:
    """float32 tensors held in memory: Nematus name -> array, and the fused
    float32 matrices W, b of an fp32 numpy model (None otherwise)."""

    def __init__(self, held: dict, W: dict | None = None, b: dict | None = None):
        self.held, self.W, self.b = held, W, b

    def __reduce__(self):  # views pickled as views (see the module docstring)
        return (_memory_source, (_shared_dict(self.held), self.W, self.b))

    def open(self):
        return contextlib.nullcontext(self.held)

    def tensor(self, name: str) -> np.ndarray:
        return self.held[name]


def _memory_source(held, W, b) -> MemorySource:
    return MemorySource(_unshared_dict(held), W, b)


def _fused(reader, shapes, k: str):
    """Fused matrix k (in, out) float32 and its bias (out,) or None, read
    tensor by tensor from ``reader[name]`` into their column slices."""
    names, biases = FUSED[k]
    widths = [shapes[n][1] for n in names]
    if len(names) == 1:
        W = np.ascontiguousarray(reader[names[0]], dtype=np.float32)
    else:
        W = np.empty((shapes[names[0]][0], sum(widths)), np.float32)  # (in, out)
        c = 0
        for n, w in zip(names, widths):
            W[:, c:c + w] = reader[n]  # read, copied into its slice, dropped
            c += w
    if biases is None:
        return W, None
    if len(biases) == 1:
        return W, np.ascontiguousarray(reader[biases[0]], dtype=np.float32)
    b = np.zeros(sum(widths), np.float32)  # (out,)
    c = 0
    for n, w in zip(biases, widths):
        if n is not None:
            b[c:c + w] = reader[n]
        c += w
    return W, b


def _slices(shapes, k: str):
    """(weight name, bias name or None, columns) of fused matrix k."""
    names, biases = FUSED[k]
    c = 0
    for i, n in enumerate(names):
        w = shapes[n][1]
        yield n, (biases[i] if biases else None), slice(c, c + w)
        c += w


def _held(W: dict, b: dict, emb: dict, shapes) -> dict[str, np.ndarray]:
    """Nematus name -> a view of the float32 arrays this model holds: every
    bias, the weights of fp32 matrices (numpy or C), fp32 embeddings."""
    held = {}
    for k in FUSED:
        w = W[k]
        full = w if isinstance(w, np.ndarray) else (
            w.q.WT.T if isinstance(w, F32Weight) else None)  # (in, out)
        for n, bn, cols in _slices(shapes, k):
            if full is not None:
                held[n] = full[:, cols]
            if bn is not None:
                held[bn] = b[k][cols]
    for side, name in _EMB.items():
        if emb[side].dtype == "fp32":
            held[name] = emb[side].table
    return held


class Params(Mapping):
    """The float32 Nematus tensors of a model, by name (a read-only mapping).

    Tensors the model holds (an fp32 model's views of its fused matrices,
    the biases, fp32 embeddings) are returned as they are; any other is
    read from the model's source on each access (from the model file: one
    tensor read per access).
    """

    def __init__(self, shapes: dict, held: dict, source):
        self._shapes, self._held, self._source = shapes, held, source

    def __reduce__(self):  # views pickled as views (see the module docstring)
        return (_params, (self._shapes, _shared_dict(self._held), self._source))

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._held:
            return self._held[name]
        if name not in self._shapes:
            raise KeyError(name)
        return self._source.tensor(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._shapes)

    def __len__(self) -> int:
        return len(self._shapes)

    def held(self) -> list[str]:
        """The names answered from memory (no read)."""
        return list(self._held)

    def __repr__(self) -> str:
        return (f"Params({len(self._shapes)} tensors, {len(self._held)} held "
                f"in memory)")


def _params(shapes, held, source) -> Params:
    return Params(shapes, _unshared_dict(held), source)


def build(source, shapes: dict, opt: Options):
    """Every fused matrix and embedding table of ``opt`` from ``source``, one
    fused matrix at a time (a quantized matrix's float32 pieces are dropped
    before the next is read).

    Returns ``W``, ``b`` (fused matrix name -> weight of ``opt``, float32
    bias or None), the tables ``{"src", "tgt"}`` (``nmt8.model.ops.Embedding``),
    the float32 tensors held (``_held``), and a ``MemorySource`` of them
    when they are every tensor (None otherwise): the source a copy builds
    from, with the fused float32 matrices themselves for fp32 numpy.

    A model too large for this machine's memory is a ValueError naming the
    source and the size it needs.
    """
    W, b, emb = {}, {}, {}
    try:
        with source.open() as reader:
            for k in FUSED:
                if getattr(source, "W", None) is not None:
                    Wk, b[k] = source.W[k], source.b[k]  # an fp32 model's own
                else:
                    Wk, b[k] = _fused(reader, shapes, k)
                W[k] = make_weight(Wk, opt, k)
                del Wk
            for side, name in _EMB.items():
                emb[side] = Embedding(reader[name], opt.embeddings)
    except MemoryError:
        W = b = emb = None  # what was built: freed before the message
        n = sum(math.prod(shape) for shape in shapes.values())
        where = getattr(source, "npz", "the model")
        raise ValueError(f"{where}: not enough memory to load this model: its "
                         f"{n:,} parameters take {4 * n / 2**30:,.1f} GiB as "
                         f"float32") from None
    return (W, b, emb, *views(W, b, emb, shapes, opt))


def views(W: dict, b: dict, emb: dict, shapes: dict, opt: Options):
    """``(held, mem)`` of :func:`build`: the float32 tensors a model holds,
    as views of its matrices ``W``, biases ``b`` and tables ``emb``, and the
    ``MemorySource`` of them when they are every tensor (else None)."""
    held = _held(W, b, emb, shapes)
    numpy = opt.precision == "fp32" and opt.kernel == "numpy"
    mem = (MemorySource(held, W if numpy else None, b if numpy else None)
           if len(held) == len(shapes) else None)  # every fp32 tensor held
    return held, mem
