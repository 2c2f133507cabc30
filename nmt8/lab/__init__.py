"""Sections 4-5 of Quinn & Ballesteros (2018): measuring what 8 bits buy.

- ``measure``: words per core second, medians of interleaved runs, profiles
  (Tables 1-2), BLEU and chrF with sacrebleu (Table 6);
- ``speed``, ``quality``, ``resident``: the speed, quality and memory
  experiments of ``nmt8 reproduce``;
- ``bench`` (``nmt8 bench kernels``), ``interleaved`` (every product timed
  in turn), ``sweep`` (naive and blocked int8 kernels against P);
- ``batch_measure``, ``bulk``: batch decoding, the paper's future work, and
  ``nmt8 bench batch``;
- ``diff``, ``flips``, ``significance``: where fp32 and int8 outputs differ
  (Tables 8-9), where their beams part, the paired bootstrap of a BLEU
  difference;
- ``peer``: the same model in PyTorch, fp32 and FBGEMM int8;
- ``human``: a blind evaluation as in Table 7;
- ``paper``: the paper's own figures, always labelled as theirs;
- ``reproduce`` (orchestration), ``settings``, ``systems``, ``results``,
  ``records``, ``batch_records``: what ``nmt8 reproduce`` runs and finds;
- ``report``, ``report_speed``, ``report_quality``, ``report_beyond``,
  ``markdown``: the report it writes; ``figures``, ``plot``, ``diagrams``:
  its figures and the course's;
- ``machine``: the CPU, cores, ISA flags and libraries of a run.

Does not: decode (``nmt8.translator``) or quantize (``nmt8.quant``).
"""
