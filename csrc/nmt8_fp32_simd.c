/*
 * nmt8_fp32_simd.c -- the float32 baseline of Section 3 of Quinn &
 * Ballesteros 2018 with vector instructions, built like the paper's int8
 * kernel (nmt8_avx2.c): naive, no blocking or packing beyond the
 * transpose, 4 weight rows at a time.
 *
 *   avx2    8 floats per FMA3 vfmadd231ps;
 *   avx512  16 floats per AVX-512F vfmadd231ps.
 *
 * The same liberties as the int8 kernels, none of them blocking: each
 * weight vector, once loaded, serves several rows of X (3 for avx2, whose
 * 16 registers hold 12 accumulators; 5 for avx512, 20 accumulators, so a
 * beam of 5 reads the weights once: 2.0-2.7x numpy at P = 5 on the paper
 * shapes, weights streamed, against 1.1-1.4x with 4, measured on a
 * Sapphire Rapids-class Xeon); the 4-row group about
 * nmt8_ladder_prefetch bytes ahead (run-time, nmt8_kernels.h) is
 * prefetched into L2, one line per 64 bytes
 * consumed; the last K mod 8 (or 16) floats of a row are read with a
 * masked load, so there is no scalar loop.
 */
#include "nmt8_fp32.h"
#include "nmt8_ladder.h"

#if defined(__x86_64__)

#define AVX2F __attribute__((target("avx2,fma")))
#define AVX512F __attribute__((target("avx512f")))

enum {
    ROWS = NMT8_GROUP_ROWS,     /* weight rows at a time, as in the paper */
    PT2 = 3,                    /* rows of X per weight load, avx2 */
    PT5 = 5,                    /* ... avx512: a beam of 5 in one pass */
};

/* F32_MASK + 8 - r: 8 int32 whose first r are -1 (0 <= r <= 8) */
static const int32_t F32_MASK[16] = {
    -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* store nrows (<= 4) floats s to y */
NMT8_INLINE void store4(float *y, __m128 s, int nrows)
{
    if (nrows == ROWS) {
        _mm_storeu_ps(y, s);
    } else {
        float t[ROWS];
        _mm_storeu_ps(t, s);
        for (int r = 0; r < nrows; r++)
            y[r] = t[r];
    }
}

/* ------------------------------------------------------------------ avx2 */

/* [sum a0, sum a1, sum a2, sum a3] for 4 vectors of 8 floats */
AVX2F NMT8_INLINE __m128 hsum4_256(__m256 a0, __m256 a1, __m256 a2,
                                   __m256 a3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1),
                              _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/*
 * One group of 4 weight rows against PT (<= 3) rows of X.
 * y (PT, N) view, row stride N; wr: 4 weight rows of K floats (missing
 * rows repeat a valid one); next: the first of the 4 rows to prefetch,
 * or NULL; x (PT, K), row stride K.
 */
AVX2F NMT8_INLINE void avx2_rows4(float *y, int64_t N,
                                  const float *const wr[ROWS],
                                  const float *next, const float *x,
                                  int64_t K, int nrows, int PT)
{
    nmt8_pf pf = nmt8_pf_group(next, ROWS * K * (int64_t)sizeof(float));
    __m256 a[ROWS][PT2];
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        nmt8_pf_next(&pf);              /* 4 rows x 32 bytes: 2 lines */
        nmt8_pf_next(&pf);
        __m256 xv[PT2];
        for (int p = 0; p < PT; p++)
            xv[p] = _mm256_loadu_ps(x + p * K + k);
        for (int r = 0; r < ROWS; r++) {
            __m256 wv = _mm256_loadu_ps(wr[r] + k);
            for (int p = 0; p < PT; p++)
                a[r][p] = _mm256_fmadd_ps(wv, xv[p], a[r][p]);
        }
    }
    nmt8_pf_last(&pf);
    if (k < K) {                        /* the last K - k < 8 floats */
        __m256i m = _mm256_loadu_si256((const __m256i *)(F32_MASK + 8 - (K - k)));
        __m256 xv[PT2];
        for (int p = 0; p < PT; p++)
            xv[p] = _mm256_maskload_ps(x + p * K + k, m);
        for (int r = 0; r < ROWS; r++) {
            __m256 wv = _mm256_maskload_ps(wr[r] + k, m);
            for (int p = 0; p < PT; p++)
                a[r][p] = _mm256_fmadd_ps(wv, xv[p], a[r][p]);
        }
    }
    for (int p = 0; p < PT; p++)
        store4(y + p * N, hsum4_256(a[0][p], a[1][p], a[2][p], a[3][p]),
               nrows);
}

/* one chunk of PT (<= 3) rows of X against all N weight rows */
AVX2F NMT8_INLINE void avx2_chunk(float *y, const float *WT, const float *x,
                                  int64_t N, int64_t K, int PT)
{
    /* y (PT, N), row stride N; WT (N, K); x (PT, K) */
    for (int64_t o = 0; o < N; o += ROWS) {
        int nrows = N - o < ROWS ? (int)(N - o) : ROWS;
        const float *wr[ROWS];
        for (int r = 0; r < ROWS; r++)
            wr[r] = WT + (o + (r < nrows ? r : 0)) * K;
        int64_t ahead = nmt8_pf_row(o, N, K * (int64_t)sizeof(float),
                                    nmt8_ladder_prefetch);
        avx2_rows4(y + o, N, wr, ahead < 0 ? NULL : WT + ahead * K, x, K,
                   nrows, PT);
    }
}

AVX2F int nmt8_f32_avx2(float *Y, const float *WT, const float *X,
                        int64_t P, int64_t N, int64_t K)
{
    /* Y (P, N); WT (N, K); X (P, K); float32 row-major */
    if (WT == NULL || P < 0 || N < 0 || K < 0)
        return NMT8_EBADARG;
    for (int64_t p0 = 0; p0 < P; p0 += PT2) {
        float *y = Y + p0 * N;
        const float *x = X + p0 * K;
        switch (P - p0) {
        case 1: avx2_chunk(y, WT, x, N, K, 1); break;
        case 2: avx2_chunk(y, WT, x, N, K, 2); break;
        default: avx2_chunk(y, WT, x, N, K, 3); break;
        }
    }
    return NMT8_OK;
}

/* ---------------------------------------------------------------- avx512 */

/* the 16 floats of a folded to 8 (a[i] + a[i + 8]) */
AVX512F NMT8_INLINE __m256 fold512(__m512 a)
{
    __m256 lo = _mm512_castps512_ps256(a);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    return _mm256_add_ps(lo, hi);
}

/* [sum a0, ..., sum a3] for 4 vectors of 16 floats (the avx2 hsum4) */
AVX512F NMT8_INLINE __m128 hsum4_512(__m512 a0, __m512 a1, __m512 a2,
                                     __m512 a3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(fold512(a0), fold512(a1)),
                              _mm256_hadd_ps(fold512(a2), fold512(a3)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* avx2_rows4 at 512 bits: PT <= 5, masked last K mod 16 floats */
AVX512F NMT8_INLINE void avx512_rows4(float *y, int64_t N,
                                      const float *const wr[ROWS],
                                      const float *next, const float *x,
                                      int64_t K, int nrows, int PT)
{
    nmt8_pf pf = nmt8_pf_group(next, ROWS * K * (int64_t)sizeof(float));
    __m512 a[ROWS][PT5];
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm512_setzero_ps();
    int64_t k = 0;
    /*
     * The same steps with and without the prefetch, as two loops: with
     * the prefetch's test inside one loop gcc 12 copied accumulators
     * between registers and the stack on every step.
     */
#define AVX512_STEP                                                     \
    do {                                                                \
        __m512 xv[PT5];                                                 \
        for (int p = 0; p < PT; p++)                                    \
            xv[p] = _mm512_loadu_ps(x + p * K + k);                     \
        for (int r = 0; r < ROWS; r++) {                                \
            __m512 wv = _mm512_loadu_ps(wr[r] + k);                     \
            for (int p = 0; p < PT; p++)                                \
                a[r][p] = _mm512_fmadd_ps(wv, xv[p], a[r][p]);          \
        }                                                               \
    } while (0)
    if (next != NULL) {
        const char *at = (const char *)next;
        for (; k + 16 <= K; k += 16) {
            for (int i = 0; i < 4; i++) /* 4 rows x 64 bytes: 4 lines */
                NMT8_PREFETCH(at + 64 * i, _MM_HINT_T1);
            at += 256;
            AVX512_STEP;
        }
    } else {
        for (; k + 16 <= K; k += 16)
            AVX512_STEP;
    }
#undef AVX512_STEP
    nmt8_pf_last(&pf);
    if (k < K) {                        /* the last K - k < 16 floats */
        const __mmask16 m = (__mmask16)((1u << (K - k)) - 1u);
        __m512 xv[PT5];
        for (int p = 0; p < PT; p++)
            xv[p] = _mm512_maskz_loadu_ps(m, x + p * K + k);
        for (int r = 0; r < ROWS; r++) {
            __m512 wv = _mm512_maskz_loadu_ps(m, wr[r] + k);
            for (int p = 0; p < PT; p++)
                a[r][p] = _mm512_fmadd_ps(wv, xv[p], a[r][p]);
        }
    }
    for (int p = 0; p < PT; p++)
        store4(y + p * N, hsum4_512(a[0][p], a[1][p], a[2][p], a[3][p]),
               nrows);
}

AVX512F NMT8_INLINE void avx512_chunk(float *y, const float *WT,
                                      const float *x, int64_t N, int64_t K,
                                      int PT)
{
    /* y (PT, N), row stride N; WT (N, K); x (PT, K) */
    for (int64_t o = 0; o < N; o += ROWS) {
        int nrows = N - o < ROWS ? (int)(N - o) : ROWS;
        const float *wr[ROWS];
        for (int r = 0; r < ROWS; r++)
            wr[r] = WT + (o + (r < nrows ? r : 0)) * K;
        int64_t ahead = nmt8_pf_row(o, N, K * (int64_t)sizeof(float),
                                    nmt8_ladder_prefetch);
        avx512_rows4(y + o, N, wr, ahead < 0 ? NULL : WT + ahead * K, x, K,
                     nrows, PT);
    }
}

AVX512F int nmt8_f32_avx512(float *Y, const float *WT, const float *X,
                            int64_t P, int64_t N, int64_t K)
{
    /* Y (P, N); WT (N, K); X (P, K); float32 row-major */
    if (WT == NULL || P < 0 || N < 0 || K < 0)
        return NMT8_EBADARG;
    for (int64_t p0 = 0; p0 < P; p0 += PT5) {
        float *y = Y + p0 * N;
        const float *x = X + p0 * K;
#define AVX512_CHUNK(PT) avx512_chunk(y, WT, x, N, K, PT)
        switch (P - p0 < PT5 ? (int)(P - p0) : PT5) {
        case 1: AVX512_CHUNK(1); break;
        case 2: AVX512_CHUNK(2); break;
        case 3: AVX512_CHUNK(3); break;
        case 4: AVX512_CHUNK(4); break;
        default: AVX512_CHUNK(5); break;
        }
#undef AVX512_CHUNK
    }
    return NMT8_OK;
}

#else /* not x86-64: only the portable reference exists */

int nmt8_f32_avx2(float *Y, const float *WT, const float *X, int64_t P,
                  int64_t N, int64_t K)
{
    (void)Y; (void)WT; (void)X; (void)P; (void)N; (void)K;
    return NMT8_EUNSUPPORTED;
}

int nmt8_f32_avx512(float *Y, const float *WT, const float *X, int64_t P,
                    int64_t N, int64_t K)
{
    (void)Y; (void)WT; (void)X; (void)P; (void)N; (void)K;
    return NMT8_EUNSUPPORTED;
}

#endif
