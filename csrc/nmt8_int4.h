/*
 * nmt8_int4.h -- 4-bit weights for the product of Section 3 of Quinn &
 * Ballesteros 2018, "Pieces of Eight: 8-bit Neural Machine Translation".
 * The paper stops at 8 bits; this rung goes one step lower
 * on the weights only, so that a decoder step, which streams every weight
 * from memory once per target word, reads about half the bytes.
 *
 * Numbers.  Wq (N outputs, K inputs) holds int4 values in [-7, 7], with
 * one float32 step per group of G consecutive inputs of one output row
 * (G = 32 or 64; the last group of a row is zero padded).  Activations
 * Xq (P rows, K) are int8 in [-127, 127] with one float32 step per row,
 * exactly as the int8 kernels (nmt8_kernels.h) take them.  With
 * NG = ceil(K / G) groups:
 *
 *   acc[p,o,g] = sum_{k in group g} Xq[p,k] * Wq[o,k]        exact, int32
 *   S[p,o]     = +0.0f;  for g = 0, 1, ..., NG - 1 in this order:
 *                  S[p,o] = S[p,o] + (float)acc[p,o,g] * w_step[o,g]
 *   Y[p,o]     = x_step[p] * S[p,o]             (+ bias[o] when given)
 *
 * in float32, every operation rounded on its own: a multiply, then an add
 * (no fused multiply-add; the build has -ffp-contract=off).  numpy
 * reproduces it bit for bit in float32 with the same loop over g.  Every
 * kernel (ref, avx2, vnni) gives the same bits, whatever the shapes.
 *
 * The weights reach the kernels packed (nmt8_int4_pack) into one buffer:
 * two weights per byte, and after every 16 outputs x G inputs of them
 * their 16 steps, in the layout drawn at the top of nmt8_int4.c.
 *
 * Does not: choose the steps or round the weights to [-7, 7] (the caller
 * quantizes; nmt8_quantize_rows makes Xq and x_step); take float X; use
 * threads; have an SSE4 kernel.
 *
 * Read by the cffi build into cdef like nmt8_kernels.h (preprocessor lines
 * dropped, except "#define NAME <integer>"): plain declarations only.
 * The return codes NMT8_OK ... are those of nmt8_kernels.h.
 */
#ifndef NMT8_INT4_H
#define NMT8_INT4_H

#include <stdint.h>

#include "nmt8_kernels.h"       /* the return codes NMT8_OK ... */

/*
 * kernel ids, numbered like the int8 and int16 ones (1 would be sse4,
 * which int4 does not have: nmt8_supports(NMT8_FAMILY_INT4, 1) is 0;
 * or NMT8_KERNEL_AUTO, the process's choice: nmt8_dispatch.h)
 */
#define NMT8_INT4_REF 0
#define NMT8_INT4_AVX2 2
#define NMT8_INT4_VNNI 3
#define NMT8_INT4_NUM_KERNELS 4

/* the weight values: Wq in [-NMT8_INT4_W_MAX, NMT8_INT4_W_MAX] */
#define NMT8_INT4_W_MAX 7
/* a nibble holds Wq + NMT8_INT4_OFFSET, in [1, 15] (8: a zero weight) */
#define NMT8_INT4_OFFSET 8

/*
 * The packed layout: blocks of NMT8_INT4_ROWS outputs; in each, per group
 * of G inputs, G / 8 lines of NMT8_INT4_LINE bytes of nibbles
 * (NMT8_INT4_DEPTH bytes per output) and one line of 16 float32 steps.
 * Best (not required) on an NMT8_INT4_ALIGN boundary.
 */
#define NMT8_INT4_ROWS 16
#define NMT8_INT4_DEPTH 4
#define NMT8_INT4_LINE 64
#define NMT8_INT4_ALIGN 64

/* the group sizes there are kernels for */
#define NMT8_INT4_G32 32
#define NMT8_INT4_G64 64

/* largest P, N or K accepted (indices stay far from int64 overflow) */
#define NMT8_INT4_MAX_DIM 2147483647

/*
 * Bytes of the packed buffer for an (N, K) matrix in groups of G:
 * ceil(N / 16) * ceil(K / G) * (G / 8 + 1) * 64.  -1 for bad sizes (N or
 * K negative or above NMT8_INT4_MAX_DIM, K odd, G not 32 or 64).
 */
int64_t nmt8_int4_packed_bytes(int64_t N, int64_t K, int64_t G);

/*
 * Pack quantized weights and their steps for the kernels.
 *   Wp      nmt8_int4_packed_bytes(N, K, G) bytes, output: the layout at
 *           the top of nmt8_int4.c, (ceil(N/16), NG, G/8 + 1, 64) bytes;
 *           nibble 8 (a zero weight) and step 0 past N and past K
 *   Wq      (N, K) int8 row-major, every value in [-7, 7]
 *   w_step  (N, NG) float32 row-major, finite
 * NG = ceil(K / G); K even; G 32 or 64.  Returns NMT8_EBADARG (a value
 * outside [-7, 7], a NULL or misaligned buffer, bad sizes) or
 * NMT8_ENONFINITE (a step NaN or inf) before writing anything.
 */
int nmt8_int4_pack(uint8_t *Wp, const int8_t *Wq, const float *w_step,
                   int64_t N, int64_t K, int64_t G);

/*
 * The inverse of nmt8_int4_pack, for tests and notebooks.
 *   Wq      (N, K) int8 row-major, output
 *   w_step  (N, NG) float32 row-major, output
 *   Wp      packed by nmt8_int4_pack for these N, K, G
 */
int nmt8_int4_unpack(int8_t *Wq, float *w_step, const uint8_t *Wp,
                     int64_t N, int64_t K, int64_t G);

/*
 * The weight stream of the decoding case (P <= 2 rows of X), a run-time
 * choice like nmt8_set_stream's for int8, because the best one differs
 * between CPUs.  No value changes a bit of any result.
 *   blocks    blocks of 16 outputs read side by side: 1, 2 or 4 (avx2:
 *             at most 2, and only at P = 1)
 *   prefetch  1: software prefetch of the weights (the next blocks while
 *             these are read; see nmt8_int4.c); 0: none, the hardware
 *             prefetchers alone
 * For P >= 3 the kernels always prefetch (without it they fall back to
 * the speed of int8 on this file's measurements) and choose the blocks.
 * Returns NMT8_EBADARG for a value out of range (nothing changes).
 * Process-wide: set it before calling kernels from several threads.
 */
#define NMT8_INT4_STREAM_DEFAULT_BLOCKS 4
#define NMT8_INT4_STREAM_DEFAULT_PREFETCH 1
int nmt8_int4_set_stream(int blocks, int prefetch);
void nmt8_int4_get_stream(int *blocks, int *prefetch);

/*
 * The product, as the formula at the top.
 *   Y       (P, N) float32 row-major, output; must not overlap the inputs
 *   Wp      packed by nmt8_int4_pack for these N, K, G (any alignment)
 *   Xq      (P, K) int8 row-major
 *   x_step  (P,) float32
 *   bias    (N,) float32, or NULL for none
 * Returns NMT8_OK; NMT8_EUNSUPPORTED (unknown kernel, or not on this
 * CPU); NMT8_EBADARG (a NULL buffer, a misaligned float buffer, P, N or K
 * negative or above NMT8_INT4_MAX_DIM, K odd, G not 32 or 64);
 * NMT8_ENONFINITE_BIAS (a NaN or inf in bias); NMT8_ENOMEM.  Nothing is
 * written unless NMT8_OK.
 */
int nmt8_int4_matmul(int kernel, float *Y, const uint8_t *Wp,
                     const int8_t *Xq, const float *x_step,
                     const float *bias, int64_t P, int64_t N, int64_t K,
                     int64_t G);

/*
 * The exact int32 sums alone, for tests and notebooks.
 *   acc     (P, N, NG) int32 row-major, output: acc[p,o,g] above
 *   Wp      packed by nmt8_int4_pack for these N, K, G
 *   Xq      (P, K) int8 row-major
 * Returns NMT8_OK, NMT8_EUNSUPPORTED, NMT8_EBADARG (acc NULL or not
 * aligned for int32, Wp or Xq NULL, bad sizes) or NMT8_ENOMEM.
 */
int nmt8_int4_accumulate(int kernel, int32_t *acc, const uint8_t *Wp,
                         const int8_t *Xq, int64_t P, int64_t N, int64_t K,
                         int64_t G);

#endif /* NMT8_INT4_H */
