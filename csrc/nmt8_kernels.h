/*
 * nmt8_kernels.h -- the 8-bit matrix multiply of Section 3 of Quinn &
 * Ballesteros 2018, "Pieces of Eight: 8-bit Neural Machine Translation".
 *
 * This header is the single source of the C declarations: the cffi build
 * script (nmt8/native/build.py) reads it into ffibuilder.cdef, dropping
 * the preprocessor lines other than "#define NAME <integer>".  Keep it to
 * plain declarations that cffi can parse.
 *
 * The one operation, for a narrow matrix X of P rows (beam hypotheses):
 *
 *     acc[p,o] = sum_k Xq[p,k] * Wq[o,k]                  exact, int32
 *     Y[p,o]   = (float)acc[p,o] * (x_step[p] * w_step[o]) + b[o]
 *
 * in float32, in that order (or ((float)acc * x_step) * w_step where the
 * product of the steps is subnormal, from tiny weights or activations).
 *
 * Xq and Wq hold int8 values in [-127, 127].  Wq is stored transposed,
 * row-major (N out rows, K in columns), so every output is one contiguous
 * dot product.
 *
 * Naming, as in nmt8.quant: a "scale" takes floats to int8 (127 / max|row|,
 * Xq = rint(X * scale)); a "step" takes int8 back to floats (max|row| / 127,
 * X ~ Xq * step).  The kernels only ever need steps.
 *
 * Buffers: every pointer is aligned for its type (float and int32 on 4
 * bytes; int8 on any byte); a misaligned float or int32 buffer is refused
 * with NMT8_EBADARG.  Every kernel is single-threaded and reentrant: two
 * threads may share one nmt8_weights.
 */
#ifndef NMT8_KERNELS_H
#define NMT8_KERNELS_H

#include <stdint.h>

/* kernel ids: the variants of the one operation */
#define NMT8_KERNEL_REF 0
#define NMT8_KERNEL_SSE4 1
#define NMT8_KERNEL_AVX2 2
#define NMT8_KERNEL_VNNI 3
#define NMT8_KERNEL_MADDUBS 4
#define NMT8_KERNEL_GEMM 5
#define NMT8_KERNEL_GEMM_AVX2 6
#define NMT8_KERNEL_AMX 7
#define NMT8_NUM_KERNELS 8

/* return codes */
#define NMT8_OK 0
#define NMT8_EUNSUPPORTED 1
#define NMT8_ENOMEM 2
#define NMT8_ENONFINITE 3
#define NMT8_EBADARG 4
#define NMT8_ENONFINITE_BIAS 5

/*
 * The vnni and maddubs kernels need an unsigned operand: they multiply
 * X + NMT8_X_SHIFT (in [1, 255]) and subtract NMT8_X_SHIFT * sum_k Wq[o,k].
 */
#define NMT8_X_SHIFT 128

/*
 * The VNNI packed layout: blocks of NMT8_VNNI_ROWS output rows by
 * NMT8_VNNI_DEPTH consecutive k, one 64-byte vector each, the whole array
 * starting on an NMT8_VNNI_ALIGN-byte boundary.
 */
#define NMT8_VNNI_ROWS 16
#define NMT8_VNNI_DEPTH 4
#define NMT8_VNNI_ALIGN 64

/*
 * A quantized weight matrix, as the kernels see it.  Python builds one per
 * QuantizedMatrix and keeps the buffers alive.
 *   Wq      (N, K) int8, row-major: the paper's transposed weights
 *   Wp      VNNI layout (ceil(N/16), ceil(K/4), 16, 4) int8, zero padded,
 *           NMT8_VNNI_ALIGN-byte aligned; NULL unless the vnni, gemm or
 *           gemm_avx2 kernel is used
 *   wsum    (N,) int32: NMT8_X_SHIFT * sum_k Wq[o,k] (wrapping), the
 *           correction for the shift of X in the vnni, gemm and maddubs
 *           kernels
 *   w_step  (N,) float32: the step of output row o
 */
typedef struct {
    const int8_t *Wq;
    const int8_t *Wp;
    const int32_t *wsum;
    const float *w_step;
    int64_t N;
    int64_t K;
} nmt8_weights;

/*
 * The weight stream of the decoding case (P <= 2 rows of X) of the vnni
 * kernel, tunable at run time because its best values differ between
 * CPUs (nmt8 tune measures them; nmt8.native.tuning sets them once at
 * load).  No value changes a single bit of any result, only the order in
 * which the weights are fetched:
 *   streams         output blocks of 16 rows read side by side, each its
 *                   own sequential stream (memory-level parallelism):
 *                   1, 2, 4 or 8
 *   prefetch_bytes  software prefetch (into L2) this far ahead in each
 *                   stream, 0 .. NMT8_STREAM_MAX_PREFETCH, a multiple of
 *                   64; 0: none (the hardware prefetchers alone)
 * Set with nmt8_set_stream (NMT8_EBADARG for a value out of range, and
 * nothing changes); read with nmt8_get_stream.  Process-wide: set it
 * before calling kernels from several threads, not while they run.
 */
#define NMT8_STREAM_DEFAULT_STREAMS 4
#define NMT8_STREAM_DEFAULT_PREFETCH 2048
#define NMT8_STREAM_MAX_PREFETCH 65536
int nmt8_set_stream(int streams, int64_t prefetch_bytes);
void nmt8_get_stream(int *streams, int64_t *prefetch_bytes);

/*
 * The same for the fp32 and int16 vector kernels (nmt8_fp32_simd.c,
 * nmt8_int16_simd.c), which read 4 weight rows side by side: the group of
 * rows about prefetch_bytes ahead is prefetched into L2 (0 ..
 * NMT8_STREAM_MAX_PREFETCH, a multiple of 64; 0: none).  Every P.
 */
#define NMT8_LADDER_DEFAULT_PREFETCH 16384
int nmt8_set_ladder_prefetch(int64_t prefetch_bytes);
int64_t nmt8_get_ladder_prefetch(void);

/*
 * The kernels proper: raw int32 accumulators.  All share one signature;
 * nmt8_accum_ref is the plain reference the others are checked against.
 * Call them through nmt8_accumulate, which checks the CPU first.
 *   acc  (P, N) int32, row-major, output
 *   Xq   (P, K) int8, row-major
 * Return NMT8_OK, or an error code (nothing is written then).
 */
int nmt8_accum_ref(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                   int64_t P);
int nmt8_accum_sse4(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P);
int nmt8_accum_avx2(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P);
int nmt8_accum_vnni(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P);
int nmt8_accum_maddubs(int32_t *acc, const nmt8_weights *w,
                       const int8_t *Xq, int64_t P);
/* blocked VNNI for many rows of X (nmt8_gemm.c): same sums as vnni */
int nmt8_accum_gemm(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P);
/* blocked AVX2 for many rows of X (nmt8_gemm_avx2.c): packed like vnni */
int nmt8_accum_gemm_avx2(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P);

/*
 * the three entry points; `kernel` is one of the NMT8_KERNEL_* ids, or
 * NMT8_KERNEL_AUTO: the process's choice for P rows (nmt8_dispatch.h: the
 * naive kernel of its instruction set, or the blocked one for many rows).
 * NMT8_EUNSUPPORTED for a kernel this CPU cannot run.
 */

/* raw accumulators, acc (P, N) int32 */
int nmt8_accumulate(int kernel, int32_t *acc, const nmt8_weights *w,
                    const int8_t *Xq, int64_t P);

/*
 * pre-quantized X:  Y (P, N) float32;  Xq (P, K) int8;  x_step (P,)
 * float32;  bias (N,) float32 or NULL.  Returns NMT8_ENONFINITE_BIAS when
 * the bias holds a NaN or an inf.
 */
int nmt8_matmul_q(int kernel, float *Y, const nmt8_weights *w,
                  const int8_t *Xq, const float *x_step, const float *bias,
                  int64_t P);

/*
 * float X, quantized here row by row, then multiplied:
 * Y (P, N) float32;  X (P, K) float32;  bias (N,) float32 or NULL.
 * Y may overlap X (all of X is quantized before Y is written).
 * Returns NMT8_ENONFINITE when X holds a NaN or an inf,
 * NMT8_ENONFINITE_BIAS when the bias does.
 */
int nmt8_matmul_f32(int kernel, float *Y, const nmt8_weights *w,
                    const float *X, const float *bias, int64_t P);

/*
 * activation quantization, per row: x_step[p] = max_k |X[p,k]| / 127 and
 * Xq[p,k] = clamp(rint(X[p,k] * (127 / max)), -127, 127); a zero row gets
 * x_step = 0 and Xq = 0; a row whose scale 127 / max overflows float32
 * (max < 127 / FLT_MAX) is scaled in double instead.
 * Xq (P, K) int8;  x_step (P,) float32;  X (P, K) float32.
 */
int nmt8_quantize_rows(int8_t *Xq, float *x_step, const float *X,
                       int64_t P, int64_t K);

#endif /* NMT8_KERNELS_H */
