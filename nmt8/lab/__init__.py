"""Sections 4-5 of Quinn & Ballesteros (2018): measuring what 8 bits buy.

- ``measure``: words per core second, medians of interleaved runs, profiles
  (Tables 1-2), BLEU and chrF with sacrebleu (Table 6);
- ``bench``: the kernel benchmark (``nmt8 bench kernels``);
- ``diff``: where fp32 and int8 outputs differ (Tables 8-9);
- ``peer``: the same model in PyTorch, fp32 and FBGEMM int8;
- ``paper``: the paper's own figures, always labelled as theirs;
- ``reproduce``, ``report``: ``nmt8 reproduce`` and the report it writes;
- ``plot``: the course's figures.

Does not: decode (``nmt8.translator``) or quantize (``nmt8.quant``).
"""
