"""nmt8: 8-bit CPU decoding for attentional GRU translation models.

A reference implementation of Quinn & Ballesteros (2018), "Pieces of Eight:
8-bit Neural Machine Translation". The modules follow the paper:

- ``model``, ``gru``, ``attention``: the fp32 model of Section 2;
- ``beam``, ``translator``: beam search and the text pipeline;
- ``quant`` (``quant.int8``, ``quant.kernels``): int8 quantization and the
  int8 products (Section 3);
- ``threads``, ``parallel``: one thread per sentence, one process per core;
- ``timers``, ``lab.measure``: the measurements of Sections 4 and 5.
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
