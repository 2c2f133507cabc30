/*
 * nmt8_select.h -- beam search's choice of the best one-word extensions
 * of several sentences at once, exactly as nmt8.search.select.select_numpy
 * (the reference):
 *
 * sentence g owns rows [start_g, start_g + counts[g]) of logp (P, V)
 * float32 and keeps the wants[g] largest logp[r, w] + offset[r] (float64)
 * over its rows, best first, ties by (row, word).  Its lower bound: the
 * wants-th largest row maximum (m[r] + offset[r]) when it has that many
 * rows, else the largest over its rows of the wants-th largest entry plus
 * offset (none when it has no more entries than it wants); entries below
 * the bound less a small margin are skipped with a vector compare, the
 * others scored in double and kept in a sorted list of at most wants.
 *
 * rows, words (int64) and scores (float64): per sentence wants[g] slots,
 * sentence g's at sum_{h<g} wants[h]; n_kept[g] how many it got (fewer
 * only when it has fewer entries).  m (P,) float32 each row's maximum, or
 * NULL to compute it.  wants[g] in [1, 64].  isa as in nmt8_attention.h.
 * Returns NMT8_OK, NMT8_EUNSUPPORTED, NMT8_EBADARG or NMT8_ENOMEM.
 */
#ifndef NMT8_SELECT_H
#define NMT8_SELECT_H

#include <stdint.h>

int nmt8_select(int64_t *rows, int64_t *words, double *scores,
                int64_t *n_kept, const float *logp, const double *offset,
                const float *m, const int64_t *counts, const int64_t *wants,
                int64_t G, int64_t P, int64_t V, int isa);

#endif
