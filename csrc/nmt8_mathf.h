/*
 * nmt8_mathf.h -- nmt8's float32 exp and tanh, shared by the fused
 * attention (nmt8_attention.c), the GRU's gates (nmt8_gru.c) and the row
 * log-sum-exp (nmt8_softmax.c).  Not part of the cffi interface.
 *
 *   exp(t) = 2^n * p(r),  n = rint(t log2 e),  r = (t - n ln2_hi) - n ln2_lo
 *
 * (Cody & Waite's reduction, each step one FMA), p of degree 6 fitted on
 * |r| <= ln2 / 2 for relative error 1.7e-8 (weighted least squares,
 * Lawson's iteration), 2^n added to p's exponent bits.  Valid for
 * -87 <= t <= 88 (callers clamp): 2^n * p stays a normal float.
 *
 * The scalar, AVX2+FMA and AVX-512 versions are the same operations in
 * the same order, so they give the same bits (the build passes
 * -ffp-contract=off; every FMA here is written out).
 */
#ifndef NMT8_MATHF_H
#define NMT8_MATHF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define NMT8_AVX2F __attribute__((target("avx2,fma")))
#define NMT8_AVX512F __attribute__((target("avx512f")))
#endif

#define NMT8_LOG2E 1.44269502f
#define NMT8_LN2_HI 0.693359375f        /* 9 bits: n * LN2_HI is exact */
#define NMT8_LN2_LO -2.12194440e-4f
#define NMT8_EXP_MIN -87.0f              /* exp(-87) = 1.6e-38, normal */

/* p(r) = E0 r^6 + ... + E6, Horner from E0 */
static const float NMT8_EXPC[7] = {
    0.0013836835278198123f, 0.008374824188649654f, 0.04166822507977486f,
    0.16666419804096222f, 0.49999991059303284f, 1.0f, 1.0f};

/* exp(t), -87 <= t <= 88 */
NMT8_SCALAR __attribute__((unused)) static float nmt8_exp1(float t)
{
    const float n = rintf(t * NMT8_LOG2E);
    const float r = fmaf(-n, NMT8_LN2_LO, fmaf(-n, NMT8_LN2_HI, t));
    float p = NMT8_EXPC[0];
    for (int i = 1; i < 7; i++)
        p = fmaf(p, r, NMT8_EXPC[i]);
    int32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (int32_t)n * (1 << 23);
    float y;
    memcpy(&y, &bits, sizeof y);
    return y;
}

/* tanh, for a = min(|x|, 10) (tanh(10) rounds to 1 in float32):
 *   a <  0.625:  fma(a, z * Q(z), a),  z = a * a, Q of degree 4 fitted for
 *                relative error 4e-9 (weighted least squares, Lawson);
 *   a >= 0.625:  1 - 2 / (exp(2a) + 1);
 * then the sign of x (NaN stays NaN).  Max error 1.34 ulp (numpy's: 1.37). */
#define NMT8_T_SMALL 0.625f          /* below: the odd polynomial */
#define NMT8_A_BIG 10.0f             /* above: tanh = 1 in float32 */
/* Q(z) = Q0 + Q1 z + ... + Q4 z^4 */
static const float NMT8_TANHQ[5] = {-0.3333328366279602f, 0.13331490755081177f,
                           -0.05374349653720856f, 0.020650586113333702f,
                           -0.005717044696211815f};
NMT8_SCALAR __attribute__((unused)) static float nmt8_tanh1(float x)
{
    if (x != x)
        return x;
    float a = fabsf(x);
    a = a < NMT8_A_BIG ? a : NMT8_A_BIG;
    const float z = a * a;
    float q = NMT8_TANHQ[4];
    for (int i = 3; i >= 0; i--)
        q = fmaf(q, z, NMT8_TANHQ[i]);
    const float small = fmaf(a, z * q, a);
    const float E = nmt8_exp1(a + a);
    const float big = 1.0f - 2.0f / (E + 1.0f);
    return copysignf(a < NMT8_T_SMALL ? small : big, x);
}

#if defined(__x86_64__)

NMT8_AVX2F NMT8_INLINE __m256 nmt8_exp8(__m256 t)
{
    const __m256 n = _mm256_round_ps(
        _mm256_mul_ps(t, _mm256_set1_ps(NMT8_LOG2E)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(NMT8_LN2_LO),
        _mm256_fnmadd_ps(n, _mm256_set1_ps(NMT8_LN2_HI), t));
    __m256 p = _mm256_set1_ps(NMT8_EXPC[0]);
    for (int i = 1; i < 7; i++)
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(NMT8_EXPC[i]));
    return _mm256_castsi256_ps(_mm256_add_epi32(
        _mm256_castps_si256(p), _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23)));
}

NMT8_AVX512F NMT8_INLINE __m512 nmt8_exp16(__m512 t)
{
    const __m512 n = _mm512_roundscale_ps(
        _mm512_mul_ps(t, _mm512_set1_ps(NMT8_LOG2E)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(NMT8_LN2_LO),
        _mm512_fnmadd_ps(n, _mm512_set1_ps(NMT8_LN2_HI), t));
    __m512 p = _mm512_set1_ps(NMT8_EXPC[0]);
    for (int i = 1; i < 7; i++)
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(NMT8_EXPC[i]));
    return _mm512_castsi512_ps(_mm512_add_epi32(
        _mm512_castps_si512(p), _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23)));
}

NMT8_AVX2F NMT8_INLINE __m256 nmt8_tanh8(__m256 x)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN));
    const __m256 a = _mm256_min_ps(_mm256_andnot_ps(sign, x),
                                   _mm256_set1_ps(NMT8_A_BIG));
    const __m256 z = _mm256_mul_ps(a, a);
    __m256 q = _mm256_set1_ps(NMT8_TANHQ[4]);
    for (int i = 3; i >= 0; i--)
        q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(NMT8_TANHQ[i]));
    const __m256 small = _mm256_fmadd_ps(a, _mm256_mul_ps(z, q), a);
    const __m256 E = nmt8_exp8(_mm256_add_ps(a, a));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 big = _mm256_sub_ps(
        one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(E, one)));
    __m256 y = _mm256_blendv_ps(big, small,
                                _mm256_cmp_ps(a, _mm256_set1_ps(NMT8_T_SMALL),
                                              _CMP_LT_OQ));
    y = _mm256_or_ps(y, _mm256_and_ps(x, sign));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

NMT8_AVX512F NMT8_INLINE __m512 nmt8_as_ps(__m512i v) { return _mm512_castsi512_ps(v); }
NMT8_AVX512F NMT8_INLINE __m512i nmt8_as_si(__m512 v) { return _mm512_castps_si512(v); }

NMT8_AVX512F NMT8_INLINE __m512 nmt8_tanh16(__m512 x)
{
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    const __m512 a = _mm512_min_ps(nmt8_as_ps(_mm512_andnot_si512(sign, nmt8_as_si(x))),
                                   _mm512_set1_ps(NMT8_A_BIG));
    const __m512 z = _mm512_mul_ps(a, a);
    __m512 q = _mm512_set1_ps(NMT8_TANHQ[4]);
    for (int i = 3; i >= 0; i--)
        q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(NMT8_TANHQ[i]));
    const __m512 small = _mm512_fmadd_ps(a, _mm512_mul_ps(z, q), a);
    const __m512 E = nmt8_exp16(_mm512_add_ps(a, a));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 big = _mm512_sub_ps(
        one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(E, one)));
    __m512 y = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask(a, _mm512_set1_ps(NMT8_T_SMALL), _CMP_LT_OQ), big, small);
    y = nmt8_as_ps(_mm512_or_si512(nmt8_as_si(y), _mm512_and_si512(nmt8_as_si(x), sign)));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

#endif
#endif
