/*
 * nmt8_gru.c -- a GRU step's gates and new state (nmt8_gru.h); the
 * reference is nmt8.model.gru.gru_gates in numpy, with numpy's tanh.
 */
#include "nmt8_attention.h"
#include "nmt8_gru.h"
#include "nmt8_mathf.h"
#include "nmt8_internal.h"

/* one row, columns [j0, H): x, hh (3H,), hp, y (H,) */
NMT8_SCALAR static void row_tail(float *y, const float *x, const float *hh,
                                 const float *hp, int64_t j0, int64_t H)
{
    for (int64_t j = j0; j < H; j++) {
        const float r = (nmt8_tanh1((x[j] + hh[j]) * 0.5f) + 1.0f) * 0.5f;
        const float u = (nmt8_tanh1((x[H + j] + hh[H + j]) * 0.5f) + 1.0f)
                        * 0.5f;
        const float ht = nmt8_tanh1(x[2 * H + j] + r * hh[2 * H + j]);
        y[j] = u * hp[j] + (1.0f - u) * ht;
    }
}

static void row_portable(float *y, const float *x, const float *hh,
                         const float *hp, int64_t H)
{
    row_tail(y, x, hh, hp, 0, H);
}

#if defined(__x86_64__)

NMT8_AVX2F static void row_avx2(float *y, const float *x, const float *hh,
                                const float *hp, int64_t H)
{
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    int64_t j = 0;
    for (; j + 8 <= H; j += 8) {
#define LD(p, o) _mm256_loadu_ps((p) + (o) + j)
        const __m256 r = _mm256_mul_ps(_mm256_add_ps(nmt8_tanh8(_mm256_mul_ps(
            _mm256_add_ps(LD(x, 0), LD(hh, 0)), half)), one), half);
        const __m256 u = _mm256_mul_ps(_mm256_add_ps(nmt8_tanh8(_mm256_mul_ps(
            _mm256_add_ps(LD(x, H), LD(hh, H)), half)), one), half);
        const __m256 ht = nmt8_tanh8(_mm256_add_ps(
            LD(x, 2 * H), _mm256_mul_ps(r, LD(hh, 2 * H))));
        _mm256_storeu_ps(y + j, _mm256_add_ps(
            _mm256_mul_ps(u, LD(hp, 0)),
            _mm256_mul_ps(_mm256_sub_ps(one, u), ht)));
#undef LD
    }
    row_tail(y, x, hh, hp, j, H);
}

NMT8_AVX512F static void row_avx512(float *y, const float *x, const float *hh,
                                    const float *hp, int64_t H)
{
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    int64_t j = 0;
    for (; j + 16 <= H; j += 16) {
#define LD(p, o) _mm512_loadu_ps((p) + (o) + j)
        const __m512 r = _mm512_mul_ps(_mm512_add_ps(nmt8_tanh16(_mm512_mul_ps(
            _mm512_add_ps(LD(x, 0), LD(hh, 0)), half)), one), half);
        const __m512 u = _mm512_mul_ps(_mm512_add_ps(nmt8_tanh16(_mm512_mul_ps(
            _mm512_add_ps(LD(x, H), LD(hh, H)), half)), one), half);
        const __m512 ht = nmt8_tanh16(_mm512_add_ps(
            LD(x, 2 * H), _mm512_mul_ps(r, LD(hh, 2 * H))));
        _mm512_storeu_ps(y + j, _mm512_add_ps(
            _mm512_mul_ps(u, LD(hp, 0)),
            _mm512_mul_ps(_mm512_sub_ps(one, u), ht)));
#undef LD
    }
    row_tail(y, x, hh, hp, j, H);
}

#endif

typedef void (*row_fn)(float *, const float *, const float *, const float *,
                       int64_t);

int nmt8_gru_gates(float *h, const float *xp, int64_t ld_x, const float *hp,
                   int64_t ld_h, const float *h_prev, int64_t ld_p, int64_t P,
                   int64_t H, int isa)
{
    isa = nmt8_resolve(NMT8_FAMILY_FUSED, isa, 0);   /* one of 3 paths */
    if (isa < 0)
        return NMT8_EUNSUPPORTED;
    if (P < 0 || H < 0 || ld_x < 3 * H || ld_h < 3 * H || ld_p < H
        || (P > 0 && (!h || !xp || !hp || !h_prev))
        || !NMT8_ALIGNED(h, float) || !NMT8_ALIGNED(xp, float)
        || !NMT8_ALIGNED(hp, float) || !NMT8_ALIGNED(h_prev, float))
        return NMT8_EBADARG;
    row_fn row = row_portable;
#if defined(__x86_64__)
    if (isa == NMT8_ISA_AVX2)
        row = row_avx2;
    if (isa == NMT8_ISA_AVX512)
        row = row_avx512;
#endif
    for (int64_t p = 0; p < P; p++)
        row(h + p * H, xp + p * ld_x, hp + p * ld_h, h_prev + p * ld_p, H);
    return NMT8_OK;
}
