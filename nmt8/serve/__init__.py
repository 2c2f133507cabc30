"""Serving: text in, text out, on every core.

- ``text``: BPE subwords (SentencePiece);
- ``translator``: ``Translator``, text to text in one precision;
- ``threads``: one BLAS thread per sentence (threadpoolctl);
- ``parallel``: one process per core, for lists of sentences;
- ``stream``, ``lines``, ``windows``, ``pool``: files of any size, read
  incrementally, translated window by window, written in order;
- ``dask``: the same across machines.

Does not: measure (``nmt8.lab``).
"""
