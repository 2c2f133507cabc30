/*
 * nmt8_int16_simd.c -- the int16 products (Devlin 2017; Marian's int16)
 * with vector instructions, built like the paper's int8 kernel
 * (Section 3 of Quinn & Ballesteros 2018): naive, 4 weight rows at a
 * time, each weight vector serving up to 2 (sse4, avx2) or 3 (vnni) rows
 * of X, the group about nmt8_ladder_prefetch bytes ahead (run-time,
 * nmt8_kernels.h) prefetched into L2.
 *
 *   sse4  pmaddwd on 8 int16, into 4 int32 lanes;
 *   avx2  vpmaddwd on 16 int16, into 8 int32 lanes;
 *   vnni  AVX-512 VNNI vpdpwssd on 32 int16, multiply and add into 16
 *         int32 lanes in one instruction.
 *
 * Exact: after NMT8_I16_FLUSH = 4 steps the int32 lanes (at most
 * 4 * 2 * 32767 * 8191 < 2^31, see nmt8_int16.h) are widened and added
 * into int64 lanes.  The last K mod 8 (16) elements of a row are read as
 * the row's last full vector with x masked to zero where already counted
 * (a scalar loop for rows shorter than one vector); vnni uses masked
 * loads instead.
 */
#include "nmt8_int16.h"
#include "nmt8_ladder.h"

#if defined(__x86_64__)

#define SSE4 __attribute__((target("sse4.1")))
#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

enum {
    ROWS = NMT8_GROUP_ROWS,     /* weight rows at a time, as in the paper */
    PT = 2,                     /* rows of X per weight load, sse4/avx2 */
    PT_VNNI = 3,                /* ... vnni (32 registers) */
    FLUSH = NMT8_I16_FLUSH,     /* int32 steps before widening to int64 */
};

/* the group of 4 rows to prefetch for the group at row o, or NULL */
NMT8_INLINE const int16_t *ahead_of(const int16_t *Wq, int64_t o, int64_t N,
                                    int64_t K)
{
    int64_t r = nmt8_pf_row(o, N, K * (int64_t)sizeof(int16_t),
                            nmt8_ladder_prefetch);
    return r < 0 ? NULL : Wq + r * K;
}

/*
 * One kernel body per ISA, from one template: VEC the vector type, V
 * int16 per vector, LINES prefetches per step (4 rows x 2 V bytes / 64),
 * and the ISA's load, multiply-add, flush, masked tail and sum.
 *
 * I16_ROWS4 computes one group of 4 weight rows against PT_ (<= PTMAX)
 * rows of X: wr 4 weight rows of K int16 (missing rows repeat a valid
 * one), next the group to prefetch or NULL, x (PT_, K) int16 row stride
 * K; puts outputs (p0 + p, o + r) for r < nrows through out.
 */
#define I16_ROWS4(NAME, ATTR, VEC, V, LINES, PTMAX, ZERO, LOAD, MADD,      \
                  FLUSH64, TAIL, SUM64)                                     \
ATTR NMT8_INLINE void NAME(const nmt8_i16_out *out, int64_t N, int64_t o,   \
                           int64_t p0, const int16_t *const wr[ROWS],       \
                           const int16_t *next, const int16_t *x,           \
                           int64_t K, int nrows, int PT_)                   \
{                                                                           \
    nmt8_pf pf = nmt8_pf_group(next, ROWS * K * (int64_t)sizeof(int16_t)); \
    VEC c[ROWS][PTMAX], s[ROWS][PTMAX];                                     \
    for (int r = 0; r < ROWS; r++)                                          \
        for (int p = 0; p < PT_; p++)                                       \
            c[r][p] = s[r][p] = ZERO;                                       \
    int n = 0;                                                              \
    int64_t k = 0;                                                          \
    for (; k + V <= K; k += V) {                                            \
        for (int i = 0; i < LINES; i++)                                     \
            nmt8_pf_next(&pf);                                              \
        VEC xv[PTMAX];                                                      \
        for (int p = 0; p < PT_; p++)                                       \
            xv[p] = LOAD(x + p * K + k);                                    \
        for (int r = 0; r < ROWS; r++) {                                    \
            VEC wv = LOAD(wr[r] + k);                                       \
            for (int p = 0; p < PT_; p++)                                   \
                c[r][p] = MADD(c[r][p], wv, xv[p]);                         \
        }                                                                   \
        if (++n == FLUSH) {            /* 4 pairs per lane: widen */        \
            for (int r = 0; r < ROWS; r++)                                  \
                for (int p = 0; p < PT_; p++) {                             \
                    s[r][p] = FLUSH64(s[r][p], c[r][p]);                    \
                    c[r][p] = ZERO;                                         \
                }                                                           \
            n = 0;                                                          \
        }                                                                   \
    }                                                                       \
    nmt8_pf_last(&pf);                                                      \
    int scalar_tail = 0;                                                    \
    if (k < K)      /* one more step at most: n + 1 <= FLUSH */             \
        TAIL;                                                               \
    for (int p = 0; p < PT_; p++)                                           \
        for (int r = 0; r < nrows; r++) {                                   \
            int64_t t = SUM64(FLUSH64(s[r][p], c[r][p]));                   \
            if (scalar_tail)                                                \
                t = nmt8_i16_dot_tail(wr[r], x + p * K, K);                 \
            nmt8_i16_put(out, N, p0 + p, o + r, t);                         \
        }                                                                   \
}

/* the loop over groups of 4 rows and over chunks of rows of X */
#define I16_KERNEL(NAME, ROWS4, ATTR, PTMAX)                                \
ATTR NMT8_INLINE void NAME##_chunk(const nmt8_i16_out *out,                 \
                                   const int16_t *Wq, const int16_t *x,     \
                                   int64_t p0, int64_t N, int64_t K,        \
                                   int PT_)                                 \
{                                                                           \
    for (int64_t o = 0; o < N; o += ROWS) {                                 \
        int nrows = N - o < ROWS ? (int)(N - o) : ROWS;                     \
        const int16_t *wr[ROWS];                                            \
        for (int r = 0; r < ROWS; r++)                                      \
            wr[r] = Wq + (o + (r < nrows ? r : 0)) * K;                     \
        ROWS4(out, N, o, p0, wr, ahead_of(Wq, o, N, K), x, K, nrows, PT_);  \
    }                                                                       \
}                                                                           \
ATTR int NAME(const nmt8_i16_out *out, const int16_t *Wq,                   \
              const int16_t *Xq, int64_t P, int64_t N, int64_t K)           \
{                                                                           \
    /* Wq (N, K) int16; Xq (P, K) int16; row-major */                       \
    if (Wq == NULL || P < 0 || N < 0 || K < 0)                              \
        return NMT8_EBADARG;                                                \
    for (int64_t p0 = 0; p0 < P; p0 += PTMAX) {                             \
        const int16_t *x = Xq + p0 * K;                                     \
        switch (P - p0) {                                                   \
        case 1: NAME##_chunk(out, Wq, x, p0, N, K, 1); break;               \
        case 2: NAME##_chunk(out, Wq, x, p0, N, K, 2); break;               \
        default: NAME##_chunk(out, Wq, x, p0, N, K, PTMAX); break;          \
        }                                                                   \
    }                                                                       \
    return NMT8_OK;                                                         \
}

/* ------------------------------------------------------------------ sse4 */

#define SSE4_LOAD(ptr) _mm_loadu_si128((const __m128i *)(ptr))
#define SSE4_MADD(c, w, x) _mm_add_epi32((c), _mm_madd_epi16((w), (x)))

/* s + the 4 int32 lanes of c, widened: 2 int64 lanes */
SSE4 NMT8_INLINE __m128i sse4_flush(__m128i s, __m128i c)
{
    return _mm_add_epi64(s, _mm_add_epi64(_mm_cvtepi32_epi64(c),
                                          _mm_cvtepi32_epi64(_mm_srli_si128(c, 8))));
}

SSE4 NMT8_INLINE int64_t sse4_sum(__m128i s)
{
    return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

/* the last 8 int16 of each row, x masked where already counted */
#define SSE4_TAIL                                                           \
    do {                                                                    \
        if (K < 8) {                                                        \
            scalar_tail = 1;                                                \
            break;                                                          \
        }                                                                   \
        __m128i m = SSE4_LOAD(NMT8_I16_TAIL + 8 + (K - k));                 \
        __m128i xv[PT];                                                     \
        for (int p = 0; p < PT_; p++)                                       \
            xv[p] = _mm_and_si128(SSE4_LOAD(x + p * K + K - 8), m);         \
        for (int r = 0; r < ROWS; r++) {                                    \
            __m128i wv = SSE4_LOAD(wr[r] + K - 8);                          \
            for (int p = 0; p < PT_; p++)                                   \
                c[r][p] = SSE4_MADD(c[r][p], wv, xv[p]);                    \
        }                                                                   \
    } while (0)

I16_ROWS4(sse4_rows4, SSE4, __m128i, 8, 1, PT, _mm_setzero_si128(),
          SSE4_LOAD, SSE4_MADD, sse4_flush, SSE4_TAIL, sse4_sum)
I16_KERNEL(nmt8_i16_sse4, sse4_rows4, SSE4, PT)

/* ------------------------------------------------------------------ avx2 */

#define AVX2_LOAD(ptr) _mm256_loadu_si256((const __m256i *)(ptr))
#define AVX2_MADD(c, w, x) _mm256_add_epi32((c), _mm256_madd_epi16((w), (x)))

AVX2 NMT8_INLINE __m256i avx2_flush(__m256i s, __m256i c)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(c));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(c, 1));
    return _mm256_add_epi64(s, _mm256_add_epi64(lo, hi));
}

AVX2 NMT8_INLINE int64_t avx2_sum(__m256i s)
{
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s),
                              _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

#define AVX2_TAIL                                                           \
    do {                                                                    \
        if (K < 16) {                                                       \
            scalar_tail = 1;                                                \
            break;                                                          \
        }                                                                   \
        __m256i m = AVX2_LOAD(NMT8_I16_TAIL + (K - k));                     \
        __m256i xv[PT];                                                     \
        for (int p = 0; p < PT_; p++)                                       \
            xv[p] = _mm256_and_si256(AVX2_LOAD(x + p * K + K - 16), m);     \
        for (int r = 0; r < ROWS; r++) {                                    \
            __m256i wv = AVX2_LOAD(wr[r] + K - 16);                         \
            for (int p = 0; p < PT_; p++)                                   \
                c[r][p] = AVX2_MADD(c[r][p], wv, xv[p]);                    \
        }                                                                   \
    } while (0)

I16_ROWS4(avx2_rows4, AVX2, __m256i, 16, 2, PT, _mm256_setzero_si256(),
          AVX2_LOAD, AVX2_MADD, avx2_flush, AVX2_TAIL, avx2_sum)
I16_KERNEL(nmt8_i16_avx2, avx2_rows4, AVX2, PT)

/* ------------------------------------------------------------------ vnni */

#define VNNI_LOAD(ptr) _mm512_loadu_si512((const void *)(ptr))
#define VNNI_MADD(c, w, x) _mm512_dpwssd_epi32((c), (w), (x))

VNNI NMT8_INLINE __m512i vnni_flush(__m512i s, __m512i c)
{
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(c));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(c, 1));
    return _mm512_add_epi64(s, _mm512_add_epi64(lo, hi));
}

VNNI NMT8_INLINE int64_t vnni_sum(__m512i s)
{
    return _mm512_reduce_add_epi64(s);
}

/* the last K - k < 32 int16 through masked loads (zero elsewhere) */
#define VNNI_TAIL                                                           \
    do {                                                                    \
        const __mmask32 m = (__mmask32)((1u << (K - k)) - 1u);              \
        __m512i xv[PT_VNNI];                                                \
        for (int p = 0; p < PT_; p++)                                       \
            xv[p] = _mm512_maskz_loadu_epi16(m, x + p * K + k);             \
        for (int r = 0; r < ROWS; r++) {                                    \
            __m512i wv = _mm512_maskz_loadu_epi16(m, wr[r] + k);            \
            for (int p = 0; p < PT_; p++)                                   \
                c[r][p] = VNNI_MADD(c[r][p], wv, xv[p]);                    \
        }                                                                   \
    } while (0)

I16_ROWS4(vnni_rows4, VNNI, __m512i, 32, 4, PT_VNNI, _mm512_setzero_si512(),
          VNNI_LOAD, VNNI_MADD, vnni_flush, VNNI_TAIL, vnni_sum)
I16_KERNEL(nmt8_i16_vnni, vnni_rows4, VNNI, PT_VNNI)

#else /* not x86-64: only the portable reference exists */

#define I16_NONE(NAME)                                                      \
int NAME(const nmt8_i16_out *out, const int16_t *Wq, const int16_t *Xq,     \
         int64_t P, int64_t N, int64_t K)                                   \
{                                                                           \
    (void)out; (void)Wq; (void)Xq; (void)P; (void)N; (void)K;               \
    return NMT8_EUNSUPPORTED;                                               \
}
I16_NONE(nmt8_i16_sse4)
I16_NONE(nmt8_i16_avx2)
I16_NONE(nmt8_i16_vnni)

#endif
