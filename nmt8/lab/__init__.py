"""Sections 4-5 of Quinn & Ballesteros (2018): measuring what 8 bits buy.

- ``kernels``: the products alone (``nmt8 bench kernels``), against the
  machine's limits;
- ``speed``: words per core second, profiles (Tables 1-2), batch decoding,
  PyTorch beside us, resident memory;
- ``outputs``: BLEU and chrF (Table 6), where fp32 and int8 differ
  (Tables 8-9), significance, a blind human evaluation (Table 7);
- ``reproduce``: ``nmt8 reproduce``, what it runs and what it finds;
- ``report``: the report it writes;
- ``figures``: the charts and diagrams of the report and the course, and
  the paper's own figures, always labelled as theirs.

Does not: decode (``nmt8.serve.translator``) or quantize (``nmt8.quant``).
"""
