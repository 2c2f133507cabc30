/*
 * The two halves of a VNNI register tile that the naive kernel
 * (nmt8_vnni.c) and the blocked one (nmt8_gemm.c) share: the vpdpbusd
 * step and the +128 correction on the way out.  Macros, so that each
 * kernel keeps its own tile sizes (the arrays c[NB][PT] and wv[NB] are
 * sized by the caller); they expand inside the callers' AVX-512 VNNI
 * functions.  Needs <immintrin.h> and <string.h>.
 *
 * X reaches vpdpbusd as unsigned bytes, x + 128 (NMT8_SHIFT_BYTE), so
 * each sum holds 128 * sum_k w[o, k] too; wsum (N,) int32 is that amount
 * per output, subtracted once at the end: the exact int8 x int8 sum.
 */
#ifndef NMT8_VNNI_TILE_H
#define NMT8_VNNI_TILE_H

/*
 * c[b][p] += x_p(4 k of step g) . wv[b], b < NB, p < PT; xu (PT, 4 G)
 * uint8, row stride 4 G (DEP = 4 bytes of k per int32 lane).
 */
#define NMT8_VNNI_STEP(c, wv, xu, G, g, NB, PT)                          \
    for (int p_ = 0; p_ < (PT); p_++) {                                 \
        int32_t x4_;                             /* 4 bytes of x + 128 */ \
        memcpy(&x4_, (xu) + p_ * (G) * NMT8_VNNI_DEPTH                   \
               + (g) * NMT8_VNNI_DEPTH, sizeof x4_);                    \
        __m512i xb_ = _mm512_set1_epi32(x4_);                           \
        for (int b_ = 0; b_ < (NB); b_++)                               \
            (c)[b_][p_] = _mm512_dpbusd_epi32((c)[b_][p_], xb_, (wv)[b_]); \
    }

/*
 * acc[p, 16 b + j] = c[b][p][j] - wsum[16 b + j] for the NB blocks of 16
 * outputs, the last holding nlast (1..16): the masked load and store stay
 * inside the N outputs.  acc (PT, N) view, row stride N.
 */
#define NMT8_VNNI_STORE(acc, N, c, wsum, NB, PT, nlast)                  \
    for (int b_ = 0; b_ < (NB); b_++) {                                 \
        __mmask16 m_ = b_ == (NB) - 1                                   \
            ? (__mmask16)((1u << (nlast)) - 1u) : (__mmask16)0xffff;    \
        __m512i corr_ = _mm512_maskz_loadu_epi32(                       \
            m_, (wsum) + b_ * NMT8_VNNI_ROWS);                          \
        for (int p_ = 0; p_ < (PT); p_++)                               \
            _mm512_mask_storeu_epi32((acc) + p_ * (N) + b_ * NMT8_VNNI_ROWS, \
                                     m_, _mm512_sub_epi32((c)[b_][p_], corr_)); \
    }

#endif
