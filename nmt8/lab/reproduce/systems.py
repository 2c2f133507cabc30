"""The decoders ``nmt8 reproduce`` compares: :class:`System` and the ladder.

* :class:`System` names one decoder: engine (nmt8 or the PyTorch peer),
  precision, weight-scale scheme (int8/int16: per tensor or per row; int4:
  the group size), kernel and ensemble size. It is
  frozen, so two systems are the same exactly when their fields are, and a
  result is found by ``r.system == NMT8_INT8``, never by its label.
  ``label`` and ``variant`` are only how tables print it.
* :data:`LADDER`: the precision ladder of Table 6 and the speed table, one
  :class:`Rung` a row; :data:`BASELINES`: the systems every speed-up is
  also given against, by name.

Does not: say how much to run (``nmt8.lab.reproduce.settings``) or hold results
(``nmt8.lab.reproduce.records``, ``nmt8.lab.reproduce.results``).
"""

from __future__ import annotations

import dataclasses

from nmt8.model.precision import DEFAULT_GROUP, GROUP_SCHEMES

ENGINES = ("nmt8", "PyTorch")
# nmt8.model.model's
PRECISIONS = ("fp32", "int16", "int8", "int4", "msfp16", "msfp12")
SCHEMES = ("per_tensor", "per_row")
SCALED = ("int16", "int8")  # the precisions with a weight-scale scheme
GROUPED = ("int4",)  # the precisions whose scheme is a group size
SIMULATED = ("msfp16", "msfp12")  # rounded at load, multiplied in fp32


@dataclasses.dataclass(frozen=True)
class System:
    """One decoder. int8 and int16 have a scheme (default per tensor), int4
    a group size (``group32``/``group64``, default
    ``nmt8.model.precision.DEFAULT_GROUP``); fp32's kernel None is numpy,
    a name (``"auto"``) a C fp32 kernel."""

    engine: str = "nmt8"  # "nmt8" or "PyTorch" (nmt8.lab.speed.peer)
    precision: str = "fp32"  # one of PRECISIONS
    scheme: str | None = None  # int8/int16: per_tensor, per_row; int4: groupG
    kernel: str | None = None  # None: the precision's default (fp32: numpy)
    models: int = 1  # ensemble size

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, "
                             f"got {self.precision!r}")
        scheme = self.scheme
        if self.precision in GROUPED:
            if scheme is None:
                scheme = DEFAULT_GROUP
            elif scheme not in GROUP_SCHEMES:
                raise ValueError(f"{self.precision} scheme must be one of "
                                 f"{GROUP_SCHEMES}, got {scheme!r}")
        elif self.precision not in SCALED:
            if scheme not in (None, "per_tensor"):
                raise ValueError(f"{self.precision} has no weight-scale scheme, "
                                 f"got {scheme!r}")
            scheme = None
        elif scheme is None:
            scheme = "per_tensor"
        elif scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        object.__setattr__(self, "scheme", scheme)  # one spelling per system
        if self.kernel is not None and self.precision in SIMULATED:
            raise ValueError(f"{self.precision} is simulated in numpy: no kernel")
        if self.engine == "PyTorch" and (self.scheme == "per_row" or self.kernel
                                         or self.precision not in ("fp32", "int8")):
            raise ValueError("the PyTorch peer is fp32, or int8 per tensor "
                             "with FBGEMM")
        if not isinstance(self.models, int) or self.models < 1:
            raise ValueError(f"models must be an int >= 1, got {self.models!r}")

    @property
    def _kernel_name(self) -> str:
        if self.precision == "fp32" and self.kernel not in (None, "numpy"):
            return " (C)" if self.kernel == "auto" else f" (C {self.kernel})"
        return f" ({self.kernel})" if self.kernel else ""

    @property
    def label(self) -> str:
        """As the speed tables print it: ``nmt8 int8``, ``PyTorch fp32``,
        ``nmt8 fp32 (C)``, ``nmt8 int4 group64``."""
        out = f"{self.engine} {self.precision}"
        if self.scheme == "per_row" or self.precision in GROUPED:
            out += " " + self.scheme.replace("_", "-")
        out += self._kernel_name
        return f"{self.models}x {out}" if self.models > 1 else out

    @property
    def variant(self) -> str:
        """As Table 6 prints nmt8's variants: ``fp32``, ``int8 per-tensor``,
        ``fp32 (C)``, ``2x fp32``."""
        out = self.precision
        if self.scheme:
            out += " " + self.scheme.replace("_", "-")
        out += self._kernel_name
        if self.engine != "nmt8":
            out = f"{self.engine} {out}"
        return f"{self.models}x {out}" if self.models > 1 else out

    def build(self, model_or_models, beam: int = 5):
        """The decoder: an ``nmt8.Translator`` or a ``PeerTranslator``."""
        if self.engine == "PyTorch":
            from nmt8.lab.speed.peer import PeerTranslator

            if isinstance(model_or_models, (list, tuple)):
                raise ValueError("the PyTorch peer decodes one model, not an "
                                 "ensemble")
            return PeerTranslator(model_or_models, self.precision == "int8", beam)
        from nmt8.serve.translator import Translator

        return Translator(**self.translator_kwargs(model_or_models, beam))

    def translator_kwargs(self, model_or_models, beam: int = 5) -> dict:
        """The keywords of ``nmt8.Translator`` for this system (what
        ``nmt8.serve.dask`` and worker processes build it from); nmt8 only."""
        if self.engine != "nmt8":
            raise ValueError(f"{self.label} is not an nmt8.Translator")
        kw = {"model_or_models": model_or_models, "precision": self.precision,
              "beam": beam}
        if self.kernel:
            kw["kernel"] = self.kernel
        if self.scheme:
            kw["scheme"] = self.scheme
        return kw


NMT8_FP32 = System()
NMT8_INT8 = System(precision="int8")
NMT8_INT8_PER_ROW = System(precision="int8", scheme="per_row")
NMT8_FP32_C = System(kernel="auto")  # the fastest C fp32 kernel here
NMT8_INT16 = System(precision="int16")
NMT8_INT4 = System(precision="int4")  # DEFAULT_GROUP, as decoding's default
NMT8_MSFP16 = System(precision="msfp16")
NMT8_MSFP12 = System(precision="msfp12")
TORCH_FP32 = System("PyTorch")
TORCH_INT8 = System("PyTorch", "int8")


@dataclasses.dataclass(frozen=True)
class Rung:
    """One row of Table 6 and of the speed table: a system of nmt8's
    precision ladder, and whether it has a speed (a simulated number format
    has accuracy only)."""

    system: System
    timed: bool = True


# The precision ladder of Table 6 and the speed table, one line per rung.
LADDER = (Rung(NMT8_FP32), Rung(NMT8_FP32_C), Rung(NMT8_INT16),
          Rung(NMT8_INT8), Rung(NMT8_INT8_PER_ROW), Rung(NMT8_INT4),
          Rung(NMT8_MSFP16, timed=False), Rung(NMT8_MSFP12, timed=False))


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A system every speed-up is also given against, by its name."""

    system: System
    name: str


# "numpy fp32" is what a user has; "C fp32" is the paper's "similar
# optimized floating point implementation", built like the int8 kernel.
BASELINES = (Baseline(NMT8_FP32, "numpy fp32"), Baseline(NMT8_FP32_C, "C fp32"))
