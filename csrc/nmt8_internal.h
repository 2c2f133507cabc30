/*
 * nmt8_internal.h -- helpers shared by the kernel files of Section 3 of
 * Quinn & Ballesteros 2018: argument checks, prefetch, the tail mask, the
 * switch from a run-time count of rows of X to a compile-time one, the
 * +128 shift and the VNNI tile.  Not part of the cffi interface (the
 * build script reads only nmt8_kernels.h).
 */
#ifndef NMT8_INTERNAL_H
#define NMT8_INTERNAL_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "nmt8_kernels.h"

#define NMT8_INLINE static inline __attribute__((always_inline))

/*
 * Scalar tails must stay scalar: gcc 12 at -O3 inside a function compiled
 * for an AVX-512 VNNI target can mis-vectorise a loop such as
 * s += w * (x - 128).  These helpers live in the baseline file, are never
 * inlined into a target function and are never vectorised.
 */
#if defined(__clang__)
#define NMT8_SCALAR __attribute__((noinline))
#elif defined(__GNUC__)
#define NMT8_SCALAR __attribute__((noinline, optimize("no-tree-vectorize")))
#else
#define NMT8_SCALAR
#endif

/* ------------------------------------------------------ argument checks */

/* p is aligned for type T (NULL counts as aligned) */
#define NMT8_ALIGNED(p, T) (((uintptr_t)(p) & (alignof(T) - 1)) == 0)

/* what a kernel needs beyond Wq and the sizes */
enum { NMT8_NEED_WSUM = 1, NMT8_NEED_WP = 2 };

/* nonzero when w or P cannot be used by a kernel that needs `needs` */
static inline int nmt8_bad_args(const nmt8_weights *w, int64_t P,
                                int needs)
{
    if (w == NULL || w->Wq == NULL || w->N < 0 || w->K < 0 || P < 0)
        return 1;
    if ((needs & NMT8_NEED_WSUM)
        && (w->wsum == NULL || !NMT8_ALIGNED(w->wsum, int32_t)))
        return 1;
    if ((needs & NMT8_NEED_WP) && w->Wp == NULL)
        return 1;
    return 0;
}

/* ------------------------------------------------------------- prefetch */

/*
 * A software prefetch of the line at p.  Prefetching an address outside
 * the array is not a fault on x86, but computing it is undefined C, and a
 * sign of a wrong bound: sanitizer builds (-DNMT8_CHECK_PREFETCH, see
 * tests/test_sanitizers.py) turn every prefetch into a one-byte read, so
 * that AddressSanitizer checks its address.
 */
#if defined(NMT8_CHECK_PREFETCH)
#define NMT8_PREFETCH(p, hint) ((void)*(const volatile char *)(p))
#else
#define NMT8_PREFETCH(p, hint) _mm_prefetch((const char *)(p), hint)
#endif

/* ------------------------------------------------------------ tail mask */

/*
 * NMT8_TAIL_MASK + r: 16 bytes whose last r are 0xff (0 < r < 16).  A row
 * whose K is not a multiple of 16 ends with a load of its last 16 bytes,
 * x masked to zero where those bytes were already counted.
 */
extern const int8_t NMT8_TAIL_MASK[32];

/* ----------------------------------------------------------- rows of X */

/*
 * Call BODY(PT) with PT a compile-time constant equal to n (1 <= n <= 4,
 * or <= 8), so that the kernels' per-row arrays live in registers.
 */
#define NMT8_ROWS_UPTO4(n, BODY)                                        \
    switch (n) {                                                        \
    case 1: BODY(1); break;                                             \
    case 2: BODY(2); break;                                             \
    case 3: BODY(3); break;                                             \
    default: BODY(4); break;                                            \
    }

#define NMT8_ROWS_UPTO8(n, BODY)                                        \
    switch (n) {                                                        \
    case 1: BODY(1); break;                                             \
    case 2: BODY(2); break;                                             \
    case 3: BODY(3); break;                                             \
    case 4: BODY(4); break;                                             \
    case 5: BODY(5); break;                                             \
    case 6: BODY(6); break;                                             \
    case 7: BODY(7); break;                                             \
    default: BODY(8); break;                                            \
    }

/* ------------------------------------------------------------- +128 shift */

/* x + NMT8_X_SHIFT as uint8, for x an int8 in [-127, 127]: flip the sign bit */
#define NMT8_SHIFT_BYTE 0x80u

/*
 * xu[k] = Xq[k] + 128 as uint8 for k < K, and 128 (i.e. x = 0) for
 * K <= k < K4.  xu (K4,) uint8; Xq (K,) int8.
 */
void nmt8_shift_u8(uint8_t *xu, const int8_t *Xq, int64_t K, int64_t K4);

/* ----------------------------------------------------------- scalar tails */

/* sum_k w[k] * x[k] over n elements; w (n,) int8, x (n,) int8 */
int32_t nmt8_dot_tail(const int8_t *w, const int8_t *x, int64_t n);

/*
 * What the maddubs instruction computes over n elements, starting at an
 * even k: sum over pairs of sat16((x0+128)*w0 + (x1+128)*w1), an odd last
 * element paired with zero.  w (n,) int8, x (n,) int8.
 */
int32_t nmt8_maddubs_tail(const int8_t *w, const int8_t *x, int64_t n);

/* --------------------------------------------------------------- epilogue */

/*
 * The float epilogue of nmt8_kernels.h, in place, on a (P, N) block of Y
 * with row stride ld (floats): Y[p,o] = (float)acc[p,o] * (x_step[p] *
 * w_step[o]) + bias[o], acc read from the same memory as int32.
 * x_step (P,); w_step (N,); bias (N,) or NULL.
 */
void nmt8_epilogue(void *Y, int64_t ld, const float *x_step,
                   const float *w_step, const float *bias, int64_t P,
                   int64_t N);

#if defined(__x86_64__)
#include <float.h>
#include <immintrin.h>

/*
 * nmt8_epilogue for 16 outputs of one row, AVX-512: a (16,) int32 sums,
 * sp = x_step[p] broadcast, sw = w_step[o..o+15], b the bias (used when
 * has_bias), m the lanes that are outputs.  The one home of the formula's
 * AVX-512 form: nmt8_epilogue's wide path and the amx kernel's tiles.
 */
__attribute__((target("avx512f"))) static inline __m512 nmt8_epilogue16(
    __m512i acc, __m512 sp, __m512 sw, __m512 b, int has_bias, __mmask16 m)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 s = _mm512_mul_ps(sp, sw);
    const __m512 a = _mm512_cvtepi32_ps(acc);
    __m512 v = _mm512_mul_ps(a, s);
    const __mmask16 sub = _mm512_cmp_ps_mask(s, zero, _CMP_GT_OQ)
        & _mm512_cmp_ps_mask(s, _mm512_set1_ps(FLT_MIN), _CMP_LT_OQ) & m;
    if (sub)                                        /* rare: tiny steps */
        v = _mm512_mask_mov_ps(v, sub,
                               _mm512_mul_ps(_mm512_mul_ps(a, sp), sw));
    return has_bias ? _mm512_add_ps(v, b) : v;
}
#endif

/*
 * The gemm kernel (nmt8_gemm.c) with the epilogue applied to each register
 * tile while it is in L1: nmt8_matmul_q's result, bit for bit, with one
 * pass over Y instead of three.  Arguments already checked by the caller.
 */
int nmt8_gemm_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                    const float *x_step, const float *bias, int64_t P);

/* the same for the gemm_avx2 kernel (nmt8_gemm_avx2.c) */
int nmt8_gemm_avx2_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                         const float *x_step, const float *bias, int64_t P);

/* ----------------------------------------------------------- VNNI tile */

/* bytes of one packed VNNI vector: 16 output rows x 4 k */
#define NMT8_VNNI_LINE (NMT8_VNNI_ROWS * NMT8_VNNI_DEPTH)

/* ceil(a / b) for a >= 0, b > 0 */
#define NMT8_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

#endif /* NMT8_INTERNAL_H */
