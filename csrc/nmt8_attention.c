/*
 * nmt8_attention.c -- the attention scores of eq. (6), fused: tanh, the
 * row's quantization and its product with u in one pass per (p, s), in
 * L1.  See nmt8_attention.h for the contract.  The reference: the
 * portable path, and int8_matmul on its tanh rows (tests/
 * test_attention_kernel.py).
 *
 * tanh and exp are nmt8's own (nmt8_mathf.h): the same operations in the
 * same order on every path, so every path rounds alike.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmt8_attention.h"
#include "nmt8_mathf.h"
#include "nmt8_internal.h"

#if defined(__x86_64__)
#define AVX2 NMT8_AVX2F
#define AVX512 NMT8_AVX512F
#endif

#define LANES 16                /* the float dot's partial sums */
#define MAX_C 130000            /* C * 127 * 127 fits in int32 */

/* ---------------------------------------------------------------- scalar */

/* e[c] = nmt8_tanh1(pc[c] + sp[c]) for c in [c0, C); max |e| into *m; nonzero
 * when a sum is NaN */
NMT8_SCALAR static int tail_tanh(float *e, const float *pc, const float *sp,
                                 int64_t c0, int64_t C, float *m)
{
    int nan = 0;
    for (int64_t c = c0; c < C; c++) {
        const float x = pc[c] + sp[c];
        nan |= x != x;
        e[c] = nmt8_tanh1(x);
        const float a = fabsf(e[c]);
        *m = a > *m ? a : *m;
    }
    return nan;
}

static int row_portable(float *e, const float *pc, const float *sp,
                        int64_t C, float *m)
{
    *m = 0.0f;
    return tail_tanh(e, pc, sp, 0, C, m);
}

/* sum of rint(e * s) (clamped to +-127) times u over C16 entries */
NMT8_SCALAR static int32_t qdot_portable(const float *e, const int32_t *u,
                                         float s, int64_t C16)
{
    int32_t acc = 0;
    for (int64_t c = 0; c < C16; c++) {
        float r = rintf(e[c] * s);
        r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
        acc += (int32_t)r * u[c];
    }
    return acc;
}

NMT8_SCALAR static void fdot_portable(float *acc, const float *e,
                                      const float *u, int64_t C16)
{
    for (int64_t c = 0; c < C16; c += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] = acc[j] + e[c + j] * u[c + j];
}

typedef int (*row_fn)(float *, const float *, const float *, int64_t,
                      float *);
typedef int32_t (*qdot_fn)(const float *, const int32_t *, float, int64_t);
typedef void (*fdot_fn)(float *, const float *, const float *, int64_t);
typedef void (*tanh_fn)(float *, const float *, int64_t);
typedef void (*wsum_fn)(float *, const float *, const float *, int64_t,
                        int64_t);

/* y[c] = sum_s a[s] h[s, c] for c in [c0, C), h (S, C): in order of s,
 * each step one FMA (so every path rounds alike) */
NMT8_SCALAR static void wsum_tail(float *y, const float *a, const float *h,
                                  int64_t S, int64_t c0, int64_t C)
{
    for (int64_t c = c0; c < C; c++) {
        float acc = 0.0f;
        for (int64_t s = 0; s < S; s++)
            acc = fmaf(a[s], h[s * C + c], acc);
        y[c] = acc;
    }
}

static void wsum_portable(float *y, const float *a, const float *h,
                          int64_t S, int64_t C)
{
    wsum_tail(y, a, h, S, 0, C);
}

NMT8_SCALAR static void tanh_portable(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = nmt8_tanh1(x[i]);
}

#if defined(__x86_64__)

/* ------------------------------------------------------------------ AVX2 */

AVX2 static int row_avx2(float *e, const float *pc, const float *sp,
                         int64_t C, float *m)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));
    __m256 vmax = _mm256_setzero_ps(), vnan = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
        const __m256 x = _mm256_add_ps(_mm256_loadu_ps(pc + c),
                                       _mm256_loadu_ps(sp + c));
        const __m256 y = nmt8_tanh8(x);
        _mm256_storeu_ps(e + c, y);
        vmax = _mm256_max_ps(vmax, _mm256_and_ps(y, absmask));
        vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    *m = 0.0f;
    for (int j = 0; j < 8; j++)
        *m = lanes[j] > *m ? lanes[j] : *m;
    return _mm256_movemask_ps(vnan) | tail_tanh(e, pc, sp, c, C, m);
}

AVX2 static int32_t qdot_avx2(const float *e, const int32_t *u, float s,
                              int64_t C16)
{
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    __m256i acc = _mm256_setzero_si256();
    for (int64_t c = 0; c < C16; c += 8) {
        __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(e + c), vs));
        q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(
            q, _mm256_loadu_si256((const __m256i *)(u + c))));
    }
    int32_t lanes[8], sum = 0;
    _mm256_storeu_si256((__m256i *)lanes, acc);
    for (int j = 0; j < 8; j++)
        sum += lanes[j];
    return sum;
}

AVX2 static void fdot_avx2(float *acc, const float *e, const float *u,
                           int64_t C16)
{
    __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8);
    for (int64_t c = 0; c < C16; c += LANES) {
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(e + c),
                                             _mm256_loadu_ps(u + c)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(e + c + 8),
                                             _mm256_loadu_ps(u + c + 8)));
    }
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
}

/* four vectors of outputs at a time: four independent chains of FMAs */
AVX2 static void wsum_avx2(float *y, const float *a, const float *h,
                           int64_t S, int64_t C)
{
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) {
        __m256 y0 = _mm256_setzero_ps(), y1 = y0, y2 = y0, y3 = y0;
        for (int64_t s = 0; s < S; s++) {
            const __m256 as = _mm256_set1_ps(a[s]);
            const float *hs = h + s * C + c;
            y0 = _mm256_fmadd_ps(as, _mm256_loadu_ps(hs), y0);
            y1 = _mm256_fmadd_ps(as, _mm256_loadu_ps(hs + 8), y1);
            y2 = _mm256_fmadd_ps(as, _mm256_loadu_ps(hs + 16), y2);
            y3 = _mm256_fmadd_ps(as, _mm256_loadu_ps(hs + 24), y3);
        }
        _mm256_storeu_ps(y + c, y0);
        _mm256_storeu_ps(y + c + 8, y1);
        _mm256_storeu_ps(y + c + 16, y2);
        _mm256_storeu_ps(y + c + 24, y3);
    }
    for (; c + 8 <= C; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t s = 0; s < S; s++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a[s]),
                                  _mm256_loadu_ps(h + s * C + c), acc);
        _mm256_storeu_ps(y + c, acc);
    }
    wsum_tail(y, a, h, S, c, C);
}

AVX2 static void tanh_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, nmt8_tanh8(_mm256_loadu_ps(x + i)));
    tanh_portable(y + i, x + i, n - i);
}

/* --------------------------------------------------------------- AVX-512 */

AVX512 static int row_avx512(float *e, const float *pc, const float *sp,
                             int64_t C, float *m)
{
    const __m512i absmask = _mm512_set1_epi32(INT32_MAX);
    __m512 vmax = _mm512_setzero_ps();
    __mmask16 nan = 0;
    int64_t c = 0;
    for (; c + 16 <= C; c += 16) {
        const __m512 x = _mm512_add_ps(_mm512_loadu_ps(pc + c),
                                       _mm512_loadu_ps(sp + c));
        const __m512 y = nmt8_tanh16(x);
        _mm512_storeu_ps(e + c, y);
        vmax = _mm512_max_ps(vmax, nmt8_as_ps(_mm512_and_si512(nmt8_as_si(y), absmask)));
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    }
    *m = _mm512_reduce_max_ps(vmax);
    return (nan != 0) | tail_tanh(e, pc, sp, c, C, m);
}

AVX512 static int32_t qdot_avx512(const float *e, const int32_t *u, float s,
                                  int64_t C16)
{
    const __m512 vs = _mm512_set1_ps(s);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    __m512i acc = _mm512_setzero_si512();
    for (int64_t c = 0; c < C16; c += 16) {
        __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(e + c), vs));
        q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(
            q, _mm512_loadu_si512((const void *)(u + c))));
    }
    return _mm512_reduce_add_epi32(acc);
}

AVX512 static void fdot_avx512(float *acc, const float *e, const float *u,
                               int64_t C16)
{
    __m512 a = _mm512_loadu_ps(acc);
    for (int64_t c = 0; c < C16; c += LANES)
        a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_loadu_ps(e + c),
                                           _mm512_loadu_ps(u + c)));
    _mm512_storeu_ps(acc, a);
}

/* four vectors of outputs at a time: four independent chains of FMAs */
AVX512 static void wsum_avx512(float *y, const float *a, const float *h,
                               int64_t S, int64_t C)
{
    int64_t c = 0;
    for (; c + 64 <= C; c += 64) {
        __m512 y0 = _mm512_setzero_ps(), y1 = y0, y2 = y0, y3 = y0;
        for (int64_t s = 0; s < S; s++) {
            const __m512 as = _mm512_set1_ps(a[s]);
            const float *hs = h + s * C + c;
            y0 = _mm512_fmadd_ps(as, _mm512_loadu_ps(hs), y0);
            y1 = _mm512_fmadd_ps(as, _mm512_loadu_ps(hs + 16), y1);
            y2 = _mm512_fmadd_ps(as, _mm512_loadu_ps(hs + 32), y2);
            y3 = _mm512_fmadd_ps(as, _mm512_loadu_ps(hs + 48), y3);
        }
        _mm512_storeu_ps(y + c, y0);
        _mm512_storeu_ps(y + c + 16, y1);
        _mm512_storeu_ps(y + c + 32, y2);
        _mm512_storeu_ps(y + c + 48, y3);
    }
    for (; c + 16 <= C; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t s = 0; s < S; s++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(a[s]),
                                  _mm512_loadu_ps(h + s * C + c), acc);
        _mm512_storeu_ps(y + c, acc);
    }
    wsum_tail(y, a, h, S, c, C);
}

AVX512 static void tanh_avx512(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, nmt8_tanh16(_mm512_loadu_ps(x + i)));
    tanh_portable(y + i, x + i, n - i);
}

#endif

/* -------------------------------------------------------------- dispatch */

typedef struct {
    row_fn row;
    qdot_fn qdot;
    fdot_fn fdot;
    tanh_fn tanh;
    wsum_fn wsum;
} att_isa;

/* the functions of isa, or 0 when this CPU cannot run it */
static int pick_isa(att_isa *f, int isa)
{
    isa = nmt8_resolve(NMT8_FAMILY_FUSED, isa, 0);   /* one of 3 paths */
    if (isa < 0)
        return 0;
    *f = (att_isa){row_portable, qdot_portable, fdot_portable, tanh_portable,
                   wsum_portable};
#if defined(__x86_64__)
    if (isa == NMT8_ISA_AVX2)
        *f = (att_isa){row_avx2, qdot_avx2, fdot_avx2, tanh_avx2, wsum_avx2};
    if (isa == NMT8_ISA_AVX512)
        *f = (att_isa){row_avx512, qdot_avx512, fdot_avx512, tanh_avx512,
                       wsum_avx512};
#endif
    return 1;
}

int nmt8_tanh32(float *y, const float *x, int64_t n, int isa)
{
    att_isa f;
    if (!pick_isa(&f, isa))
        return NMT8_EUNSUPPORTED;
    if (n < 0 || (n > 0 && (x == NULL || y == NULL))
        || !NMT8_ALIGNED(x, float) || !NMT8_ALIGNED(y, float))
        return NMT8_EBADARG;
    f.tanh(y, x, n);
    return NMT8_OK;
}

/* (float)acc * (x_step * u_step) + bias, in nmt8_epilogue's order */
static float epilogue(int32_t acc, float x_step, float u_step, float bias)
{
    const float a = (float)acc, s = x_step * u_step;
    const float v = s > 0.0f && s < FLT_MIN ? (a * x_step) * u_step : a * s;
    return v + bias;
}

/* the int32 sum for a row whose scale 127 / m overflows: in double */
NMT8_SCALAR static int32_t qdot_tiny(const float *e, const int32_t *u,
                                     float m, int64_t C)
{
    const double s = 127.0 / (double)m;
    int32_t acc = 0;
    for (int64_t c = 0; c < C; c++) {
        double r = rint((double)e[c] * s);
        r = r > 127.0 ? 127.0 : (r < -127.0 ? -127.0 : r);
        acc += (int32_t)r * u[c];
    }
    return acc;
}

/*
 * What multiplies a row of tanh: u widened to int32 (int8 weights, step
 * u_step) or u as floats, padded with zeros to C16; and the scratch row e
 * (C16 floats, zero past C).
 */
typedef struct {
    att_isa f;
    int64_t C, C16;
    int32_t *u32;           /* int8 U, or NULL */
    float *uf;              /* float U, or NULL */
    float u_step, bias;
    float *e;
} att_ctx;

static int ctx_init(att_ctx *k, int isa, const int8_t *u8, const float *uf,
                    float u_step, float bias, int64_t C)
{
    memset(k, 0, sizeof *k);
    if (!pick_isa(&k->f, isa))
        return NMT8_EUNSUPPORTED;
    k->C = C;
    k->C16 = NMT8_CEIL_DIV(C, LANES) * LANES;
    k->u_step = u_step;
    k->bias = bias;
    k->e = calloc((size_t)k->C16 + 1, sizeof(float));
    if (u8) {
        k->u32 = calloc((size_t)k->C16 + 1, sizeof(int32_t));
        if (k->u32)
            for (int64_t c = 0; c < C; c++)
                k->u32[c] = u8[c];
    } else {
        k->uf = calloc((size_t)k->C16 + 1, sizeof(float));
        if (k->uf && C > 0)
            memcpy(k->uf, uf, (size_t)C * sizeof(float));
    }
    return k->e && (k->u32 || k->uf) ? NMT8_OK : NMT8_ENOMEM;
}

static void ctx_free(att_ctx *k)
{
    free(k->e);
    free(k->u32);
    free(k->uf);
}

/* out[s] = tanh(pctx[s] + sp) . u + bias for s < S; pctx (S, C) */
static int row_scores(att_ctx *k, float *out, const float *pctx, int64_t S,
                      const float *sp)
{
    const int64_t C = k->C;
    for (int64_t s = 0; s < S; s++) {
        float m;
        if (k->f.row(k->e, pctx + s * C, sp, C, &m))
            return NMT8_ENONFINITE;
        if (k->u32) {
            int32_t acc = 0;
            float x_step = 0.0f;
            if (m > 0.0f) {
                const float scale = 127.0f / m;     /* as quantize_row */
                x_step = m / 127.0f;
                acc = scale > FLT_MAX ? qdot_tiny(k->e, k->u32, m, C)
                                      : k->f.qdot(k->e, k->u32, scale, k->C16);
            }
            out[s] = epilogue(acc, x_step, k->u_step, k->bias);
        } else {
            float acc[LANES] = {0};
            k->f.fdot(acc, k->e, k->uf, k->C16);
            for (int w = LANES / 2; w >= 1; w /= 2)   /* a fixed tree */
                for (int j = 0; j < w; j++)
                    acc[j] = acc[j] + acc[j + w];
            out[s] = acc[0] + k->bias;
        }
    }
    return NMT8_OK;
}

/* the checks every entry point shares */
static int bad_sizes(const float *sp, int64_t ld_sp, const void *u8,
                     const void *uf, int64_t P, int64_t C)
{
    if (P < 0 || C < 0 || C > MAX_C || ld_sp < C || (u8 == NULL) == (uf == NULL))
        return 1;
    return (P > 0 && sp == NULL) || !NMT8_ALIGNED(sp, float)
        || !NMT8_ALIGNED(uf, float);
}

int nmt8_att_scores(float *scores, const float *pctx, const float *sp,
                    int64_t ld_sp, const int8_t *u8, const float *uf,
                    float u_step, float bias, int64_t P, int64_t S, int64_t C,
                    int isa)
{
    if (bad_sizes(sp, ld_sp, u8, uf, P, C) || S < 0
        || (P * S > 0 && (scores == NULL || pctx == NULL))
        || !NMT8_ALIGNED(scores, float) || !NMT8_ALIGNED(pctx, float))
        return NMT8_EBADARG;
    att_ctx k;
    int rc = ctx_init(&k, isa, u8, uf, u_step, bias, C);
    for (int64_t p = 0; rc == NMT8_OK && p < P; p++)
        rc = row_scores(&k, scores + p * S, pctx, S, sp + p * ld_sp);
    ctx_free(&k);
    return rc;
}

/* alpha (S,) = softmax(alpha (S,)): exp of nmt8_mathf.h, summed in double
 * in order */
NMT8_SCALAR static void softmax_row(float *alpha, int64_t S)
{
    float m = -INFINITY;
    for (int64_t s = 0; s < S; s++)
        m = alpha[s] > m ? alpha[s] : m;
    double sum = 0.0;
    for (int64_t s = 0; s < S; s++) {
        float z = alpha[s] - m;
        alpha[s] = nmt8_exp1(z > NMT8_EXP_MIN ? z : NMT8_EXP_MIN);
        sum += alpha[s];
    }
    const float total = (float)sum;
    for (int64_t s = 0; s < S; s++)
        alpha[s] = alpha[s] / total;
}

int nmt8_att_context(float *ctx, float *alpha, int64_t ld_a,
                     const float *const *pctx, const float *const *h,
                     const int64_t *S_of, const int64_t *sentence,
                     int64_t G, const float *sp, int64_t ld_sp,
                     const int8_t *u8, const float *uf, float u_step,
                     float bias, int64_t P, int64_t C, int isa)
{
    if (bad_sizes(sp, ld_sp, u8, uf, P, C) || G < 0 || ld_a < 0
        || (P > 0 && (ctx == NULL || alpha == NULL || sentence == NULL))
        || (G > 0 && (pctx == NULL || h == NULL || S_of == NULL))
        || !NMT8_ALIGNED(ctx, float) || !NMT8_ALIGNED(alpha, float))
        return NMT8_EBADARG;
    for (int64_t g = 0; g < G; g++)
        if (S_of[g] < 0 || S_of[g] > ld_a
            || (S_of[g] > 0 && (pctx[g] == NULL || h[g] == NULL
                                || !NMT8_ALIGNED(pctx[g], float)
                                || !NMT8_ALIGNED(h[g], float))))
            return NMT8_EBADARG;
    for (int64_t p = 0; p < P; p++)
        if (sentence[p] < 0 || sentence[p] >= G)
            return NMT8_EBADARG;
    att_ctx k;
    int rc = ctx_init(&k, isa, u8, uf, u_step, bias, C);
    for (int64_t p = 0; rc == NMT8_OK && p < P; p++) {
        const int64_t g = sentence[p], S = S_of[g];
        float *a = alpha + p * ld_a;
        rc = row_scores(&k, a, pctx[g], S, sp + p * ld_sp);
        if (rc != NMT8_OK)
            break;
        softmax_row(a, S);
        memset(a + S, 0, (size_t)(ld_a - S) * sizeof(float));
        k.f.wsum(ctx + p * C, a, h[g], S, C);
    }
    ctx_free(&k);
    return rc;
}
