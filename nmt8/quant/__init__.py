"""The number formats of Section 3 of Quinn & Ballesteros (2018), and the
rungs of the precision ladder they are measured against, in numpy alone.

- ``int8``: symmetric int8 quantization of weights and activations (the
  paper's format), per tensor or per row;
- ``int16``: the 16-bit rung (Devlin 2017; Marian's int16);
- ``msfp``: block floating point, simulated;
- ``vnni``: the packed layout the VNNI kernels read;
- ``checks``: the argument checks every format shares.

Does not: multiply (the C kernels are in ``nmt8.native``), or decide which
products of the model are quantized (``nmt8.model.precision``).
"""

from nmt8.quant.int8 import (
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
