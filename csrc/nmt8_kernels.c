/*
 * nmt8_kernels.c -- the portable part of the 8-bit matrix multiply of
 * Section 3 of Quinn & Ballesteros 2018: the reference kernel `ref`, the
 * activation quantizer, the float epilogue and the run-time dispatch to
 * the ISA-specific kernels (nmt8_sse4.c, nmt8_avx2.c, nmt8_vnni.c,
 * nmt8_gemm.c, nmt8_gemm_avx2.c).
 *
 * Everything here compiles for any target.  On x86-64 the quantizer and
 * the epilogue use SSE2, which every x86-64 CPU has; elsewhere they are
 * plain C with the same results.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmt8_dispatch.h"
#include "nmt8_amx.h"
#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

const int8_t NMT8_TAIL_MASK[32] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* ---------------------------------------------------------------- dispatch */

typedef int (*accum_fn)(int32_t *, const nmt8_weights *, const int8_t *,
                        int64_t);

/* a blocked kernel with the epilogue fused in (nmt8_internal.h) */
typedef int (*fused_fn)(float *, const nmt8_weights *, const int8_t *,
                        const float *, const float *, int64_t);

/* every kernel, by id: what nmt8_accumulate(id, ...) runs */
#if defined(__x86_64__) && defined(__GNUC__)
static const accum_fn ACCUM[NMT8_NUM_KERNELS] = {
    nmt8_accum_ref, nmt8_accum_sse4, nmt8_accum_avx2, nmt8_accum_vnni,
    nmt8_accum_maddubs, nmt8_accum_gemm, nmt8_accum_gemm_avx2,
    nmt8_accum_amx,
};
#else /* no run-time CPU detection: the portable reference only */
static const accum_fn ACCUM[NMT8_NUM_KERNELS] = {nmt8_accum_ref};
#endif

/*
 * The kernel id a call with P rows runs (the process's table for
 * NMT8_KERNEL_AUTO, nmt8_dispatch.h), or -1 when unknown or unsupported
 * on this CPU
 */
static int pick(int kernel, int64_t P)
{
    return nmt8_resolve(NMT8_FAMILY_INT8, kernel, P);
}

/* the fused version of a blocked kernel, which converts tile by tile */
static fused_fn fused(int kernel)
{
    return kernel == NMT8_KERNEL_GEMM        ? nmt8_gemm_fused
         : kernel == NMT8_KERNEL_GEMM_AVX2 ? nmt8_gemm_avx2_fused
         : kernel == NMT8_KERNEL_AMX       ? nmt8_amx_fused
                                           : NULL;
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
        int32_t t = ((int32_t)x[k] + NMT8_X_SHIFT) * (int32_t)w[k];
        if (k + 1 < n)
            t += ((int32_t)x[k + 1] + NMT8_X_SHIFT) * (int32_t)w[k + 1];
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
        xu[k] = (uint8_t)((uint8_t)Xq[k] ^ NMT8_SHIFT_BYTE);
    for (int64_t k = K; k < K4; k++)
        xu[k] = NMT8_X_SHIFT;
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
    if (nmt8_bad_args(w, P, 0))
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

/* max_k |x[k]| into *m; returns nonzero if x holds a NaN.  x (K,) float32 */
static int row_absmax(float *m, const float *x, int64_t K)
{
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    __m128 vmax = _mm_setzero_ps(), vnan = _mm_setzero_ps();
    /* four independent maxima: one chain would wait on max's latency */
    __m128 m0 = vmax, m1 = vmax, m2 = vmax, m3 = vmax;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m128 v0 = _mm_loadu_ps(x + k), v1 = _mm_loadu_ps(x + k + 4);
        __m128 v2 = _mm_loadu_ps(x + k + 8), v3 = _mm_loadu_ps(x + k + 12);
        m0 = _mm_max_ps(m0, _mm_and_ps(v0, absmask));
        m1 = _mm_max_ps(m1, _mm_and_ps(v1, absmask));
        m2 = _mm_max_ps(m2, _mm_and_ps(v2, absmask));
        m3 = _mm_max_ps(m3, _mm_and_ps(v3, absmask));
        vnan = _mm_or_ps(vnan, _mm_or_ps(_mm_cmpunord_ps(v0, v1),
                                         _mm_cmpunord_ps(v2, v3)));
    }
    vmax = _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3));
    for (; k + 4 <= K; k += 4) {
        __m128 v = _mm_loadu_ps(x + k);
        vmax = _mm_max_ps(vmax, _mm_and_ps(v, absmask));
        vnan = _mm_or_ps(vnan, _mm_cmpunord_ps(v, v));
    }
    float lanes[4];
    _mm_storeu_ps(lanes, vmax);
    float a_max = lanes[0];
    for (int i = 1; i < 4; i++)
        a_max = lanes[i] > a_max ? lanes[i] : a_max;
    int nan = _mm_movemask_ps(vnan);
    for (; k < K; k++) {
        float a = fabsf(x[k]);
        nan |= x[k] != x[k];
        a_max = a > a_max ? a : a_max;
    }
    *m = a_max;
    return nan;
}

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

/* q (K,) int8 = clamp(rint(x * s), -127, 127); x (K,) float32 */
static void scale_row(int8_t *q, const float *x, float s, int64_t K)
{
    const __m128 vs = _mm_set1_ps(s);
    int64_t k = 0;
    for (; k + 16 <= K; k += 16)
        quantize16(q + k, x + k, vs);
    if (k < K) {
        /* same instructions on a zero-padded copy: same rounding */
        float xt[16] = {0};
        int8_t qt[16];
        memcpy(xt, x + k, (size_t)(K - k) * sizeof(float));
        quantize16(qt, xt, vs);
        memcpy(q + k, qt, (size_t)(K - k));
    }
}

/* the same two passes at 512 bits, for the AVX-512 path of the dispatch:
 * max and the conversion are exact per element, so the same bits */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static int row_absmax_avx512(float *m, const float *x, int64_t K)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 m0 = zero, m1 = zero;        /* two chains: max's latency */
    __mmask16 nan = 0;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        const __m512 v0 = _mm512_loadu_ps(x + k), v1 = _mm512_loadu_ps(x + k + 16);
        m0 = _mm512_max_ps(m0, _mm512_abs_ps(v0));
        m1 = _mm512_max_ps(m1, _mm512_abs_ps(v1));
        nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
    }
    for (; k < K; k += 16) {
        const __mmask16 t = K - k < 16 ? (__mmask16)((1u << (K - k)) - 1u)
                                       : (__mmask16)0xffff;
        const __m512 v = _mm512_maskz_loadu_ps(t, x + k);
        m0 = _mm512_max_ps(m0, _mm512_abs_ps(v));
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    *m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    return nan != 0;
}

AVX512 static void scale_row_avx512(int8_t *q, const float *x, float s,
                                    int64_t K)
{
    const __m512 vs = _mm512_set1_ps(s);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 t = K - k < 16 ? (__mmask16)((1u << (K - k)) - 1u)
                                       : (__mmask16)0xffff;
        /* cvtps rounds to nearest even, like rintf and numpy's rint */
        const __m512i i = _mm512_cvtps_epi32(
            _mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + k), vs));
        _mm512_mask_cvtepi32_storeu_epi8(
            q + k, t, _mm512_min_epi32(_mm512_max_epi32(i, lo), hi));
    }
}

#undef AVX512

#else /* portable */

static int row_absmax(float *m, const float *x, int64_t K)
{
    float a_max = 0.0f;
    int nan = 0;
    for (int64_t k = 0; k < K; k++) {
        float a = fabsf(x[k]);
        nan |= x[k] != x[k];
        a_max = a > a_max ? a : a_max;
    }
    *m = a_max;
    return nan;
}

static void scale_row(int8_t *q, const float *x, float s, int64_t K)
{
    for (int64_t k = 0; k < K; k++) {
        float r = rintf(x[k] * s);  /* nearest even in the default mode */
        r = r > 127.0f ? 127.0f : r;
        r = r < -127.0f ? -127.0f : r;
        q[k] = (int8_t)r;
    }
}

#endif

/*
 * A row whose scale 127 / m overflows float32 (m < 127 / FLT_MAX, e.g.
 * denormal): the same rounding, in double, where the scale is finite.
 * q (K,) int8; x (K,) float32.
 */
static void scale_row_tiny(int8_t *q, const float *x, float m, int64_t K)
{
    const double s = 127.0 / (double)m;
    for (int64_t k = 0; k < K; k++) {
        double r = rint((double)x[k] * s);
        r = r > 127.0 ? 127.0 : r;
        r = r < -127.0 ? -127.0 : r;
        q[k] = (int8_t)r;
    }
}

static int quantize_row(int8_t *q, float *x_step, const float *x, int64_t K,
                        int wide)
{
    /* q (K,) int8; x_step scalar; x (K,) float32; wide: AVX-512 passes */
    float m;
#if defined(__x86_64__)
    if (wide ? row_absmax_avx512(&m, x, K) || m > FLT_MAX
             : row_absmax(&m, x, K) || m > FLT_MAX)
#else
    if (row_absmax(&m, x, K) || m > FLT_MAX)
#endif
        return NMT8_ENONFINITE;
    if (m == 0.0f) {
        memset(q, 0, (size_t)K);
        *x_step = 0.0f;
        return NMT8_OK;
    }
    const float scale = 127.0f / m;     /* the paper's scale */
    *x_step = m / 127.0f;               /* its inverse, the step */
    if (scale > FLT_MAX)
        scale_row_tiny(q, x, m, K);
#if defined(__x86_64__)
    else if (wide)
        scale_row_avx512(q, x, scale, K);
#endif
    else
        scale_row(q, x, scale, K);
    return NMT8_OK;
}

int nmt8_quantize_rows(int8_t *Xq, float *x_step, const float *X, int64_t P,
                       int64_t K)
{
    /* Xq (P, K) int8 row-major; x_step (P,) float32; X (P, K) float32 */
    if (P < 0 || K < 0 || !NMT8_ALIGNED(x_step, float)
        || !NMT8_ALIGNED(X, float))
        return NMT8_EBADARG;
    const int wide = nmt8_resolve(NMT8_FAMILY_FUSED, NMT8_ISA_AUTO, 0)
        == NMT8_ISA_AVX512;
    for (int64_t p = 0; p < P; p++) {
        int rc = quantize_row(Xq + p * K, x_step + p, X + p * K, K, wide);
        if (rc != NMT8_OK)
            return rc;
    }
    return NMT8_OK;
}

/* --------------------------------------------------------------- epilogue */

/*
 * One output element, first as the kernel's int32 sum, then as the float
 * result: the entry points accumulate into Y and convert in place, and
 * the union is what makes reading an int32 from memory written as float
 * (and back) defined C.
 */
typedef union {
    int32_t i;
    float f;
} acc_or_y;

/* nonzero when b (N,) float32 holds a NaN or an inf: exponent all ones */
static int any_nonfinite(const float *b, int64_t N)
{
    uint32_t bad = 0;
    for (int64_t o = 0; o < N; o++) {
        uint32_t bits;
        memcpy(&bits, b + o, sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

#if defined(__x86_64__)
/* one row of the epilogue, 16 outputs at a time (AVX-512 path) */
__attribute__((target("avx512f"))) static void epilogue_row_avx512(
    acc_or_y *y, float sp, const float *w_step, const float *bias,
    int64_t N)
{
    const __m512 vsp = _mm512_set1_ps(sp), zero = _mm512_setzero_ps();
    for (int64_t o = 0; o < N; o += 16) {
        const __mmask16 m = N - o < 16 ? (__mmask16)((1u << (N - o)) - 1u)
                                       : (__mmask16)0xffff;
        const __m512 v = nmt8_epilogue16(
            _mm512_maskz_loadu_epi32(m, (const void *)(y + o)), vsp,
            _mm512_maskz_loadu_ps(m, w_step + o),
            bias ? _mm512_maskz_loadu_ps(m, bias + o) : zero, bias != NULL,
            m);
        _mm512_mask_storeu_ps(&y[o].f, m, v);
    }
}
#endif

/*
 * Y[p,o].f = (float)Y[p,o].i * (x_step[p] * w_step[o]) + bias[o], in that
 * order, so numpy can reproduce it bit for bit.  Only where the product
 * of the steps is subnormal (0 < x_step * w_step < FLT_MIN: tiny weights
 * or activations), where it would keep few bits, the order is
 * ((float)Y[p,o].i * x_step[p]) * w_step[o] instead.
 * Y (P, N) view, row stride ld; x_step (P,); w_step (N,); bias (N,) or
 * NULL.  Element by element, so a block of Y gets the same bits as the
 * whole (the gemm and amx kernels convert each register tile as it is
 * stored), and on either path: SSE, or AVX-512 (nmt8_epilogue16) where
 * the dispatch's kernels beside the products take it.
 */
void nmt8_epilogue(void *Yv, int64_t ld, const float *x_step,
                   const float *w_step, const float *bias, int64_t P,
                   int64_t N)
{
    acc_or_y *Y = Yv;
#if defined(__x86_64__)
    if (nmt8_resolve(NMT8_FAMILY_FUSED, NMT8_ISA_AUTO, 0) == NMT8_ISA_AVX512) {
        for (int64_t p = 0; p < P; p++)
            epilogue_row_avx512(Y + p * ld, x_step[p], w_step, bias, N);
        return;
    }
#endif
    for (int64_t p = 0; p < P; p++) {
        acc_or_y *y = Y + p * ld;
        const float sp = x_step[p];
        int64_t o = 0;
#if defined(__x86_64__)
        /* explicit SSE2: in place, where auto-vectorisation would give up */
        const __m128 vsp = _mm_set1_ps(sp), zero = _mm_setzero_ps();
        const __m128 normal = _mm_set1_ps(FLT_MIN);
        for (; o + 4 <= N; o += 4) {
            const __m128 sw = _mm_loadu_ps(w_step + o);
            const __m128 s = _mm_mul_ps(vsp, sw);
            const __m128 a = _mm_cvtepi32_ps(
                _mm_loadu_si128((const __m128i *)(y + o)));
            __m128 v = _mm_mul_ps(a, s);
            const __m128 sub = _mm_and_ps(_mm_cmpgt_ps(s, zero),
                                          _mm_cmplt_ps(s, normal));
            if (_mm_movemask_ps(sub)) {             /* rare: tiny steps */
                __m128 alt = _mm_mul_ps(_mm_mul_ps(a, vsp), sw);
                v = _mm_or_ps(_mm_and_ps(sub, alt), _mm_andnot_ps(sub, v));
            }
            if (bias)
                v = _mm_add_ps(v, _mm_loadu_ps(bias + o));
            _mm_storeu_ps(&y[o].f, v);
        }
#endif
        for (; o < N; o++) {
            const float a = (float)y[o].i, s = sp * w_step[o];
            float v = s > 0.0f && s < FLT_MIN ? (a * sp) * w_step[o] : a * s;
            y[o].f = bias ? v + bias[o] : v;
        }
    }
}

/* ------------------------------------------------------------ entry points */

int nmt8_accumulate(int kernel, int32_t *acc, const nmt8_weights *w,
                    const int8_t *Xq, int64_t P)
{
    /* acc (P, N) int32; Xq (P, K) int8 */
    kernel = pick(kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    accum_fn f = ACCUM[kernel];
    if (!NMT8_ALIGNED(acc, int32_t))
        return NMT8_EBADARG;
    return f(acc, w, Xq, P);
}

/* the checks both float entry points share, before anything is written */
static int check_float_args(const nmt8_weights *w, const float *Y,
                            const float *bias, int64_t P)
{
    if (nmt8_bad_args(w, P, 0) || w->w_step == NULL
        || !NMT8_ALIGNED(w->w_step, float) || !NMT8_ALIGNED(Y, float)
        || !NMT8_ALIGNED(bias, float))
        return NMT8_EBADARG;
    if (bias && any_nonfinite(bias, w->N))
        return NMT8_ENONFINITE_BIAS;
    return NMT8_OK;
}

int nmt8_matmul_q(int kernel, float *Y, const nmt8_weights *w,
                  const int8_t *Xq, const float *x_step, const float *bias,
                  int64_t P)
{
    /* Y (P, N) float32; Xq (P, K) int8; x_step (P,) float32; bias (N,) */
    kernel = pick(kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    accum_fn f = ACCUM[kernel];
    int rc = check_float_args(w, Y, bias, P);
    if (rc != NMT8_OK)
        return rc;
    if (!NMT8_ALIGNED(x_step, float))
        return NMT8_EBADARG;
    acc_or_y *Yu = (acc_or_y *)Y;
    fused_fn ff = fused(kernel);
    if (ff)                                 /* converts tile by tile */
        return ff(Y, w, Xq, x_step, bias, P);
    rc = f(&Yu->i, w, Xq, P);               /* accumulate in place */
    if (rc != NMT8_OK)
        return rc;
    nmt8_epilogue(Yu, w->N, x_step, w->w_step, bias, P, w->N);
    return NMT8_OK;
}

int nmt8_matmul_f32(int kernel, float *Y, const nmt8_weights *w,
                    const float *X, const float *bias, int64_t P)
{
    /* Y (P, N) float32; X (P, K) float32; bias (N,) float32 or NULL */
    enum { STACK_BYTES = 16384, STACK_ROWS = 64 };
    int8_t xq_stack[STACK_BYTES];               /* (P, K) when it fits */
    float step_stack[STACK_ROWS];               /* (P,) when it fits */
    kernel = pick(kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    accum_fn f = ACCUM[kernel];
    int rc = check_float_args(w, Y, bias, P);
    if (rc != NMT8_OK)
        return rc;
    const size_t nq = (size_t)P * (size_t)w->K;
    int8_t *Xq = nq <= STACK_BYTES ? xq_stack : malloc(nq);
    float *x_step = P <= STACK_ROWS ? step_stack
                                    : malloc((size_t)P * sizeof(float));
    acc_or_y *Yu = (acc_or_y *)Y;
    rc = NMT8_ENOMEM;
    if (Xq == NULL || x_step == NULL)
        goto done;
    rc = nmt8_quantize_rows(Xq, x_step, X, P, w->K);
    if (rc != NMT8_OK)
        goto done;
    fused_fn ff = fused(kernel);
    if (ff) {                               /* converts tile by tile */
        rc = ff(Y, w, Xq, x_step, bias, P);
        goto done;
    }
    rc = f(&Yu->i, w, Xq, P);               /* accumulate in place */
    if (rc != NMT8_OK)
        goto done;
    nmt8_epilogue(Yu, w->N, x_step, w->w_step, bias, P, w->N);
done:
    if (Xq != xq_stack)
        free(Xq);
    if (x_step != step_stack)
        free(x_step);
    return rc;
}
