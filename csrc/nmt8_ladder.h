/*
 * nmt8_ladder.h -- helpers shared by the fp32 and int16 kernels (the
 * rungs of the precision ladder beside int8): the row-group prefetcher
 * and the check for NaN and inf.  Not part of the cffi interface.
 */
#ifndef NMT8_LADDER_H
#define NMT8_LADDER_H

#include <stdint.h>
#include <string.h>

#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* the run-time prefetch distance of the fp32 and int16 vector kernels
 * (nmt8_set_ladder_prefetch, nmt8_kernels.h); 0: none */
extern int64_t nmt8_ladder_prefetch;

/* weight rows read side by side, as in the paper's kernel */
#define NMT8_GROUP_ROWS 4

/* nonzero when a (n,) float32 holds a NaN or an inf: exponent all ones */
static inline int nmt8_any_nonfinite(const float *a, int64_t n)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, a + i, sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

#if defined(__x86_64__)

/*
 * Software prefetch of a later group of 4 weight rows (one contiguous
 * stretch of `bytes` bytes) into L2, one 64-byte line per call of
 * nmt8_pf_next, and its last line by nmt8_pf_last.  A kernel calls
 * nmt8_pf_next once per 64 bytes of weights it consumes, so the calls
 * never pass the end of the group.  at == NULL: no prefetch.
 */
typedef struct {
    const char *at, *last;
} nmt8_pf;

NMT8_INLINE nmt8_pf nmt8_pf_group(const void *next, int64_t bytes)
{
    nmt8_pf pf = {(const char *)next,
                  next ? (const char *)next + bytes - 1 : NULL};
    return pf;
}

NMT8_INLINE void nmt8_pf_next(nmt8_pf *pf)
{
    if (pf->at == NULL)
        return;
    NMT8_PREFETCH(pf->at, _MM_HINT_T1);
    pf->at += 64;
}

NMT8_INLINE void nmt8_pf_last(const nmt8_pf *pf)
{
    if (pf->last != NULL)
        NMT8_PREFETCH(pf->last, _MM_HINT_T1);
}

/*
 * The first row of the group about `ahead_bytes` after the group at row
 * o (rows of row_bytes bytes), or the last full group near the end; -1
 * when there is nothing to prefetch (fewer than 4 rows, empty rows).
  * ahead_bytes <= 0: -1 too (no software prefetch).
 */
static inline int64_t nmt8_pf_row(int64_t o, int64_t N, int64_t row_bytes,
                                  int64_t ahead_bytes)
{
    if (N < NMT8_GROUP_ROWS || row_bytes <= 0 || ahead_bytes <= 0)
        return -1;
    const int64_t group = NMT8_GROUP_ROWS * row_bytes;
    int64_t ahead = o + NMT8_CEIL_DIV(ahead_bytes, group) * NMT8_GROUP_ROWS;
    if (ahead + NMT8_GROUP_ROWS > N)
        ahead = N - NMT8_GROUP_ROWS;
    return ahead;
}

#endif /* __x86_64__ */

/* ------------------------------------------------------ int16 epilogue */

#include "nmt8_int16.h"

/*
 * Put the exact sum s of output (p, o) where out says: the raw sum, or
 * (float)((s * x_step[p]) * w_step[o]) in double, plus the bias in
 * float.  One definition for every int16 kernel, so they agree bit for
 * bit (the build has -ffp-contract=off: no fused multiply-add).
 */
NMT8_INLINE void nmt8_i16_put(const nmt8_i16_out *out, int64_t N, int64_t p,
                              int64_t o, int64_t s)
{
    if (out->acc != NULL) {
        out->acc[p * N + o] = s;
        return;
    }
    float v = (float)(((double)s * (double)out->x_step[p])
                      * (double)out->w_step[o]);
    out->Y[p * N + o] = out->bias ? v + out->bias[o] : v;
}

/* sum_k w[k] * x[k] over n < 32 elements, in int64, never vectorised */
int64_t nmt8_i16_dot_tail(const int16_t *w, const int16_t *x, int64_t n);

/*
 * NMT8_I16_TAIL + r: 16 int16 whose last r are -1 (0 < r < 16); + 8 + r:
 * 8 int16 whose last r are -1 (0 < r < 8).  A row whose K is not a
 * multiple of the vector ends with a load of its last full vector, x
 * masked to zero where those elements were already counted.
 */
extern const int16_t NMT8_I16_TAIL[32];

#endif /* NMT8_LADDER_H */
