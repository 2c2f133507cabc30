"""nmt8: 8-bit CPU decoding for attentional GRU translation models.

A reference implementation of Quinn & Ballesteros (2018), "Pieces of Eight:
8-bit Neural Machine Translation". The folders are the layers, each
importing only those below it (checked by import-linter, ``.importlinter``):

- ``cli``, ``demo``: the ``nmt8`` command;
- ``lab`` (Sections 4-5: measurements, ``nmt8 reproduce``) and ``train``
  (PyTorch training, export);
- ``serve``: text, ``Translator``, threads, processes, files, Dask;
- ``search``: beam search, batches of sentences;
- ``model``: Section 2, the network in numpy, in any precision;
- ``native``: Section 3's C kernels and their checked wrappers;
- ``quant``: the number formats (int8, int16, block floating point).

Beside them: ``timers`` (per-operation timers), ``data`` (Multi30k),
``testing`` (our own sentences and toy models).
"""
from nmt8.model.config import ModelConfig
from nmt8.model.model import Model, load_model, random_model
from nmt8.search.beam import beam_search, score_ids
from nmt8.search.sentence import Hypothesis
from nmt8.serve.threads import blas_threads
from nmt8.serve.translator import Timed, Translator

__version__ = "0.1.0"


def __getattr__(name):  # the int8 parts need the compiled kernels: load lazily
    if name in ("quantize", "dequantize", "QuantizedMatrix"):
        from nmt8.quant import int8

        return getattr(int8, name)
    if name in ("int8_matmul", "available_kernels", "default_kernel"):
        from nmt8.native import kernels

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
