/*
 * nmt8_expf.h -- nmt8's float32 exp, shared by the fused attention
 * (nmt8_attention.c: tanh) and the row log-sum-exp (nmt8_softmax.c).
 * Not part of the cffi interface.
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
#ifndef NMT8_EXPF_H
#define NMT8_EXPF_H

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
NMT8_SCALAR static float nmt8_exp1(float t)
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

#endif
#endif
