/*
 * nmt8_int16.c -- the portable part of the int16 products (Devlin 2017;
 * Marian's int16), the 16-bit rung beside the 8-bit kernel of Section 3
 * of Quinn & Ballesteros 2018: the reference kernel `ref`, the
 * activation quantizer and the entry points (the run-time choice of
 * kernel is nmt8_dispatch.c's).  The
 * vector kernels are in nmt8_int16_simd.c; the exact design (|x| <=
 * 32767, |w| <= 8191, int32 lanes flushed into int64 every 4 pairs) is
 * explained in nmt8_int16.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmt8_dispatch.h"
#include "nmt8_int16.h"
#include "nmt8_ladder.h"

const int16_t NMT8_I16_TAIL[32] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* ---------------------------------------------------------------- dispatch */

typedef int (*i16_fn)(const nmt8_i16_out *, const int16_t *, const int16_t *,
                      int64_t, int64_t, int64_t);

/* every kernel, by id (nmt8_dispatch.c says which this CPU runs) */
#if defined(__x86_64__) && defined(__GNUC__)
static const i16_fn KERNEL[NMT8_I16_NUM_KERNELS] = {
    nmt8_i16_ref, nmt8_i16_sse4, nmt8_i16_avx2, nmt8_i16_vnni,
};
#else
static const i16_fn KERNEL[NMT8_I16_NUM_KERNELS] = {nmt8_i16_ref};
#endif

/* ----------------------------------------------------------- scalar tail */

NMT8_SCALAR int64_t nmt8_i16_dot_tail(const int16_t *w, const int16_t *x,
                                      int64_t n)
{
    /* w (n,) int16; x (n,) int16 */
    int64_t s = 0;
#if defined(__clang__)
#pragma clang loop vectorize(disable)
#endif
    for (int64_t k = 0; k < n; k++)
        s += (int64_t)w[k] * (int64_t)x[k];
    return s;
}

/* ------------------------------------------------------- reference kernel */

int nmt8_i16_ref(const nmt8_i16_out *out, const int16_t *Wq,
                 const int16_t *Xq, int64_t P, int64_t N, int64_t K)
{
    /*
     * Wq (N, K) int16 row-major; Xq (P, K) int16 row-major; results
     * (P, N) through out.  The plain triple loop in int64: the definition.
     */
    if (Wq == NULL || P < 0 || N < 0 || K < 0)
        return NMT8_EBADARG;
    for (int64_t p = 0; p < P; p++) {
        const int16_t *x_p = Xq + p * K;                /* (K,) */
        for (int64_t o = 0; o < N; o++) {
            const int16_t *w_o = Wq + o * K;            /* (K,) */
            int64_t s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (int64_t)w_o[k] * (int64_t)x_p[k];
            nmt8_i16_put(out, N, p, o, s);
        }
    }
    return NMT8_OK;
}

/* ------------------------------------------------ activation quantization */

/* q (K,) int16 = rint(x * s) for x (K,) float32, in double */
static void scale_row(int16_t *q, const float *x, double s, int64_t K)
{
    int64_t k = 0;
#if defined(__x86_64__)
    /* cvtpd rounds to nearest even, like rint and numpy's rint */
    const __m128d vs = _mm_set1_pd(s);
    for (; k + 4 <= K; k += 4) {
        __m128 v = _mm_loadu_ps(x + k);
        __m128i lo = _mm_cvtpd_epi32(_mm_mul_pd(_mm_cvtps_pd(v), vs));
        __m128i hi = _mm_cvtpd_epi32(
            _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)), vs));
        __m128i i4 = _mm_unpacklo_epi64(lo, hi);            /* 4 int32 */
        _mm_storel_epi64((__m128i *)(q + k), _mm_packs_epi32(i4, i4));
    }
#endif
    for (; k < K; k++)
        q[k] = (int16_t)rint((double)x[k] * s);
}

int nmt8_i16_quantize_rows(int16_t *Xq, float *x_step, const float *X,
                           int64_t P, int64_t K)
{
    /* Xq (P, K) int16; x_step (P,) float32; X (P, K) float32; row-major */
    if (P < 0 || K < 0 || !NMT8_ALIGNED(Xq, int16_t)
        || !NMT8_ALIGNED(x_step, float) || !NMT8_ALIGNED(X, float))
        return NMT8_EBADARG;
    if (nmt8_any_nonfinite(X, P * K))
        return NMT8_ENONFINITE;
    for (int64_t p = 0; p < P; p++) {
        const float *x = X + p * K;                     /* (K,) */
        float m = 0.0f;
        for (int64_t k = 0; k < K; k++)
            m = fabsf(x[k]) > m ? fabsf(x[k]) : m;
        if (m == 0.0f) {
            memset(Xq + p * K, 0, (size_t)K * sizeof(int16_t));
            x_step[p] = 0.0f;
            continue;
        }
        /* |x| <= m, so |x * scale| <= 32767 and no clamp is needed */
        scale_row(Xq + p * K, x, (double)NMT8_I16_X_MAX / (double)m, K);
        x_step[p] = (float)((double)m / (double)NMT8_I16_X_MAX);
    }
    return NMT8_OK;
}

/* ------------------------------------------------------------ entry points */

static int bad_args(const int16_t *Wq, const int16_t *Xq, int64_t P,
                    int64_t N, int64_t K)
{
    return Wq == NULL || Xq == NULL || P < 0 || N < 0 || K < 0
        || !NMT8_ALIGNED(Wq, int16_t) || !NMT8_ALIGNED(Xq, int16_t);
}

int nmt8_i16_accumulate(int kernel, int64_t *acc, const int16_t *Wq,
                        const int16_t *Xq, int64_t P, int64_t N, int64_t K)
{
    /* acc (P, N) int64; Wq (N, K) int16; Xq (P, K) int16 */
    kernel = nmt8_resolve(NMT8_FAMILY_INT16, kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    if (acc == NULL || !NMT8_ALIGNED(acc, int64_t)
        || bad_args(Wq, Xq, P, N, K))
        return NMT8_EBADARG;
    nmt8_i16_out out = {acc, NULL, NULL, NULL, NULL};
    return KERNEL[kernel](&out, Wq, Xq, P, N, K);
}

int nmt8_i16_matmul(int kernel, float *Y, const int16_t *Wq,
                    const float *w_step, const float *X, const float *bias,
                    int64_t P, int64_t N, int64_t K)
{
    /* Y (P, N); Wq (N, K) int16; w_step (N,); X (P, K); bias (N,) */
    enum { STACK_BYTES = 16384, STACK_ROWS = 64 };
    int16_t xq_stack[STACK_BYTES / sizeof(int16_t)];    /* (P, K) if it fits */
    float step_stack[STACK_ROWS];                       /* (P,) if it fits */
    kernel = nmt8_resolve(NMT8_FAMILY_INT16, kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    if (Y == NULL || X == NULL || w_step == NULL || Wq == NULL || P < 0
        || N < 0 || K < 0 || !NMT8_ALIGNED(Y, float)
        || !NMT8_ALIGNED(w_step, float) || !NMT8_ALIGNED(bias, float)
        || !NMT8_ALIGNED(Wq, int16_t))
        return NMT8_EBADARG;
    if (bias && nmt8_any_nonfinite(bias, N))
        return NMT8_ENONFINITE_BIAS;
    const size_t nq = (size_t)P * (size_t)K * sizeof(int16_t);
    int16_t *Xq = nq <= STACK_BYTES ? xq_stack : malloc(nq);
    float *x_step = P <= STACK_ROWS ? step_stack
                                    : malloc((size_t)P * sizeof(float));
    const nmt8_i16_out out = {NULL, Y, x_step, w_step, bias};
    int rc = NMT8_ENOMEM;
    if (Xq == NULL || x_step == NULL)
        goto done;
    rc = nmt8_i16_quantize_rows(Xq, x_step, X, P, K);
    if (rc != NMT8_OK)
        goto done;
    rc = KERNEL[kernel](&out, Wq, Xq, P, N, K);
done:
    if (Xq != xq_stack)
        free(Xq);
    if (x_step != step_stack)
        free(x_step);
    return rc;
}
