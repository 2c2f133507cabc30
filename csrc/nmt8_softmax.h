/*
 * nmt8_softmax.h -- the log-sum-exp of each row of a (P, V) float32
 * matrix, what beam search subtracts from the logits (log-softmax) without
 * writing the (P, V) result:
 *
 *   m[p] = max_v x[p, v],  lse[p] = m[p] + log(sum_v exp(x[p, v] - m[p]))
 *
 * in one pass per row after the maximum: exp is nmt8_mathf.h's (x - m
 * clamped at -87: a term below 2e-38 instead of 0, invisible in a sum of
 * at least 1), the terms summed in double, entry v into partial sum
 * v mod 16, the 16 sums added in a fixed tree, so the portable, AVX2+FMA
 * and AVX-512 paths give the same bits.  Each row alone: a row's numbers
 * do not depend on the other rows.  A row with a NaN gets NaN; a row
 * whose maximum is +-inf gets lse = m.
 *
 * lse (P,) double; m (P,) float32; x (P, V) float32, row stride ld >= V;
 * isa as in nmt8_attention.h.  Returns NMT8_OK, NMT8_EUNSUPPORTED or
 * NMT8_EBADARG (nothing written).
 */
#ifndef NMT8_SOFTMAX_H
#define NMT8_SOFTMAX_H

#include <stdint.h>

int nmt8_row_logsumexp(double *lse, float *m, const float *x, int64_t ld,
                       int64_t P, int64_t V, int isa);

#endif
