"""Batched decoding: the paper's future work (Section 7), bit for bit.

The paper decodes one sentence per core; its conclusion names batch decoding
as future work. Here B sentences are decoded together: their live
hypotheses (k per sentence) are stacked as the rows of ONE matrix, so every
weight product of a step has P = sum of live rows instead of k, and the
output layer (the largest matrix) streams its weights once for the whole
batch instead of once per sentence.

**Batch invariance.** A sentence's numbers do not depend on its neighbours,
in int8 bit for bit:

* every int8 product quantizes each row of X on its own (one scale per row)
  and sums exactly in int32, so a row's result is the same in any batch;
* the encoder runs over B sources sorted by length, longest first, so at
  every position the sentences still running are a prefix of the rows: no
  padding enters a recurrence, and no mask is needed;
* attention, the initial state's mean and the softmax are computed per
  sentence over exactly its own source positions (no padded position enters
  a sum, whose rounding would depend on the padding);
* the search keeps each sentence's hypotheses, finished list and bound
  exactly as one-sentence search does (``nmt8.search.beam.SentenceSearch``).

The batched encoder and decoder step are ``Model.encode_batch`` and
``Model.step_batch``; the batched search is ``nmt8.search.beam.beam_search_batch``.
This module plans the batches: windows of sentences sorted by length, as
Marian's maxi-batch, and brings the results back in input order.

In fp32 the BLAS library picks its kernels by the number of rows, so a row's
float sums can round differently in another batch: fp32 output is usually
but not always identical, and nmt8 does not claim it.

Does not: tokenise (``nmt8.serve.translator``), or run several processes
(``nmt8.serve.parallel``, ``nmt8.serve.stream``, ``nmt8.serve.dask``).
"""

from __future__ import annotations

import numbers
import time

from nmt8.search.beam import beam_search_batch

MAX_BATCH = 1024  # sentences decoded at once: beyond this, memory, not speed


def check_batch_size(batch_size) -> int:
    """``batch_size`` as an int in 1..MAX_BATCH, or a clear error."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size must be an int, got "
                        f"{type(batch_size).__name__} {batch_size!r}")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}, got "
                         f"{batch_size}")
    return int(batch_size)


def plan(lengths, batch_size: int, window: int | None = None) -> list[list[int]]:
    """Cut sentences into batches of similar length, as Marian's maxi-batch.

    Each window of ``window`` consecutive sentences (default 16 x
    batch_size) is sorted by length and cut into batches of ``batch_size``;
    returns the batches as lists of indices into ``lengths``. Empty sources
    (length 0) are left out: they need no decoding.
    """
    check_batch_size(batch_size)
    window = window or 16 * batch_size
    out = []
    for w0 in range(0, len(lengths), window):
        idx = [i for i in range(w0, min(w0 + window, len(lengths)))
               if lengths[i] > 0]
        idx.sort(key=lambda i: lengths[i])
        out += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    return out


def translate_ids(models, sentences, batch_size: int, window: int | None = None,
                  max_lens=None, seconds: list | None = None,
                  **search) -> list[list]:
    """Beam search over many sentences of ids, ``batch_size`` at a time;
    results (n_best Hypothesis lists) in input order, ``[]`` for an empty
    source. ``search``: the keywords of ``nmt8.search.beam.beam_search_batch``.
    ``seconds``: a list to fill with each sentence's share of its batch's
    decode time (0 for an empty source)."""
    sentences = [list(s) for s in sentences]
    out: list[list] = [[] for _ in sentences]
    share = [0.0] * len(sentences)
    for idx in plan([len(s) for s in sentences], batch_size, window):
        ml = None if max_lens is None else [max_lens[i] for i in idx]
        t0 = time.perf_counter()
        hyps = beam_search_batch(models, [sentences[i] for i in idx],
                                 max_lens=ml, **search)
        dt = (time.perf_counter() - t0) / len(idx)
        for i, h in zip(idx, hyps):
            out[i], share[i] = h, dt
    if seconds is not None:
        seconds[:] = share
    return out
