/*
 * nmt8_attention.h -- eq. (6) of Quinn & Ballesteros 2018 in one pass:
 * the attention scores of P decoder states over S source positions,
 *
 *   alpha'[p, s] = tanh(pctx[s] + sp[p]) . u + c_tt,
 *
 * without writing the (P, S, C) tanh array.  Each row tanh(pctx[s] +
 * sp[p]) (C floats) lives in a scratch buffer in L1, where it is
 * multiplied by u at once: in int8 (quantized with its own step, exactly
 * as nmt8_matmul_f32 quantizes a row of X, and summed exactly in int32)
 * or in float32 (16 partial sums in a fixed order).
 *
 * tanh is nmt8's own float32 tanh (nmt8_tanh32, max error about 1.4 ulp,
 * like numpy's): the same operations (FMAs included) in the same order
 * on every instruction set, so the scalar, AVX2+FMA and AVX-512 paths
 * give the same bits.  Every score depends on its own p and s
 * only: a sentence's scores cannot see its neighbours in a batch.
 *
 * isa: NMT8_ISA_AUTO (the process's choice, nmt8_dispatch.h: at load
 * the widest this CPU runs) or one instruction set of nmt8_dispatch.h
 * (tests compare them; sse4 runs the portable path, vnni the avx512
 * one).  Returns NMT8_OK, NMT8_EUNSUPPORTED (isa unknown or not runnable
 * here), NMT8_EBADARG,
 * NMT8_ENOMEM, or NMT8_ENONFINITE when pctx[s] + sp[p] is NaN for some
 * entry (an inf gives tanh = +-1, as numpy's); nothing useful is written
 * then.  Single-threaded and reentrant.
 */
#ifndef NMT8_ATTENTION_H
#define NMT8_ATTENTION_H

#include <stdint.h>

#include "nmt8_dispatch.h"   /* NMT8_ISA_* */

/* y (n,) = tanh32(x (n,)); y may be x */
int nmt8_tanh32(float *y, const float *x, int64_t n, int isa);

/*
 * scores (P, S) float32 = tanh(pctx[s] + sp[p]) . u + bias, eq. (6).
 * pctx (S, C) float32; sp (P, C) float32, row stride ld_sp >= C; exactly
 * one of u8 (C,) int8 in [-127, 127] with float step u_step (each row of
 * tanh quantized with its own step as nmt8_matmul_f32 does, summed in
 * int32: scores = (float)acc * (x_step * u_step) + bias, nmt8_epilogue's
 * order) and uf (C,) float32 (16 partial sums, a fixed tree) non-NULL.
 */
int nmt8_att_scores(float *scores, const float *pctx, const float *sp,
                    int64_t ld_sp, const int8_t *u8, const float *uf,
                    float u_step, float bias, int64_t P, int64_t S, int64_t C,
                    int isa);

/*
 * The whole of eq. (5)-(6) for the rows of several sentences at once:
 * row p belongs to sentence g = sentence[p], whose S_of[g] source
 * positions have pctx[g] and h[g], both (S_of[g], C) float32.  For each
 * row: its scores as nmt8_att_scores, alpha = their softmax (exp of
 * nmt8_mathf.h, summed in double in order, then divided), written to
 * alpha (P, ld_a) and zero past S_of[g]; ctx (P, C) = sum_s alpha[s]
 * h[g][s] in order of s, one FMA per step.  Every row alone: its bits do
 * not depend on the other rows, nor on G or ld_a.
 */
int nmt8_att_context(float *ctx, float *alpha, int64_t ld_a,
                     const float *const *pctx, const float *const *h,
                     const int64_t *S_of, const int64_t *sentence,
                     int64_t G, const float *sp, int64_t ld_sp,
                     const int8_t *u8, const float *uf, float u_step,
                     float bias, int64_t P, int64_t C, int isa);

#endif
