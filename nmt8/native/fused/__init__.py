"""The work beside the products, each one fused pass in C with the same
bits on every instruction set and for every row alone (batch invariance):
``attention`` (eq. (5)-(6) for every sentence of a batch in one call, with
nmt8's own float32 tanh and exp), ``gru`` (the GRU's gates), ``softmax``
(beam search's row log-sum-exp) and ``select`` (the choice of the best
extensions).

Does not: multiply by weight matrices (``nmt8.native.kernels``, ``fp32``,
``int16``, ``int4``).
"""
