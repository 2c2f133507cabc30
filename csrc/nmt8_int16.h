/*
 * nmt8_int16.h -- the 16-bit rung of the precision ladder: the int16
 * products of Devlin (2017) and Marian, beside the 8-bit kernel of
 * Section 3 of Quinn & Ballesteros 2018, with the same shape (weights
 * transposed, 4 rows at a time, narrow X).
 *
 *     acc[p,o] = sum_k Xq[p,k] * Wq[o,k]                      exact, int64
 *     Y[p,o]   = (float)(((double)acc[p,o] * x_step[p]) * w_step[o]) + b[o]
 *
 * Exactness.  Activations are symmetric int16 in [-NMT8_I16_X_MAX,
 * NMT8_I16_X_MAX] = [-(2^15 - 1), 2^15 - 1]; weights are stored as int16
 * but limited to |Wq| <= NMT8_I16_W_MAX = 2^13 - 1.  One pmaddwd (or
 * vpdpwssd) adds a pair x0 w0 + x1 w1 to each int32 lane, at most
 * 2 * 32767 * 8191 = 536 805 378 in size, so NMT8_I16_FLUSH = 4 of them
 * fit a lane: 4 * 536 805 378 = 2 147 221 512 < 2^31 - 1.  Every 4
 * steps the int32 lanes are widened and added into int64, whose sums are
 * exact for K * 32767 * 8191 < 2^63 (K below 3.4e10, MAX_IN_FEATURES16
 * in nmt8.quant.int16).  So every kernel gives the same sums, bit for
 * bit, as an int64 numpy product, and the same float results.
 * (Full 16-bit weights would leave room for one pair per lane only;
 * Marian's int16 weights, scaled by 2^10, rarely pass 8191 anyway.)
 *
 * Read by nmt8/native/build.py into cdef, like nmt8_kernels.h.
 */
#ifndef NMT8_INT16_H
#define NMT8_INT16_H

#include <stdint.h>

#include "nmt8_kernels.h"       /* the return codes NMT8_OK ... */

/* kernel ids (or NMT8_KERNEL_AUTO: the process's choice, nmt8_dispatch.h) */
#define NMT8_I16_REF 0
#define NMT8_I16_SSE4 1
#define NMT8_I16_AVX2 2
#define NMT8_I16_VNNI 3
#define NMT8_I16_NUM_KERNELS 4

/* the bounds of the exact design (see top) */
#define NMT8_I16_X_MAX 32767
#define NMT8_I16_W_MAX 8191
#define NMT8_I16_FLUSH 4

/*
 * Where a kernel puts its results: the raw sums into acc when acc is not
 * NULL, else the float results into Y, as the formula at the top.
 *   acc     (P, N) int64 row-major, or NULL
 *   Y       (P, N) float32 row-major (when acc is NULL)
 *   x_step  (P,) float32; w_step (N,) float32; bias (N,) float32 or NULL
 */
typedef struct {
    int64_t *acc;
    float *Y;
    const float *x_step;
    const float *w_step;
    const float *bias;
} nmt8_i16_out;

/*
 * The kernels proper, all with one signature; ref is the plain triple
 * loop the others are checked against.
 *   Wq  (N, K) int16 row-major, |Wq| <= NMT8_I16_W_MAX
 *   Xq  (P, K) int16 row-major, |Xq| <= NMT8_I16_X_MAX
 */
int nmt8_i16_ref(const nmt8_i16_out *out, const int16_t *Wq,
                 const int16_t *Xq, int64_t P, int64_t N, int64_t K);
int nmt8_i16_sse4(const nmt8_i16_out *out, const int16_t *Wq,
                  const int16_t *Xq, int64_t P, int64_t N, int64_t K);
int nmt8_i16_avx2(const nmt8_i16_out *out, const int16_t *Wq,
                  const int16_t *Xq, int64_t P, int64_t N, int64_t K);
int nmt8_i16_vnni(const nmt8_i16_out *out, const int16_t *Wq,
                  const int16_t *Xq, int64_t P, int64_t N, int64_t K);

/* raw sums: acc (P, N) int64; Xq (P, K) int16 */
int nmt8_i16_accumulate(int kernel, int64_t *acc, const int16_t *Wq,
                        const int16_t *Xq, int64_t P, int64_t N, int64_t K);

/*
 * float X, quantized here row by row, then multiplied: Y (P, N) float32;
 * Wq (N, K) int16; w_step (N,) float32; X (P, K) float32; bias (N,)
 * float32 or NULL.  Y may overlap X (all of X is quantized first).
 * Returns NMT8_ENONFINITE when X holds a NaN or an inf,
 * NMT8_ENONFINITE_BIAS when the bias does.
 */
int nmt8_i16_matmul(int kernel, float *Y, const int16_t *Wq,
                    const float *w_step, const float *X, const float *bias,
                    int64_t P, int64_t N, int64_t K);

/*
 * activation quantization, per row, in double: m = max_k |X[p,k]|,
 * x_step[p] = (float)(m / 32767), Xq[p,k] = rint(X[p,k] * (32767 / m))
 * (nearest even); a zero row gets x_step = 0 and Xq = 0.
 * Xq (P, K) int16;  x_step (P,) float32;  X (P, K) float32.
 */
int nmt8_i16_quantize_rows(int16_t *Xq, float *x_step, const float *X,
                           int64_t P, int64_t K);

#endif /* NMT8_INT16_H */
