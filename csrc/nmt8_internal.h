/*
 * nmt8_internal.h -- helpers shared by the kernel files of Section 3 of
 * Quinn & Ballesteros 2018.  Not part of the cffi interface (the build
 * script reads only nmt8_kernels.h).
 */
#ifndef NMT8_INTERNAL_H
#define NMT8_INTERNAL_H

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

/* sum_k w[k] * x[k] over n elements; w (n,) int8, x (n,) int8 */
int32_t nmt8_dot_tail(const int8_t *w, const int8_t *x, int64_t n);

/*
 * What the maddubs instruction computes over n elements, starting at an
 * even k: sum over pairs of sat16((x0+128)*w0 + (x1+128)*w1), an odd last
 * element paired with zero.  w (n,) int8, x (n,) int8.
 */
int32_t nmt8_maddubs_tail(const int8_t *w, const int8_t *x, int64_t n);

/*
 * xu[k] = Xq[k] + 128 as uint8 for k < K, and 128 (i.e. x = 0) for
 * K <= k < K4.  xu (K4,) uint8; Xq (K,) int8.
 */
void nmt8_shift_u8(uint8_t *xu, const int8_t *Xq, int64_t K, int64_t K4);

#endif /* NMT8_INTERNAL_H */
