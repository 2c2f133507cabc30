"""Instrumented timers for the profiles of Tables 1 and 2.

Every hot operation of the decoder (weight products, tanh, sigmoid, softmax,
attention, beam bookkeeping) reports its time to ``TIMERS`` when profiling is
on. When it is off the cost is one attribute check per call.

Does not: sample the Python stack (``nmt8.lab.speed.measure`` cross-checks these timers
against cProfile once).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

CATEGORIES = (
    "product fp32 (matrix-vector)",  # P <= 16 rows: the beam's narrow matrix
    "product fp32 (matrix-matrix)",  # encoder: all source positions at once
    "product int8",  # both shapes go through one int8 routine (Table 2)
    "product fp32 (C kernel)",  # fp32 weights packed for nmt8.native.fp32
    "product int16",  # Devlin 2017's int16 (nmt8.quant.int16)
    "product int4",  # 4-bit weights, int8 activations (nmt8.quant.int4)
    "product msfp16 (simulated in fp32)",  # nmt8.quant.msfp, rounded at load
    "product msfp12 (simulated in fp32)",
    "tanh",
    "sigmoid",
    "softmax",
    "attention (fused C)",  # eq. (5)-(6) in C (int8, C fp32)
    "GRU gates (fused C)",  # eq. (1)'s non-linear part in C (int8, C fp32)
    "attention (weighted sum)",
    "beam bookkeeping",
)


class Timers:
    def __init__(self):
        self.enabled = False
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def add(self, category: str, seconds: float) -> None:
        self.seconds[category] += seconds
        self.calls[category] += 1

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    @contextlib.contextmanager
    def recording(self):
        """Turn timing on for a block: ``with TIMERS.recording(): ...``."""
        self.reset()
        self.enabled = True
        try:
            yield self
        finally:
            self.enabled = False

    @contextlib.contextmanager
    def section(self, category: str):
        """Time a block of code under ``category`` (only when enabled)."""
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(category, time.perf_counter() - t0)


TIMERS = Timers()
