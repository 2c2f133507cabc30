"""The C kernels of Section 3 of Quinn & Ballesteros (2018) and their
checked Python wrappers (``csrc/``, compiled by cffi at install).

- ``build``: the cffi build script (``setup.py`` runs it);
- ``clib``: the compiled library, loaded once: the int8 kernel names,
  error codes;
- ``dispatch``: the one choice of instruction set for every kernel below,
  made once per process in C (``csrc/nmt8_dispatch.h``) from what the CPU
  runs; what "auto" means; forced narrower for tests and benchmarks;
- ``calls``: the checked operands handed to C, and the cached C views of
  weight matrices;
- ``kernels``: the int8 product (``ref``, the paper's ``sse4``, ``avx2``,
  ``vnni``, the blocked ``gemm`` and ``gemm_avx2``, the saturating
  ``maddubs`` trap);
- ``fp32``, ``int16``: the other rungs of the ladder, built alike;
- ``peak``: this core's true limits (register-only multiply-add loops,
  the streaming read), the yardstick of every "% of peak";
- ``int4``: 4-bit weights in groups, below the paper's rung;
- ``tuning``: the kernels' run-time parameters, resolved once per CPU;
- ``fused``: the work beside the products (attention, eq. (5)-(6); the
  GRU's gates; beam search's row log-sum-exp and its choice of
  extensions), the same bits on every instruction set.

Users never touch ``ffi`` or ``lib``: every call goes through a wrapper
that checks dtype, shape and contiguity and raises ``ValueError``.

Does not: quantize (``nmt8.quant``), or choose the precision of a model
(``nmt8.model.precision``).
"""
