"""Decoding speed and memory (Section 3's words per core second):
``measure`` (timings, profiles), ``speed`` (the experiment),
``batch`` and ``bulk`` (batch decoding, ``nmt8 bench batch``), ``peer``
(the same model in PyTorch), ``memory`` and ``resident`` (resident memory
per precision, in a fresh process).
"""
