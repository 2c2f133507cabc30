"""Section 3 of Quinn & Ballesteros (2018): 8-bit products, and the rungs
of the precision ladder they are measured against.

- ``int8``: symmetric int8 quantization of weights and activations;
- ``kernels``: the checked Python wrapper over the int8 C kernels in
  ``csrc/``;
- ``fp32``: the C float32 baseline built like the int8 kernel (the paper's
  "similar optimized floating point implementation");
- ``int16``: symmetric int16 quantization and its C kernels (Devlin 2017;
  Marian's int16);
- ``attention``, ``gru``, ``softmax``, ``select``: the work beside the
  products, in C for int8 and C fp32 models: attention, eq. (5)-(6), the
  GRU's gates, beam search's row log-sum-exp and its choice of the best
  extensions (each row alone, the same bits on every instruction set);
- ``_build``: the cffi build script that compiles them.

``kernels``, ``fp32`` and ``int16`` need the compiled
``nmt8.quant._kernels``: their names are imported here on first use, so
the quantization of ``int8`` works without the build.

Does not: decide which products of the model are quantized (``nmt8.model``).
"""

import importlib

from .int8 import (
    MAX_IN_FEATURES,
    SCHEMES,
    QuantizedMatrix,
    dequantize,
    quantize,
    quantize_activations,
)

# public name -> the submodule that defines it, imported on first use
_LAZY = {
    **dict.fromkeys(("FP32_KERNELS", "PackedF32", "available_fp32_kernels",
                     "fp32_matmul", "pack_fp32"), "fp32"),
    **dict.fromkeys(("INT16_KERNELS", "MAX_IN_FEATURES16", "QuantizedMatrix16",
                     "available_int16_kernels", "dequantize16",
                     "int16_accumulate", "int16_matmul", "quantize16",
                     "quantize_activations16"), "int16"),
}

__all__ = [
    "FP32_KERNELS",
    "INT16_KERNELS",
    "MAX_IN_FEATURES",
    "MAX_IN_FEATURES16",
    "SCHEMES",
    "PackedF32",
    "QuantizedMatrix",
    "QuantizedMatrix16",
    "available_fp32_kernels",
    "available_int16_kernels",
    "dequantize",
    "dequantize16",
    "fp32_matmul",
    "int16_accumulate",
    "int16_matmul",
    "pack_fp32",
    "quantize",
    "quantize16",
    "quantize_activations",
    "quantize_activations16",
]
assert set(__all__) >= set(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__),
                        name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
