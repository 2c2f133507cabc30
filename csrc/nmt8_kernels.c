/*
 * nmt8_kernels.c -- the portable part of the 8-bit matrix multiply of
 * Section 3 of Quinn & Ballesteros 2018: the reference kernel `ref`, the
 * activation quantizer, the float epilogue and the run-time dispatch to
 * the ISA-specific kernels (nmt8_sse4.c, nmt8_avx2.c, nmt8_vnni.c).
 *
 * Everything here compiles for any target.  On x86-64 the quantizer and
 * the epilogue use SSE2, which every x86-64 CPU has; elsewhere they are
 * plain C with the same results.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- dispatch */

int nmt8_cpu_supports(int kernel)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    switch (kernel) {
    case NMT8_KERNEL_REF:
        return 1;
    case NMT8_KERNEL_SSE4:
        return __builtin_cpu_supports("ssse3")
            && __builtin_cpu_supports("sse4.1");
    case NMT8_KERNEL_AVX2:
    case NMT8_KERNEL_MADDUBS:
        return __builtin_cpu_supports("avx2");
    case NMT8_KERNEL_VNNI:
        return __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512vnni");
    default:
        return 0;
    }
#else
    return kernel == NMT8_KERNEL_REF;
#endif
}

typedef int (*accum_fn)(int32_t *, const nmt8_weights *, const int8_t *,
                        int64_t);

static const accum_fn ACCUM[NMT8_NUM_KERNELS] = {
    nmt8_accum_ref, nmt8_accum_sse4, nmt8_accum_avx2, nmt8_accum_vnni,
    nmt8_accum_maddubs,
};

/* the kernel for an id, or NULL when unknown or unsupported on this CPU */
static accum_fn pick(int kernel)
{
    if (kernel < 0 || kernel >= NMT8_NUM_KERNELS)
        return NULL;
    if (!nmt8_cpu_supports(kernel))
        return NULL;
    return ACCUM[kernel];
}

static int bad_weights(const nmt8_weights *w, int64_t P)
{
    return w == NULL || w->Wq == NULL || w->sw == NULL || w->N < 0
        || w->K < 0 || P < 0;
}

/* ----------------------------------------------------------- scalar tails */

NMT8_SCALAR int32_t nmt8_dot_tail(const int8_t *w, const int8_t *x,
                                  int64_t n)
{
    /* w (n,) int8; x (n,) int8 */
    int32_t s = 0;
#if defined(__clang__)
#pragma clang loop vectorize(disable)
#endif
    for (int64_t k = 0; k < n; k++)
        s += (int32_t)w[k] * (int32_t)x[k];
    return s;
}

NMT8_SCALAR int32_t nmt8_maddubs_tail(const int8_t *w, const int8_t *x,
                                      int64_t n)
{
    /* w (n,) int8; x (n,) int8, shifted to uint8 here as the kernel does */
    int32_t s = 0;
#if defined(__clang__)
#pragma clang loop vectorize(disable)
#endif
    for (int64_t k = 0; k < n; k += 2) {
        int32_t t = ((int32_t)x[k] + 128) * (int32_t)w[k];
        if (k + 1 < n)
            t += ((int32_t)x[k + 1] + 128) * (int32_t)w[k + 1];
        /* the int16 saturation of the pair sum, as (v)pmaddubsw does */
        if (t > 32767)
            t = 32767;
        if (t < -32768)
            t = -32768;
        s += t;
    }
    return s;
}

void nmt8_shift_u8(uint8_t *xu, const int8_t *Xq, int64_t K, int64_t K4)
{
    /* xu (K4,) uint8; Xq (K,) int8 */
    for (int64_t k = 0; k < K; k++)
        xu[k] = (uint8_t)((uint8_t)Xq[k] ^ 0x80u);
    for (int64_t k = K; k < K4; k++)
        xu[k] = 0x80u;
}

/* ------------------------------------------------------- reference kernel */

int nmt8_accum_ref(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                   int64_t P)
{
    /*
     * acc (P, N) int32 row-major; w->Wq (N, K) int8 row-major;
     * Xq (P, K) int8 row-major.  The plain triple loop: the definition
     * every other kernel is checked against.
     */
    if (bad_weights(w, P))
        return NMT8_EBADARG;
    const int64_t N = w->N, K = w->K;
    for (int64_t o = 0; o < N; o++) {
        const int8_t *w_o = w->Wq + o * K;           /* (K,) */
        for (int64_t p = 0; p < P; p++) {
            const int8_t *x_p = Xq + p * K;          /* (K,) */
            int32_t s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (int32_t)w_o[k] * (int32_t)x_p[k];
            acc[p * N + o] = s;
        }
    }
    return NMT8_OK;
}

/* ------------------------------------------------ activation quantization */

#if defined(__x86_64__)

/* q (16,) int8 = clamp(rint(x * s), -127, 127) for x (16,) float32 */
static inline void quantize16(int8_t *q, const float *x, __m128 s)
{
    const __m128i lo = _mm_set1_epi16(-127), hi = _mm_set1_epi16(127);
    /* cvtps rounds to nearest even, like rintf and numpy's rint */
    __m128i i0 = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + 0), s));
    __m128i i1 = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + 4), s));
    __m128i i2 = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + 8), s));
    __m128i i3 = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + 12), s));
    __m128i h0 = _mm_min_epi16(_mm_max_epi16(_mm_packs_epi32(i0, i1), lo), hi);
    __m128i h1 = _mm_min_epi16(_mm_max_epi16(_mm_packs_epi32(i2, i3), lo), hi);
    _mm_storeu_si128((__m128i *)q, _mm_packs_epi16(h0, h1));
}

static int quantize_row(int8_t *q, float *sx, const float *x, int64_t K)
{
    /* q (K,) int8; sx scalar; x (K,) float32 */
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    __m128 vmax = _mm_setzero_ps(), vnan = _mm_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        __m128 v = _mm_loadu_ps(x + k);
        vmax = _mm_max_ps(vmax, _mm_and_ps(v, absmask));
        vnan = _mm_or_ps(vnan, _mm_cmpunord_ps(v, v));
    }
    float lanes[4];
    _mm_storeu_ps(lanes, vmax);
    float m = lanes[0];
    for (int i = 1; i < 4; i++)
        m = lanes[i] > m ? lanes[i] : m;
    int nan = _mm_movemask_ps(vnan);
    for (; k < K; k++) {
        float a = fabsf(x[k]);
        nan |= x[k] != x[k];
        m = a > m ? a : m;
    }
    if (nan || m > FLT_MAX)
        return NMT8_ENONFINITE;
    if (m == 0.0f) {
        memset(q, 0, (size_t)K);
        *sx = 0.0f;
        return NMT8_OK;
    }
    const float s = 127.0f / m;     /* the paper's scale */
    *sx = m / 127.0f;               /* the multiplier back to floats */
    const __m128 vs = _mm_set1_ps(s);
    for (k = 0; k + 16 <= K; k += 16)
        quantize16(q + k, x + k, vs);
    if (k < K) {
        /* same instructions on a zero-padded copy: same rounding */
        float xt[16] = {0};
        int8_t qt[16];
        memcpy(xt, x + k, (size_t)(K - k) * sizeof(float));
        quantize16(qt, xt, vs);
        memcpy(q + k, qt, (size_t)(K - k));
    }
    return NMT8_OK;
}

#else /* portable */

static int quantize_row(int8_t *q, float *sx, const float *x, int64_t K)
{
    /* q (K,) int8; sx scalar; x (K,) float32 */
    float m = 0.0f;
    int nan = 0;
    for (int64_t k = 0; k < K; k++) {
        float a = fabsf(x[k]);
        nan |= x[k] != x[k];
        m = a > m ? a : m;
    }
    if (nan || m > FLT_MAX)
        return NMT8_ENONFINITE;
    if (m == 0.0f) {
        memset(q, 0, (size_t)K);
        *sx = 0.0f;
        return NMT8_OK;
    }
    const float s = 127.0f / m;
    *sx = m / 127.0f;
    for (int64_t k = 0; k < K; k++) {
        float r = rintf(x[k] * s);  /* nearest even in the default mode */
        r = r > 127.0f ? 127.0f : r;
        r = r < -127.0f ? -127.0f : r;
        q[k] = (int8_t)r;
    }
    return NMT8_OK;
}

#endif

int nmt8_quantize_rows(int8_t *Xq, float *sx, const float *X, int64_t P,
                       int64_t K)
{
    /* Xq (P, K) int8 row-major; sx (P,) float32; X (P, K) float32 */
    if (P < 0 || K < 0)
        return NMT8_EBADARG;
    for (int64_t p = 0; p < P; p++) {
        int rc = quantize_row(Xq + p * K, sx + p, X + p * K, K);
        if (rc != NMT8_OK)
            return rc;
    }
    return NMT8_OK;
}

/* --------------------------------------------------------------- epilogue */

/*
 * Y[p,o] = (float)acc[p,o] * (sx[p] * sw[o]) + bias[o], in that order, so
 * numpy can reproduce it bit for bit.  Y (P, N) float32 and acc (P, N)
 * int32 may be the same memory (the kernels accumulate into Y); sx (P,);
 * sw (N,); bias (N,) or NULL.
 */
static void epilogue(float *Y, const int32_t *acc, const float *sx,
                     const float *sw, const float *bias, int64_t P,
                     int64_t N)
{
    for (int64_t p = 0; p < P; p++) {
        float *y = Y + p * N;
        const int32_t *a = acc + p * N;
        const float sp = sx[p];
        int64_t o = 0;
#if defined(__x86_64__)
        /* explicit SSE2: in place, where auto-vectorisation would give up */
        const __m128 vsp = _mm_set1_ps(sp);
        for (; o + 4 <= N; o += 4) {
            __m128 s = _mm_mul_ps(vsp, _mm_loadu_ps(sw + o));
            __m128 v = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(a + o)));
            v = _mm_mul_ps(v, s);
            if (bias)
                v = _mm_add_ps(v, _mm_loadu_ps(bias + o));
            _mm_storeu_ps(y + o, v);
        }
#endif
        for (; o < N; o++) {
            float v = (float)a[o] * (sp * sw[o]);
            y[o] = bias ? v + bias[o] : v;
        }
    }
}

/* ------------------------------------------------------------ entry points */

int nmt8_accumulate(int kernel, int32_t *acc, const nmt8_weights *w,
                    const int8_t *Xq, int64_t P)
{
    /* acc (P, N) int32; Xq (P, K) int8 */
    accum_fn f = pick(kernel);
    if (f == NULL)
        return NMT8_EUNSUPPORTED;
    return f(acc, w, Xq, P);
}

int nmt8_matmul_q(int kernel, float *Y, const nmt8_weights *w,
                  const int8_t *Xq, const float *sx, const float *bias,
                  int64_t P)
{
    /* Y (P, N) float32; Xq (P, K) int8; sx (P,) float32; bias (N,) */
    accum_fn f = pick(kernel);
    if (f == NULL)
        return NMT8_EUNSUPPORTED;
    int rc = f((int32_t *)Y, w, Xq, P);     /* accumulate in place */
    if (rc != NMT8_OK)
        return rc;
    epilogue(Y, (const int32_t *)Y, sx, w->sw, bias, P, w->N);
    return NMT8_OK;
}

int nmt8_matmul_f32(int kernel, float *Y, const nmt8_weights *w,
                    const float *X, const float *bias, int64_t P)
{
    /* Y (P, N) float32; X (P, K) float32; bias (N,) float32 or NULL */
    enum { STACK_BYTES = 16384, STACK_ROWS = 64 };
    int8_t xq_stack[STACK_BYTES];               /* (P, K) when it fits */
    float sx_stack[STACK_ROWS];                 /* (P,) when it fits */
    accum_fn f = pick(kernel);
    if (f == NULL)
        return NMT8_EUNSUPPORTED;
    if (bad_weights(w, P))
        return NMT8_EBADARG;
    const size_t nq = (size_t)P * (size_t)w->K;
    int8_t *Xq = nq <= STACK_BYTES ? xq_stack : malloc(nq);
    float *sx = P <= STACK_ROWS ? sx_stack : malloc((size_t)P * sizeof(float));
    int rc = NMT8_ENOMEM;
    if (Xq == NULL || sx == NULL)
        goto done;
    rc = nmt8_quantize_rows(Xq, sx, X, P, w->K);
    if (rc != NMT8_OK)
        goto done;
    rc = f((int32_t *)Y, w, Xq, P);         /* accumulate in place */
    if (rc != NMT8_OK)
        goto done;
    epilogue(Y, (const int32_t *)Y, sx, w->sw, bias, P, w->N);
done:
    if (Xq != xq_stack)
        free(Xq);
    if (sx != sx_stack)
        free(sx);
    return rc;
}
