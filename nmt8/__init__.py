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
import importlib

__version__ = "0.1.0"

# the public names and their homes, imported at first use: `import nmt8` (and
# so the `nmt8` command, before it can handle Ctrl-C) loads no numpy
_HOMES = {
    "ModelConfig": "nmt8.model.config",
    "Model": "nmt8.model.model",
    "load_model": "nmt8.model.model",
    "random_model": "nmt8.model.model",
    "beam_search": "nmt8.search.beam",
    "score_ids": "nmt8.search.beam",
    "Hypothesis": "nmt8.search.sentence",
    "blas_threads": "nmt8.serve.threads",
    "Timed": "nmt8.serve.translator",
    "Translator": "nmt8.serve.translator",
    # the int8 parts (they need the compiled kernels)
    "quantize": "nmt8.quant.int8",
    "dequantize": "nmt8.quant.int8",
    "QuantizedMatrix": "nmt8.quant.int8",
    "int8_matmul": "nmt8.native.kernels",
    "available_kernels": "nmt8.native.kernels",
    "default_kernel": "nmt8.native.kernels",
}


def __getattr__(name):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'nmt8' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found here from now on
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))


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
