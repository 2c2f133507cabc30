/*
 * nmt8_sse4.c -- the paper's kernel (Section 3 of Quinn & Ballesteros
 * 2018): "a naive implementation with no blocking or copy ... implemented
 * using Intel SSE4 vector instructions and computes 4 rows at a time".
 *
 * Four weight rows are read side by side; each 16-byte chunk is widened
 * to int16 (pmovsxbw) and multiplied-and-pair-added into int32 (pmaddwd),
 * which is exact: |w*x + w'*x'| <= 2 * 127 * 127 fits easily.
 *
 * Liberties taken over the paper, none of them blocking or packing:
 * - each weight chunk, once loaded, serves up to 4 rows of X (beam
 *   hypotheses), so the weights stream from memory once per call rather
 *   than once per row of X;
 * - each row of X is widened to int16 once per call (into xw), so the
 *   inner loop widens only weights: a fifth fewer pmovsxbw at P = 1;
 * - a software prefetch fetches the rows a few groups ahead into L2
 *   (T1), as one contiguous stretch per group: fetched into L1 row by
 *   row instead, the end of every row was left to a demand miss and
 *   weights streaming from memory arrived markedly slower (bench kernels
 *   --stream measures it on your machine);
 * - when K is not a multiple of 16, the rest of each row is read as the
 *   row's last 16 bytes, with the part of x already counted masked to
 *   zero: exact, and no scalar loop (a scalar loop remains for K < 16).
 *
 * What limits it: at P = 1 no single instruction is the bottleneck (in a
 * stand-alone test, variants with half the pmaddwd, or with no pmovsxbw
 * at all, ran no faster); the 128-bit loop's instruction count is, with
 * weights in L2 or L3 alike.
 */
#include <stdlib.h>

#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define SSE4 __attribute__((target("ssse3,sse4.1")))

enum {
    SSE4_ROWS = 4,          /* weight rows at a time, as in the paper */
    SSE4_PT = 4,            /* rows of X per weight load */
    PREFETCH_BYTES = 16384, /* software prefetch about this far ahead */
    XW_STACK = 8192,        /* int16 of widened X kept on the stack */
};

/* 8 int8 at ptr widened to 8 int16: one pmovsxbw from memory */
SSE4 NMT8_INLINE __m128i widen8(const int8_t *ptr)
{
    return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)ptr));
}

/* xl[p], xh[p]: x_p[k:k+16] from xw, x already widened to int16 */
SSE4 NMT8_INLINE void sse4_load_x(__m128i xl[SSE4_PT], __m128i xh[SSE4_PT],
                                  const int16_t *xw, int64_t K, int64_t k,
                                  int PT)
{
    for (int p = 0; p < PT; p++) {
        xl[p] = _mm_loadu_si128((const __m128i *)(xw + p * K + k));
        xh[p] = _mm_loadu_si128((const __m128i *)(xw + p * K + k + 8));
    }
}

/* the same for x_p[k:k+16] & mask */
SSE4 NMT8_INLINE void sse4_load_x_masked(__m128i xl[SSE4_PT],
                                         __m128i xh[SSE4_PT],
                                         const int8_t *x, int64_t K,
                                         int64_t k, __m128i mask, int PT)
{
    for (int p = 0; p < PT; p++) {
        __m128i xv = _mm_loadu_si128((const __m128i *)(x + p * K + k));
        xv = _mm_and_si128(xv, mask);
        xl[p] = _mm_cvtepi8_epi16(xv);
        xh[p] = _mm_cvtepi8_epi16(_mm_srli_si128(xv, 8));
    }
}

/* a[r][p] += w_r[k:k+16] . x_p, for the 4 rows r and PT rows p */
SSE4 NMT8_INLINE void sse4_madd(__m128i a[SSE4_ROWS][SSE4_PT],
                                const int8_t *const wr[SSE4_ROWS], int64_t k,
                                const __m128i xl[SSE4_PT],
                                const __m128i xh[SSE4_PT], int PT)
{
    for (int r = 0; r < SSE4_ROWS; r++) {
        __m128i wl = widen8(wr[r] + k), wh = widen8(wr[r] + k + 8);
        for (int p = 0; p < PT; p++) {
            a[r][p] = _mm_add_epi32(a[r][p], _mm_madd_epi16(wl, xl[p]));
            a[r][p] = _mm_add_epi32(a[r][p], _mm_madd_epi16(wh, xh[p]));
        }
    }
}

SSE4 NMT8_INLINE void sse4_step(__m128i a[SSE4_ROWS][SSE4_PT],
                                const int8_t *const wr[SSE4_ROWS],
                                const int16_t *xw, int64_t K, int64_t k,
                                int PT)
{
    __m128i xl[SSE4_PT], xh[SSE4_PT];
    sse4_load_x(xl, xh, xw, K, k, PT);
    sse4_madd(a, wr, k, xl, xh, PT);
}

/*
 * acc[p, o0 + r] for r < nrows (<= 4) and p < PT (<= 4).
 * acc (PT, N) int32 view, row stride N; wr: 4 pointers to weight rows of
 * K int8 (missing rows repeat a valid one); next: the first of 4 rows to
 * prefetch, or NULL; x (PT, K) int8 and xw the same widened to int16,
 * row stride K.
 */
SSE4 NMT8_INLINE void sse4_rows4(int32_t *acc, int64_t N,
                                 const int8_t *const wr[SSE4_ROWS],
                                 const int8_t *next, const int8_t *x,
                                 const int16_t *xw, int64_t K, int nrows,
                                 int PT)
{
    __m128i a[SSE4_ROWS][SSE4_PT];
    for (int r = 0; r < SSE4_ROWS; r++)
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm_setzero_si128();
    int64_t k = 0;
    /*
     * fetch a later group of 4 rows (4 K contiguous bytes) into L2, one
     * 64-byte line per 16-byte step: K / 16 steps cover its 4 K / 64 lines,
     * and the last line is fetched after the loop
     */
    const char *pf = (const char *)next;
    for (; k + 16 <= K; k += 16) {
        if (next) {
            NMT8_PREFETCH(pf, _MM_HINT_T1);
            pf += 64;
        }
        sse4_step(a, wr, xw, K, k, PT);
    }
    if (next)
        NMT8_PREFETCH((const char *)next + SSE4_ROWS * K - 1, _MM_HINT_T1);
    int scalar_tail = 0;
    if (k < K && K >= 16) {
        /* the last 16 bytes of each row, with x zeroed where already done */
        __m128i xl[SSE4_PT], xh[SSE4_PT];
        __m128i mask = _mm_loadu_si128((const __m128i *)(NMT8_TAIL_MASK + (K - k)));
        sse4_load_x_masked(xl, xh, x, K, K - 16, mask, PT);
        sse4_madd(a, wr, K - 16, xl, xh, PT);
    } else if (k < K) {
        scalar_tail = 1;                            /* K < 16 */
    }
    for (int p = 0; p < PT; p++) {
        /* [sum a[0][p], sum a[1][p], sum a[2][p], sum a[3][p]] */
        __m128i s = _mm_hadd_epi32(_mm_hadd_epi32(a[0][p], a[1][p]),
                                   _mm_hadd_epi32(a[2][p], a[3][p]));
        if (scalar_tail) {
            int32_t t[SSE4_ROWS];
            for (int r = 0; r < SSE4_ROWS; r++)
                t[r] = nmt8_dot_tail(wr[r], x + p * K, K);
            s = _mm_loadu_si128((const __m128i *)t);
        }
        if (nrows == SSE4_ROWS) {
            _mm_storeu_si128((__m128i *)(acc + p * N), s);
        } else {
            int32_t t[SSE4_ROWS];
            _mm_storeu_si128((__m128i *)t, s);
            for (int r = 0; r < nrows; r++)
                acc[p * N + r] = t[r];
        }
    }
}

/* one chunk of PT (<= 4) rows of X against all N weight rows */
SSE4 NMT8_INLINE void sse4_chunk(int32_t *acc, const int8_t *Wq,
                                 const int8_t *x, int16_t *xw, int64_t N,
                                 int64_t K, int PT)
{
    /* acc (PT, N) int32, row stride N; Wq (N, K) int8; x (PT, K) int8;
       xw: room for (PT, K) int16, filled here with x widened */
    const int64_t n = PT * K;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(xw + i), widen8(x + i));
    for (; i < n; i++)
        xw[i] = x[i];
    const int64_t group_bytes = SSE4_ROWS * (K > 0 ? K : 1);
    const int64_t groups_ahead = (PREFETCH_BYTES + group_bytes - 1) / group_bytes;
    for (int64_t o = 0; o < N; o += SSE4_ROWS) {
        int nrows = N - o < SSE4_ROWS ? (int)(N - o) : SSE4_ROWS;
        const int8_t *wr[SSE4_ROWS];
        for (int r = 0; r < SSE4_ROWS; r++)
            wr[r] = Wq + (o + (r < nrows ? r : 0)) * K;
        /* the group ~PREFETCH_BYTES ahead, or the last one near the end */
        int64_t ahead = o + groups_ahead * SSE4_ROWS;
        if (ahead + SSE4_ROWS > N)
            ahead = N >= SSE4_ROWS ? N - SSE4_ROWS : 0;
        /* no prefetch for fewer than 4 rows, or rows of no bytes */
        const int8_t *next = N >= SSE4_ROWS && K > 0 ? Wq + ahead * K : NULL;
        sse4_rows4(acc + o, N, wr, next, x, xw, K, nrows, PT);
    }
}

SSE4 int nmt8_accum_sse4(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P)
{
    /*
     * acc (P, N) int32 row-major; w->Wq (N, K) int8 row-major;
     * Xq (P, K) int8 row-major.  X is taken 4 rows at a time.
     */
    if (nmt8_bad_args(w, P, 0))
        return NMT8_EBADARG;
    const int64_t N = w->N, K = w->K;
    int16_t xw_stack[XW_STACK];
    int16_t *xw = SSE4_PT * K <= XW_STACK
        ? xw_stack : malloc((size_t)(SSE4_PT * K) * sizeof *xw);
    if (xw == NULL)
        return NMT8_ENOMEM;
    for (int64_t p0 = 0; p0 < P; p0 += SSE4_PT) {
        int64_t left = P - p0;
        int32_t *a = acc + p0 * N;
        const int8_t *x = Xq + p0 * K;
#define SSE4_CHUNK(PT) sse4_chunk(a, w->Wq, x, xw, N, K, PT)
        NMT8_ROWS_UPTO4(left < SSE4_PT ? (int)left : SSE4_PT, SSE4_CHUNK)
#undef SSE4_CHUNK
    }
    if (xw != xw_stack)
        free(xw);
    return NMT8_OK;
}

#else /* not x86-64: only the portable reference exists */

int nmt8_accum_sse4(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
