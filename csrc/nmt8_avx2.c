/*
 * nmt8_avx2.c -- two AVX2 versions of the kernel of Section 3 of Quinn &
 * Ballesteros 2018, both with the paper's naive shape (4 weight rows at a
 * time, no blocking or packing):
 *
 *   avx2     the SSE4 kernel at 256 bits: widen to int16 (vpmovsxbw), then
 *            vpmaddwd into int32.  Exact.  Same liberties as nmt8_sse4.c
 *            (rows of X per weight load, prefetch, masked last chunk).
 *   maddubs  a teaching variant, NOT exact: vpmaddubsw multiplies unsigned
 *            by signed bytes, so X is shifted by +128 into [1, 255] and
 *            w->wsum = 128 * sum_k W[o,k] is subtracted at the end.  The instruction
 *            SATURATES each pair sum (x0+128)*w0 + (x1+128)*w1 to int16,
 *            and 255 * 127 * 2 = 64770 does not fit: large values of
 *            matching sign are silently clipped.  The kernel reproduces
 *            that faithfully (its scalar tail too) so the damage can be
 *            shown; it is never chosen by default.  Its tail (K mod 16)
 *            stays scalar, so that the pairs (k, k + 1) stay aligned.
 */
#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

enum {
    AVX2_ROWS = 4,          /* weight rows at a time, as in the paper */
    AVX2_PT = 4,            /* rows of X per weight load */
    PREFETCH_BYTES = 8192,  /* software prefetch about this far ahead */
};

/* [sum a0, sum a1, sum a2, sum a3] for 4 vectors of 8 int32 */
AVX2 NMT8_INLINE __m128i hsum4(__m256i a0, __m256i a1, __m256i a2,
                               __m256i a3)
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1),
                                  _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(h),
                         _mm256_extracti128_si256(h, 1));
}

/* store nrows (<= 4) sums s to acc */
AVX2 NMT8_INLINE void store_rows(int32_t *acc, __m128i s, int nrows)
{
    if (nrows == AVX2_ROWS) {
        _mm_storeu_si128((__m128i *)acc, s);
    } else {
        int32_t t[AVX2_ROWS];
        _mm_storeu_si128((__m128i *)t, s);
        for (int r = 0; r < nrows; r++)
            acc[r] = t[r];
    }
}

/*
 * Software prefetch of a later group of 4 rows (4 K contiguous bytes) into
 * L2: each call fetches the next 64-byte line, so the 2 calls per 32 bytes
 * of k cover the group, and prefetch_last fetches its last line.  `at`
 * NULL: no prefetch (N < 4 or K = 0).  Into L2 (T1), not L1: when weights stream
 * from memory, T0 prefetches of this many lines were markedly slower
 * (bench kernels --stream measures both on your machine).
 */
typedef struct {
    const char *at, *last;
} prefetcher;

AVX2 NMT8_INLINE prefetcher prefetch_group(const int8_t *next, int64_t K)
{
    prefetcher pf = {(const char *)next,
                     next ? (const char *)next + AVX2_ROWS * K - 1 : NULL};
    return pf;
}

AVX2 NMT8_INLINE void prefetch_next(prefetcher *pf)
{
    if (pf->at == NULL)
        return;
    NMT8_PREFETCH(pf->at, _MM_HINT_T1);
    pf->at += 64;
}

AVX2 NMT8_INLINE void prefetch_last(const prefetcher *pf)
{
    if (pf->last != NULL)
        NMT8_PREFETCH(pf->last, _MM_HINT_T1);
}

/* 16 int8 at ptr (& mask) widened to 16 int16 */
AVX2 NMT8_INLINE __m256i widen16(const int8_t *ptr, __m128i mask)
{
    __m128i v = _mm_loadu_si128((const __m128i *)ptr);
    return _mm256_cvtepi8_epi16(_mm_and_si128(v, mask));
}

/* a[r][p] += w_r[k:k+16] . x_p for 16 int16 x_p = xw[p] (a half step) */
AVX2 NMT8_INLINE void avx2_half(__m256i a[AVX2_ROWS][AVX2_PT],
                                const int8_t *const wr[AVX2_ROWS], int64_t k,
                                const __m256i xw[AVX2_PT], int PT)
{
    const __m128i all = _mm_set1_epi8(-1);
    for (int r = 0; r < AVX2_ROWS; r++) {
        __m256i wv = widen16(wr[r] + k, all);
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm256_add_epi32(a[r][p], _mm256_madd_epi16(wv, xw[p]));
    }
}

/*
 * One group of 4 weight rows against PT (<= 4) rows of X, exact.
 * acc (PT, N) view, row stride N; wr: 4 weight rows of K int8 (missing
 * rows repeat a valid one); next: the first of 4 rows to prefetch, or
 * NULL; x (PT, K) int8, row stride K.
 */
AVX2 NMT8_INLINE void avx2_rows4(int32_t *acc, int64_t N,
                                 const int8_t *const wr[AVX2_ROWS],
                                 const int8_t *next, const int8_t *x,
                                 int64_t K, int nrows, int PT)
{
    prefetcher pf = prefetch_group(next, K);
    const __m128i all = _mm_set1_epi8(-1);
    __m256i a[AVX2_ROWS][AVX2_PT];
    for (int r = 0; r < AVX2_ROWS; r++)
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i xl[AVX2_PT], xh[AVX2_PT];
        prefetch_next(&pf);
        prefetch_next(&pf);
        for (int p = 0; p < PT; p++) {
            xl[p] = widen16(x + p * K + k, all);
            xh[p] = widen16(x + p * K + k + 16, all);
        }
        for (int r = 0; r < AVX2_ROWS; r++) {
            __m256i wl = widen16(wr[r] + k, all);
            __m256i wh = widen16(wr[r] + k + 16, all);
            for (int p = 0; p < PT; p++) {
                a[r][p] = _mm256_add_epi32(a[r][p], _mm256_madd_epi16(wl, xl[p]));
                a[r][p] = _mm256_add_epi32(a[r][p], _mm256_madd_epi16(wh, xh[p]));
            }
        }
    }
    prefetch_last(&pf);
    __m256i xw[AVX2_PT];
    if (k + 16 <= K) {
        for (int p = 0; p < PT; p++)
            xw[p] = widen16(x + p * K + k, all);
        avx2_half(a, wr, k, xw, PT);
        k += 16;
    }
    int scalar_tail = 0;
    if (k < K && K >= 16) {
        /* the last 16 bytes of each row, with x zeroed where already done */
        __m128i mask = _mm_loadu_si128((const __m128i *)(NMT8_TAIL_MASK + (K - k)));
        for (int p = 0; p < PT; p++)
            xw[p] = widen16(x + p * K + K - 16, mask);
        avx2_half(a, wr, K - 16, xw, PT);
    } else if (k < K) {
        scalar_tail = 1;                            /* K < 16 */
    }
    for (int p = 0; p < PT; p++) {
        __m128i s = hsum4(a[0][p], a[1][p], a[2][p], a[3][p]);
        if (scalar_tail) {
            int32_t t[AVX2_ROWS];
            for (int r = 0; r < AVX2_ROWS; r++)
                t[r] = nmt8_dot_tail(wr[r], x + p * K, K);
            s = _mm_loadu_si128((const __m128i *)t);
        }
        store_rows(acc + p * N, s, nrows);
    }
}

/*
 * The same group with vpmaddubsw on X + 128, saturating like the hardware.
 * acc (PT, N) view; wr: 4 weight rows; next: rows to prefetch or NULL;
 * wsum (nrows,) int32, 128 * sum_k W of those rows; x (PT, K) int8
 * (shifted here).
 */
AVX2 NMT8_INLINE void maddubs_rows4(int32_t *acc, int64_t N,
                                    const int8_t *const wr[AVX2_ROWS],
                                    const int8_t *next, const int32_t *wsum,
                                    const int8_t *x, int64_t K, int nrows,
                                    int PT)
{
    prefetcher pf = prefetch_group(next, K);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i flip = _mm256_set1_epi8((char)NMT8_SHIFT_BYTE);
    __m256i a[AVX2_ROWS][AVX2_PT];
    for (int r = 0; r < AVX2_ROWS; r++)
        for (int p = 0; p < PT; p++)
            a[r][p] = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i xu[AVX2_PT];            /* x + 128 as uint8 */
        prefetch_next(&pf);
        prefetch_next(&pf);
        for (int p = 0; p < PT; p++)
            xu[p] = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *)(x + p * K + k)), flip);
        for (int r = 0; r < AVX2_ROWS; r++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(wr[r] + k));
            for (int p = 0; p < PT; p++) {
                __m256i t = _mm256_maddubs_epi16(xu[p], wv);  /* saturates */
                a[r][p] = _mm256_add_epi32(a[r][p], _mm256_madd_epi16(t, ones));
            }
        }
    }
    prefetch_last(&pf);
    if (k + 16 <= K) {
        /* a half step, the upper 16 lanes of x + 128 zero: still even pairs */
        __m256i xu[AVX2_PT];
        for (int p = 0; p < PT; p++)
            xu[p] = _mm256_zextsi128_si256(_mm_xor_si128(
                _mm_loadu_si128((const __m128i *)(x + p * K + k)),
                _mm256_castsi256_si128(flip)));
        for (int r = 0; r < AVX2_ROWS; r++) {
            __m256i wv = _mm256_zextsi128_si256(
                _mm_loadu_si128((const __m128i *)(wr[r] + k)));
            for (int p = 0; p < PT; p++) {
                __m256i t = _mm256_maddubs_epi16(xu[p], wv);
                a[r][p] = _mm256_add_epi32(a[r][p], _mm256_madd_epi16(t, ones));
            }
        }
        k += 16;
    }
    const __m128i corr = _mm_setr_epi32(wsum[0], wsum[1 % nrows],
                                        wsum[2 % nrows], wsum[3 % nrows]);
    for (int p = 0; p < PT; p++) {
        __m128i s = hsum4(a[0][p], a[1][p], a[2][p], a[3][p]);
        if (k < K) {
            int32_t t[AVX2_ROWS];
            for (int r = 0; r < AVX2_ROWS; r++)
                t[r] = nmt8_maddubs_tail(wr[r] + k, x + p * K + k, K - k);
            s = _mm_add_epi32(s, _mm_loadu_si128((const __m128i *)t));
        }
        store_rows(acc + p * N, _mm_sub_epi32(s, corr), nrows);
    }
}

/* one chunk of PT (<= 4) rows of X against all N weight rows */
AVX2 NMT8_INLINE void avx2_chunk(int32_t *acc, const nmt8_weights *w,
                                 const int8_t *x, int PT, int saturating)
{
    /* acc (PT, N) int32, row stride N; x (PT, K) int8 */
    const int64_t N = w->N, K = w->K;
    const int64_t group_bytes = AVX2_ROWS * (K > 0 ? K : 1);
    const int64_t groups_ahead = (PREFETCH_BYTES + group_bytes - 1) / group_bytes;
    for (int64_t o = 0; o < N; o += AVX2_ROWS) {
        int nrows = N - o < AVX2_ROWS ? (int)(N - o) : AVX2_ROWS;
        const int8_t *wr[AVX2_ROWS];
        for (int r = 0; r < AVX2_ROWS; r++)
            wr[r] = w->Wq + (o + (r < nrows ? r : 0)) * K;
        /* the group ~PREFETCH_BYTES ahead, or the last one near the end */
        int64_t ahead = o + groups_ahead * AVX2_ROWS;
        if (ahead + AVX2_ROWS > N)
            ahead = N >= AVX2_ROWS ? N - AVX2_ROWS : 0;
        /* no prefetch for fewer than 4 rows, or rows of no bytes */
        const int8_t *next = N >= AVX2_ROWS && K > 0 ? w->Wq + ahead * K
                                                     : NULL;
        if (saturating)
            maddubs_rows4(acc + o, N, wr, next, w->wsum + o, x, K, nrows, PT);
        else
            avx2_rows4(acc + o, N, wr, next, x, K, nrows, PT);
    }
}

AVX2 NMT8_INLINE void avx2_all(int32_t *acc, const nmt8_weights *w,
                               const int8_t *Xq, int64_t P, int saturating)
{
    /* acc (P, N) int32 row-major; Xq (P, K) int8 row-major */
    for (int64_t p0 = 0; p0 < P; p0 += AVX2_PT) {
        int64_t left = P - p0;
        int32_t *a = acc + p0 * w->N;
        const int8_t *x = Xq + p0 * w->K;
#define AVX2_CHUNK(PT) avx2_chunk(a, w, x, PT, saturating)
        NMT8_ROWS_UPTO4(left < AVX2_PT ? (int)left : AVX2_PT, AVX2_CHUNK)
#undef AVX2_CHUNK
    }
}

AVX2 int nmt8_accum_avx2(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P)
{
    /*
     * acc (P, N) int32 row-major; w->Wq (N, K) int8 row-major;
     * Xq (P, K) int8 row-major.  Exact.
     */
    if (nmt8_bad_args(w, P, 0))
        return NMT8_EBADARG;
    avx2_all(acc, w, Xq, P, 0);
    return NMT8_OK;
}

AVX2 int nmt8_accum_maddubs(int32_t *acc, const nmt8_weights *w,
                            const int8_t *Xq, int64_t P)
{
    /*
     * acc (P, N) int32 row-major; w->Wq (N, K) int8 row-major;
     * w->wsum (N,) int32; Xq (P, K) int8 row-major.  Saturates (see top).
     */
    if (nmt8_bad_args(w, P, NMT8_NEED_WSUM))
        return NMT8_EBADARG;
    avx2_all(acc, w, Xq, P, 1);
    return NMT8_OK;
}

#else /* not x86-64: only the portable reference exists */

int nmt8_accum_avx2(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

int nmt8_accum_maddubs(int32_t *acc, const nmt8_weights *w,
                       const int8_t *Xq, int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
