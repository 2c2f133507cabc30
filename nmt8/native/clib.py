"""The compiled kernels of Section 3 (``nmt8.native._kernels``, C in
``csrc/``), loaded once, and the vocabulary Python shares with them.

Loads the cffi module (with a clear ImportError when it was not built) and
refuses to load one whose VNNI tile sizes differ from ``nmt8.quant.vnni``'s;
names the int8 kernels (``KERNELS``), and gives the exception for each C
error code (:func:`raise_error`).

Does not: check arrays or call a product (``nmt8.native.calls``,
``nmt8.native.kernels``), or choose a kernel (``nmt8.native.dispatch``).
"""

from __future__ import annotations

import numpy as np

try:
    from nmt8.native._kernels import ffi, lib
except ImportError as err:  # pragma: no cover - depends on the build
    raise ImportError(
        "nmt8's C kernels are not compiled; run `pip install -e .` in the "
        "repository (it builds nmt8/native/_kernels through cffi)") from err

from nmt8.quant import vnni

if (vnni.ROWS, vnni.DEPTH, vnni.ALIGN) != (
        lib.NMT8_VNNI_ROWS, lib.NMT8_VNNI_DEPTH, lib.NMT8_VNNI_ALIGN):
    raise ImportError("nmt8.quant.vnni's tile sizes differ from the compiled "
                      "library's: rebuild with `pip install -e .`")

F32, I8 = np.dtype(np.float32), np.dtype(np.int8)
FLOATS = ffi.typeof("float[]")
INT8S = ffi.typeof("int8_t[]")
INT32S = ffi.typeof("int32_t[]")
NULL = ffi.NULL

# the int8 kernels (nmt8_kernels.h), in the order of their C ids
KERNELS = ("ref", "sse4", "avx2", "vnni", "maddubs", "gemm", "gemm_avx2",
           "amx")


def raise_error(rc: int, what: str = "X"):
    """Raise the exception for the C error code ``rc`` (never 0)."""
    if rc == lib.NMT8_ENONFINITE:
        raise ValueError(f"{what} contains NaN or inf (after conversion to "
                         "float32)")
    if rc == lib.NMT8_ENONFINITE_BIAS:
        raise ValueError("bias contains NaN or inf")
    if rc == lib.NMT8_ENOMEM:
        raise MemoryError("nmt8 kernel could not allocate its scratch buffer")
    if rc == lib.NMT8_EUNSUPPORTED:
        raise ValueError("kernel or instruction set not supported by this "
                         "CPU (see nmt8.native.dispatch.AVAILABLE_ISAS)")
    raise ValueError(f"nmt8 kernel rejected its arguments (code {rc})")
