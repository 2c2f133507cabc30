/*
 * nmt8_fp32.h -- the float32 product the paper's int8 kernel is measured
 * against: "a similar optimized floating point implementation" (Section 3
 * of Quinn & Ballesteros 2018), built like the int8 kernels so that a
 * speed-up measures bytes per weight, not kernel effort.
 *
 * The one operation, for a narrow X of P rows (beam hypotheses):
 *
 *     Y[p,o] = sum_k X[p,k] * WT[o,k]  (+ b[o])          float32
 *
 * WT is the weight matrix transposed, (N out, K in) row-major, so every
 * output is one contiguous dot product, as in the int8 kernels.  The
 * order of the float additions differs between kernels (each rounds
 * differently, within the usual bound gamma_K * sum_k |x_k w_k|).
 *
 * Read by nmt8/native/build.py into cdef, like nmt8_kernels.h: plain
 * declarations and "#define NAME <integer>" only.
 */
#ifndef NMT8_FP32_H
#define NMT8_FP32_H

#include <stdint.h>

#include "nmt8_kernels.h"       /* the return codes NMT8_OK ... */

/* kernel ids (or NMT8_KERNEL_AUTO: the process's choice, nmt8_dispatch.h) */
#define NMT8_F32_REF 0
#define NMT8_F32_AVX2 1
#define NMT8_F32_AVX512 2
#define NMT8_F32_NUM_KERNELS 3

/*
 * The kernels proper, no bias, no checks of the values:
 *   Y   (P, N) float32 row-major, output; must not overlap X
 *   WT  (N, K) float32 row-major
 *   X   (P, K) float32 row-major
 * ref is plain C loops, the definition; avx2 uses FMA3; avx512 AVX-512F.
 */
int nmt8_f32_ref(float *Y, const float *WT, const float *X, int64_t P,
                 int64_t N, int64_t K);
int nmt8_f32_avx2(float *Y, const float *WT, const float *X, int64_t P,
                  int64_t N, int64_t K);
int nmt8_f32_avx512(float *Y, const float *WT, const float *X, int64_t P,
                    int64_t N, int64_t K);

/*
 * The entry point: Y = X WT^T (+ bias).  bias (N,) float32 or NULL.
 * Returns NMT8_EUNSUPPORTED for a kernel this CPU cannot run,
 * NMT8_ENONFINITE when X holds a NaN or an inf, NMT8_ENONFINITE_BIAS
 * when the bias does, NMT8_EBADARG for a misaligned or NULL buffer or a
 * negative size (nothing is written then).
 */
int nmt8_f32_matmul(int kernel, float *Y, const float *WT, const float *X,
                    const float *bias, int64_t P, int64_t N, int64_t K);

#endif /* NMT8_FP32_H */
