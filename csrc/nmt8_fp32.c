/*
 * nmt8_fp32.c -- the portable part of the float32 baseline of Section 3
 * of Quinn & Ballesteros 2018 (the "similar optimized floating point
 * implementation" the int8 kernel is compared with): the reference
 * kernel `ref` and the checked entry point (the run-time choice of
 * kernel is nmt8_dispatch.c's).  The
 * vector kernels are in nmt8_fp32_simd.c.
 */
#include "nmt8_dispatch.h"
#include "nmt8_fp32.h"
#include "nmt8_ladder.h"

int64_t nmt8_ladder_prefetch = NMT8_LADDER_DEFAULT_PREFETCH;

int nmt8_set_ladder_prefetch(int64_t prefetch_bytes)
{
    if (prefetch_bytes < 0 || prefetch_bytes > NMT8_STREAM_MAX_PREFETCH
        || prefetch_bytes % 64 != 0)
        return NMT8_EBADARG;
    nmt8_ladder_prefetch = prefetch_bytes;
    return NMT8_OK;
}

int64_t nmt8_get_ladder_prefetch(void)
{
    return nmt8_ladder_prefetch;
}

/* ---------------------------------------------------------------- dispatch */

typedef int (*f32_fn)(float *, const float *, const float *, int64_t,
                      int64_t, int64_t);

/* every kernel, by id (nmt8_dispatch.c says which this CPU runs) */
#if defined(__x86_64__) && defined(__GNUC__)
static const f32_fn KERNEL[NMT8_F32_NUM_KERNELS] = {
    nmt8_f32_ref, nmt8_f32_avx2, nmt8_f32_avx512,
};
#else
static const f32_fn KERNEL[NMT8_F32_NUM_KERNELS] = {nmt8_f32_ref};
#endif

/* ------------------------------------------------------- reference kernel */

int nmt8_f32_ref(float *Y, const float *WT, const float *X, int64_t P,
                 int64_t N, int64_t K)
{
    /*
     * Y (P, N) float32; WT (N, K) float32; X (P, K) float32; all
     * row-major.  The plain triple loop, summed in k order: the
     * definition.
     */
    if (WT == NULL || P < 0 || N < 0 || K < 0)
        return NMT8_EBADARG;
    for (int64_t p = 0; p < P; p++) {
        const float *x_p = X + p * K;                   /* (K,) */
        for (int64_t o = 0; o < N; o++) {
            const float *w_o = WT + o * K;              /* (K,) */
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s += x_p[k] * w_o[k];
            Y[p * N + o] = s;
        }
    }
    return NMT8_OK;
}

/* ------------------------------------------------------------ entry point */

int nmt8_f32_matmul(int kernel, float *Y, const float *WT, const float *X,
                    const float *bias, int64_t P, int64_t N, int64_t K)
{
    /* Y (P, N); WT (N, K); X (P, K); bias (N,) or NULL; float32 */
    kernel = nmt8_resolve(NMT8_FAMILY_FP32, kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    if (Y == NULL || WT == NULL || X == NULL || P < 0 || N < 0 || K < 0
        || !NMT8_ALIGNED(Y, float) || !NMT8_ALIGNED(WT, float)
        || !NMT8_ALIGNED(X, float) || !NMT8_ALIGNED(bias, float))
        return NMT8_EBADARG;
    if (nmt8_any_nonfinite(X, P * K))
        return NMT8_ENONFINITE;
    if (bias && nmt8_any_nonfinite(bias, N))
        return NMT8_ENONFINITE_BIAS;
    int rc = KERNEL[kernel](Y, WT, X, P, N, K);
    if (rc != NMT8_OK || bias == NULL)
        return rc;
    for (int64_t p = 0; p < P; p++)
        for (int64_t o = 0; o < N; o++)
            Y[p * N + o] += bias[o];
    return NMT8_OK;
}
