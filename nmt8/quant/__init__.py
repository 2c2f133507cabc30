"""Section 3 of Quinn & Ballesteros (2018): 8-bit products.

- ``int8``: symmetric int8 quantization of weights and activations;
- ``kernels``: the checked Python wrapper over the C kernels in ``csrc/``
  (imported on first use: it needs the compiled ``nmt8.quant._kernels``);
- ``_build``: the cffi build script that compiles them.

Does not: decide which products of the model are quantized (``nmt8.model``).
"""

from .int8 import (
    MAX_IN_FEATURES,
    SCHEMES,
    QuantizedMatrix,
    dequantize,
    quantize,
    quantize_activations,
)

__all__ = [
    "MAX_IN_FEATURES",
    "SCHEMES",
    "QuantizedMatrix",
    "dequantize",
    "quantize",
    "quantize_activations",
]
