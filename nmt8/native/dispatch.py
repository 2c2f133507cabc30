"""The one choice of instruction set for every C kernel (``csrc/nmt8_dispatch.h``).

The C library asks the CPU once, when it is loaded, what it runs, and fills
one table: for each family of kernels (the int8 products of Section 3 of
Quinn & Ballesteros 2018, the fp32, int16 and int4 rungs beside them, and
the fused kernels beside the products: attention, GRU gates, softmax,
selection) the kernel ``"auto"`` runs. A product called with ``"auto"``
passes ``AUTO`` to C, which reads the table: no question to the CPU, and no
choice in Python, per call. For int8 the table holds two kernels, the naive
one of the instruction set for few rows of X (the decoding case) and its
blocked one (``gemm``, ``gemm_avx2``) from ``int8_rows`` rows of X on; C
chooses between them by P.

Instruction sets (``ISAS``, narrowest first, each including the ones
before): ``portable``, ``sse4``, ``avx2`` (with FMA3), ``avx512``
(AVX-512F), ``vnni`` (AVX-512 F, BW, VL and VNNI). The fused kernels have
three paths (portable, avx2, avx512): sse4 runs their portable path, vnni
their avx512 one.

For tests and benchmarks the process's choice can be narrowed
(:func:`set_isa`, :func:`forced`; ``$NMT8_ISA`` at import) or the int8
product held to one kernel at every P (``int8=`` there; ``$NMT8_KERNEL``
at import), and any call can name its own kernel (``kernel=`` of the
products, ``isa=`` of the fused kernels).

Does not: run a kernel (``nmt8.native.kernels``, ``fp32``, ``int16``,
``int4``, ``fused``), or tune the kernels' weight streams
(``nmt8.native.tuning``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

from nmt8.native.clib import KERNELS, ffi, lib, raise_error

__all__ = [
    "AUTO",
    "AVAILABLE_ISAS",
    "FP32",
    "INT4",
    "INT8",
    "INT16",
    "ISAS",
    "PACKED_KERNELS",
    "Dispatch",
    "Family",
    "auto_packs",
    "current",
    "forced",
    "from_environment",
    "isa_code",
    "set_isa",
]

AUTO = lib.NMT8_KERNEL_AUTO  # a kernel id: the process's choice

ISAS = ("portable", "sse4", "avx2", "avx512", "vnni", "amx")
_ISA_CODES = {name: getattr(lib, "NMT8_ISA_" + name.upper())
              for name in ("auto", *ISAS)}
_ISA_NAMES = {code: name for name, code in _ISA_CODES.items()}
# the instruction sets this CPU runs, narrowest first
AVAILABLE_ISAS = tuple(k for k in ISAS
                       if lib.nmt8_isa_supported(_ISA_CODES[k]))
_RUNNABLE = {k: _ISA_CODES[k] for k in ("auto", *AVAILABLE_ISAS)}


def _check_name(name, known, available, what=""):
    """Raise the error for a kernel name that cannot be used: TypeError if
    not a string, ValueError if not in ``known`` (nor "auto") or not in
    ``available``. Shared by every family."""
    if not isinstance(name, str):
        raise TypeError(f"kernel {what}must be a string, one of {known} or "
                        f"'auto'; got {type(name).__name__} {name!r}")
    if name not in known and name != "auto":
        raise ValueError(f"unknown kernel {what}{name!r}; choose from "
                         f"{known} or 'auto'")
    if name not in available and name != "auto":
        raise ValueError(f"kernel {what}{name!r} is not supported by this "
                         f"CPU; available: {list(available)}")


def isa_code(isa) -> int:
    """The C code of an instruction set (a name of ``ISAS`` or "auto"),
    checked: ValueError for anything else (a non-string too) or one this
    CPU cannot run."""
    code = _RUNNABLE.get(isa) if isa.__class__ is str else None
    if code is not None:
        return code  # the common case, checked at no more cost
    code = _ISA_CODES.get(isa) if isinstance(isa, str) else None
    if code is None:
        raise ValueError(f"unknown instruction set {isa!r}; choose from "
                         f"{[*ISAS, 'auto']}")
    if isa != "auto" and isa not in AVAILABLE_ISAS:
        raise ValueError(f"instruction set {isa!r} is not supported by this "
                         f"CPU; available: {list(AVAILABLE_ISAS)}")
    return code


class Family:
    """The kernels of one family of products (int8, fp32, int16, int4):
    their names, C ids (``prefix`` + NAME), and those this CPU runs
    (``available``, in the order of ``names``)."""

    def __init__(self, code: int, names: tuple[str, ...], prefix: str):
        self.code, self.names = code, names
        self.ids = {name: getattr(lib, prefix + name.upper()) for name in names}
        self.available = tuple(k for k in names
                               if lib.nmt8_supports(code, self.ids[k]))
        self._names = {v: k for k, v in self.ids.items()}

    @property
    def available(self) -> tuple[str, ...]:
        """The kernels this CPU runs, in the order of ``names`` (tests
        narrow it to pretend a smaller CPU)."""
        return self._available

    @available.setter
    def available(self, names) -> None:
        self._available = tuple(names)
        # what a call may name, and its id: one dict lookup per call
        self._runnable = {**{k: self.ids[k] for k in self._available},
                          "auto": AUTO}

    def kernel_id(self, kernel) -> int:
        """The C id of ``kernel`` (a name, or "auto": ``AUTO``), or the
        error of :func:`_check_name`."""
        kid = self._runnable.get(kernel) if kernel.__class__ is str else None
        if kid is None:
            _check_name(kernel, self.names, self._available)
        return kid

    def name(self, kid: int) -> str:
        """The name of kernel id ``kid``."""
        return self._names[kid]

    def resolve(self, P: int = 1) -> str:
        """The kernel ``"auto"`` runs now for a call with P rows of X."""
        return self._names[lib.nmt8_resolve(self.code, AUTO, P)]


INT8 = Family(lib.NMT8_FAMILY_INT8, KERNELS, "NMT8_KERNEL_")
FP32 = Family(lib.NMT8_FAMILY_FP32, ("ref", "avx2", "avx512"), "NMT8_F32_")
INT16 = Family(lib.NMT8_FAMILY_INT16, ("ref", "sse4", "avx2", "vnni"),
               "NMT8_I16_")
INT4 = Family(lib.NMT8_FAMILY_INT4, ("ref", "avx2", "vnni"), "NMT8_INT4_")

# the int8 kernels that read the packed weights w->Wp
PACKED_KERNELS = frozenset(("vnni", "gemm", "gemm_avx2", "amx"))


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """The process's choice, by name: the instruction set it was made
    for; the int8 kernel for fewer than ``int8_rows`` rows of X and the
    blocked one from there on (``int8_rows`` 0: ``int8`` at every P); the
    kernel of each other rung; the path of the fused kernels ("portable",
    "avx2" or "avx512")."""

    isa: str
    int8: str
    int8_blocked: str
    int8_rows: int
    fp32: str
    int16: str
    int4: str
    fused: str


def _from_c(d) -> Dispatch:
    return Dispatch(_ISA_NAMES[d.isa], INT8.name(d.int8),
                    INT8.name(d.int8_blocked), int(d.int8_rows),
                    FP32.name(d.fp32), INT16.name(d.int16), INT4.name(d.int4),
                    _ISA_NAMES[d.fused])


def current() -> Dispatch:
    """The process's choice now."""
    d = ffi.new("nmt8_dispatch *")
    lib.nmt8_get_dispatch(d)
    return _from_c(d)


_auto_packs = [False]  # whether "auto" may run an int8 kernel reading Wp


def auto_packs() -> bool:
    """Whether an int8 product with ``"auto"`` may read the packed weights
    (the process's int8 kernel or its blocked one is vnni, gemm or
    gemm_avx2): the weights must be packed first."""
    return _auto_packs[0]


def _apply(d: Dispatch) -> None:
    c = ffi.new("nmt8_dispatch *")
    c.isa, c.fused = _ISA_CODES[d.isa], _ISA_CODES[d.fused]
    c.int8, c.int8_blocked = INT8.ids[d.int8], INT8.ids[d.int8_blocked]
    c.int8_rows = d.int8_rows
    c.fp32, c.int16, c.int4 = FP32.ids[d.fp32], INT16.ids[d.int16], \
        INT4.ids[d.int4]
    rc = lib.nmt8_set_dispatch(c)
    if rc:
        raise_error(rc)
    _auto_packs[0] = bool({d.int8, d.int8_blocked} & PACKED_KERNELS)


def set_isa(isa: str = "auto", int8: str | None = None) -> Dispatch:
    """Make the process's choice that of instruction set ``isa`` (each
    family's fastest kernel within it; "auto": the widest this CPU runs,
    the choice made at load), and, when ``int8`` names a kernel, run that
    int8 kernel at every P (no switch to a blocked kernel). Returns the
    previous choice. Process-wide: call it before running kernels from
    several threads, not while they run. ValueError for an instruction
    set or kernel this CPU cannot run, or an unknown one."""
    before = current()
    c = ffi.new("nmt8_dispatch *")
    rc = lib.nmt8_dispatch_for(c, isa_code(isa))
    if rc:
        raise_error(rc)
    d = _from_c(c)
    if int8 is not None:
        INT8.kernel_id(int8)
        if int8 == "auto":
            raise ValueError("int8= names one kernel, not 'auto'")
        d = dataclasses.replace(d, int8=int8, int8_blocked=int8, int8_rows=0)
    _apply(d)
    return before


@contextlib.contextmanager
def forced(isa: str = "auto", int8: str | None = None):
    """:func:`set_isa` for a ``with`` block (tests, benchmarks); the
    choice before it comes back at the end. Yields the choice in force."""
    before = set_isa(isa, int8)
    try:
        yield current()
    finally:
        _apply(before)


def from_environment() -> Dispatch:
    """Apply ``$NMT8_ISA`` (an instruction set) and ``$NMT8_KERNEL`` (one
    int8 kernel at every P), each "auto" when unset; done once, when this
    module is imported. Returns the choice in force. ValueError naming the
    variable for a value this CPU cannot run."""
    isa = os.environ.get("NMT8_ISA", "") or "auto"
    int8 = os.environ.get("NMT8_KERNEL", "") or "auto"
    try:
        isa_code(isa)
    except ValueError as err:
        raise ValueError(f"NMT8_ISA={isa!r}: {err}") from None
    if int8 != "auto":
        _check_name(int8, INT8.names, INT8.available, "NMT8_KERNEL=")
    set_isa(isa, None if int8 == "auto" else int8)
    return current()


from_environment()
