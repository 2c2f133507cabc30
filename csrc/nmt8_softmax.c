/*
 * nmt8_softmax.c -- the row log-sum-exp of beam search (nmt8_softmax.h),
 * numpy's reference: np.log(np.exp(x - m).sum(1)) + m, to about 1e-7.
 */
#include <math.h>

#include "nmt8_attention.h"
#include "nmt8_mathf.h"
#include "nmt8_internal.h"
#include "nmt8_softmax.h"

#define LANES 16

/* max of x (V,) into *m; nonzero when x holds a NaN */
NMT8_SCALAR static int max_portable(const float *x, int64_t V, float *m)
{
    int nan = 0;
    float best = -INFINITY;
    for (int64_t v = 0; v < V; v++) {
        nan |= x[v] != x[v];
        best = x[v] > best ? x[v] : best;
    }
    *m = best;
    return nan;
}

/* acc[v mod 16] += exp(max(x[v] - m, -87)) for v in [v0, V) */
NMT8_SCALAR static void sum_tail(double *acc, const float *x, float m,
                                 int64_t v0, int64_t V)
{
    for (int64_t v = v0; v < V; v++) {
        float z = x[v] - m;
        z = z > NMT8_EXP_MIN ? z : NMT8_EXP_MIN;
        acc[v % LANES] += (double)nmt8_exp1(z);
    }
}

static void sum_portable(double *acc, const float *x, float m, int64_t V)
{
    sum_tail(acc, x, m, 0, V);
}

#if defined(__x86_64__)

NMT8_AVX2F static int max_avx2(const float *x, int64_t V, float *m)
{
    __m256 best = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
    int64_t v = 0;
    for (; v + 8 <= V; v += 8) {
        const __m256 a = _mm256_loadu_ps(x + v);
        best = _mm256_max_ps(best, a);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
    float lanes[8], rest;
    _mm256_storeu_ps(lanes, best);
    int bad = max_portable(x + v, V - v, &rest) | _mm256_movemask_ps(nan);
    for (int j = 0; j < 8; j++)
        rest = lanes[j] > rest ? lanes[j] : rest;
    *m = rest;
    return bad;
}

NMT8_AVX2F static void sum_avx2(double *acc, const float *x, float m,
                                int64_t V)
{
    const __m256 vm = _mm256_set1_ps(m), lo = _mm256_set1_ps(NMT8_EXP_MIN);
    __m256d a[4];
    for (int j = 0; j < 4; j++)
        a[j] = _mm256_loadu_pd(acc + 4 * j);
    int64_t v = 0;
    for (; v + LANES <= V; v += LANES)
        for (int h = 0; h < 2; h++) {
            const __m256 e = nmt8_exp8(_mm256_max_ps(
                _mm256_sub_ps(_mm256_loadu_ps(x + v + 8 * h), vm), lo));
            a[2 * h] = _mm256_add_pd(a[2 * h], _mm256_cvtps_pd(
                _mm256_castps256_ps128(e)));
            a[2 * h + 1] = _mm256_add_pd(a[2 * h + 1], _mm256_cvtps_pd(
                _mm256_extractf128_ps(e, 1)));
        }
    for (int j = 0; j < 4; j++)
        _mm256_storeu_pd(acc + 4 * j, a[j]);
    sum_tail(acc, x, m, v, V);
}

NMT8_AVX512F static int max_avx512(const float *x, int64_t V, float *m)
{
    __m512 best = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    int64_t v = 0;
    for (; v + 16 <= V; v += 16) {
        const __m512 a = _mm512_loadu_ps(x + v);
        best = _mm512_max_ps(best, a);
        nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    }
    float rest;
    int bad = max_portable(x + v, V - v, &rest) | (nan != 0);
    const float vec = _mm512_reduce_max_ps(best);
    *m = vec > rest ? vec : rest;
    return bad;
}

NMT8_AVX512F static void sum_avx512(double *acc, const float *x, float m,
                                    int64_t V)
{
    const __m512 vm = _mm512_set1_ps(m), lo = _mm512_set1_ps(NMT8_EXP_MIN);
    __m512d a0 = _mm512_loadu_pd(acc), a1 = _mm512_loadu_pd(acc + 8);
    int64_t v = 0;
    for (; v + LANES <= V; v += LANES) {
        const __m512 e = nmt8_exp16(_mm512_max_ps(
            _mm512_sub_ps(_mm512_loadu_ps(x + v), vm), lo));
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(
            _mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    _mm512_storeu_pd(acc, a0);
    _mm512_storeu_pd(acc + 8, a1);
    sum_tail(acc, x, m, v, V);
}

#endif

typedef int (*max_fn)(const float *, int64_t, float *);
typedef void (*sum_fn)(double *, const float *, float, int64_t);

int nmt8_row_logsumexp(double *lse, float *m, const float *x, int64_t ld,
                       int64_t P, int64_t V, int isa)
{
    isa = nmt8_resolve(NMT8_FAMILY_FUSED, isa, 0);   /* one of 3 paths */
    if (isa < 0)
        return NMT8_EUNSUPPORTED;
    if (P < 0 || V < 0 || ld < V || (P > 0 && (!lse || !m || !x))
        || !NMT8_ALIGNED(lse, double) || !NMT8_ALIGNED(m, float)
        || !NMT8_ALIGNED(x, float))
        return NMT8_EBADARG;
    max_fn fmax_ = max_portable;
    sum_fn fsum = sum_portable;
#if defined(__x86_64__)
    if (isa == NMT8_ISA_AVX2)
        fmax_ = max_avx2, fsum = sum_avx2;
    if (isa == NMT8_ISA_AVX512)
        fmax_ = max_avx512, fsum = sum_avx512;
#endif
    for (int64_t p = 0; p < P; p++) {
        const float *row = x + p * ld;
        if (fmax_(row, V, m + p)) {
            m[p] = NAN;
            lse[p] = NAN;
            continue;
        }
        if (isinf(m[p])) {          /* all -inf (or V = 0), or a +inf */
            lse[p] = m[p];
            continue;
        }
        double acc[LANES] = {0};
        fsum(acc, row, m[p], V);
        for (int w = LANES / 2; w >= 1; w /= 2)     /* a fixed tree */
            for (int j = 0; j < w; j++)
                acc[j] = acc[j] + acc[j + w];
        lse[p] = (double)m[p] + log(acc[0]);
    }
    return NMT8_OK;
}
