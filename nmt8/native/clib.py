"""The compiled kernels of Section 3 (``nmt8.native._kernels``, C in
``csrc/``), loaded once, and the vocabulary Python shares with them.

Loads the cffi module (with a clear ImportError when it was not built) and
refuses to load one whose VNNI tile sizes differ from ``nmt8.quant.vnni``'s;
names the int8 kernels and the C id of each (``KERNELS``, ``KERNEL_IDS``)
and those this CPU runs (``AVAILABLE``, asked of the C library once:
``__builtin_cpu_supports``); the kernels of the other rungs of the precision
ladder (:class:`Ladder`, for fp32 and int16); the one error for a kernel
name that cannot be used (:func:`check_name`), and the exception for each C
error code (:func:`raise_error`).

Does not: check arrays or call a product (``nmt8.native.calls``,
``nmt8.native.kernels``), or choose a kernel (``nmt8.native.kernels``).
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

KERNELS = ("ref", "sse4", "avx2", "vnni", "maddubs", "gemm", "gemm_avx2")
KERNEL_IDS = {name: getattr(lib, "NMT8_KERNEL_" + name.upper())
              for name in KERNELS}
# the int8 kernels this CPU (and OS) can run, in the order of KERNELS
AVAILABLE = tuple(k for k in KERNELS
                  if lib.nmt8_cpu_supports(KERNEL_IDS[k]))


def check_name(name, known, available, what=""):
    """Raise the error for a kernel name that cannot be used: TypeError if
    not a string, ValueError if not in ``known`` (nor "auto") or not in
    ``available``.  Shared by the int8, fp32 and int16 wrappers."""
    if not isinstance(name, str):
        raise TypeError(f"kernel {what}must be a string, one of {known} or "
                        f"'auto'; got {type(name).__name__} {name!r}")
    if name not in known and name != "auto":
        raise ValueError(f"unknown kernel {what}{name!r}; choose from "
                         f"{known} or 'auto'")
    if name not in available and name != "auto":
        raise ValueError(f"kernel {what}{name!r} is not supported by this CPU; "
                         f"available: {list(available)}")


class Ladder:
    """The kernels of one other rung of the precision ladder (fp32, int16):
    their C ids (``prefix`` + NAME), those this CPU runs, in the order of
    ``names``, and the one ``"auto"`` means (the first of ``auto_order``
    available)."""

    def __init__(self, names, prefix: str, supports, auto_order):
        self.names = names
        self.ids = {name: getattr(lib, prefix + name.upper()) for name in names}
        self.available = tuple(k for k in names if supports(self.ids[k]))
        self.auto = next(k for k in auto_order if k in self.available)

    def kernel_id(self, kernel) -> int:
        """The C id of ``kernel`` (a name or "auto"), or the error of
        :func:`check_name`."""
        if kernel.__class__ is not str or kernel not in self.available:
            if kernel == "auto":
                return self.ids[self.auto]
            check_name(kernel, self.names, self.available)
        return self.ids[kernel]


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
        raise ValueError("kernel not supported by this CPU; available: "
                         f"{list(AVAILABLE)}")
    raise ValueError(f"nmt8 kernel rejected its arguments (code {rc})")


# the instruction sets of the kernels beside the products
ISAS = {"auto": lib.NMT8_ISA_AUTO, "portable": lib.NMT8_ISA_PORTABLE,
        "avx2": lib.NMT8_ISA_AVX2, "avx512": lib.NMT8_ISA_AVX512}
# the instruction sets this CPU runs, "auto" aside
AVAILABLE_ISAS = tuple(k for k, v in ISAS.items()
                       if k != "auto" and lib.nmt8_att_isa_supported(v))

def isa_code(isa: str) -> int:
    """The C code of an instruction set for the kernels beside the products
    (attention, GRU gates, softmax, selection), checked."""
    if not isinstance(isa, str) or isa not in ISAS:
        raise ValueError(f"unknown instruction set {isa!r}; choose from "
                         f"{list(ISAS)}")
    if isa != "auto" and isa not in AVAILABLE_ISAS:
        raise ValueError(f"instruction set {isa!r} is not supported by this "
                         f"CPU; available: {list(AVAILABLE_ISAS)}")
    return ISAS[isa]
