"""nmt8: 8-bit CPU decoding for attentional GRU translation models.

A reference implementation of Quinn & Ballesteros (2018), "Pieces of Eight:
8-bit Neural Machine Translation". The modules follow the paper:

- Section 2, the model: ``config`` (options), ``params`` (Nematus names,
  shapes, reading a model file), ``gru``, ``attention``, ``encoder``
  (eq. (1)), ``decoder`` (eq. (2)-(6)), ``model`` (the weights in one
  precision, ``load_model``, ``random_model``), ``embedding``;
- the products: ``ops`` (``linear``, the one product function, and the
  elementwise functions), ``products`` (a weight type per precision, bound
  to its kernel), ``precision`` and ``weights`` (building them);
- Section 3: ``quant`` (``int8``, ``int16``, ``fp32``, ``msfp``,
  ``kernels``, ``vnni`` and the private ``_clib``, ``_calls``, ``_checks``,
  ``_build``): quantization and the C kernels;
- search and text: ``beam`` (the loop), ``beam_sentence`` (a sentence's
  hypotheses), ``beam_select`` (candidate selection), ``batch`` (several
  sentences at once), ``text`` (BPE), ``translator``;
- deployment: ``threads`` (one BLAS thread per sentence), ``parallel`` (one
  process per core), ``stream`` (files of any size; ``stream_lines``,
  ``stream_windows``, ``stream_pool``), ``dask``, ``memory``;
- Sections 4-5, measurement: ``timers`` and ``lab``; training: ``train``;
- around them: ``cli`` (the ``nmt8`` command), ``demo``, ``data``
  (Multi30k), ``testing`` (our own sentences and toy models).
"""
from .beam import Hypothesis, beam_search, score_ids
from .config import ModelConfig
from .model import Model, load_model, random_model
from .threads import blas_threads
from .translator import Timed, Translator

__version__ = "0.1.0"


def __getattr__(name):  # the int8 parts need the compiled kernels: load lazily
    if name in ("quantize", "dequantize", "QuantizedMatrix"):
        from . import quant

        return getattr(quant, name)
    if name in ("int8_matmul", "available_kernels", "default_kernel"):
        from .quant import kernels

        return getattr(kernels, name)
    raise AttributeError(f"module 'nmt8' has no attribute {name!r}")


__all__ = [
    "Hypothesis",
    "Model",
    "ModelConfig",
    "QuantizedMatrix",
    "Timed",
    "Translator",
    "available_kernels",
    "beam_search",
    "blas_threads",
    "default_kernel",
    "dequantize",
    "int8_matmul",
    "load_model",
    "quantize",
    "random_model",
    "score_ids",
]
