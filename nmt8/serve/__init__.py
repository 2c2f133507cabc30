"""Serving: text in, text out, on every core.

- ``text``: BPE subwords (SentencePiece);
- ``translator``: ``Translator``, text to text in one precision;
- ``threads``: one BLAS thread per sentence (threadpoolctl);
- ``pool``: the one pool of worker processes (a worker that dies is
  replaced and its task run again);
- ``parallel``: one process per core, for lists of sentences;
- ``stream``, ``lines``, ``windows``: files of any size, read
  incrementally, translated window by window, written in order, resumed
  after an interruption;
- ``dask``: the same across machines.

Does not: measure (``nmt8.lab``).
"""
