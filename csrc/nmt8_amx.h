/*
 * nmt8_amx.h -- the int8 product on Intel AMX tiles (nmt8_amx.c): for
 * many rows of X on Sapphire Rapids and later Xeons, the same exact sums
 * and the same bits as the other int8 kernels of nmt8_kernels.h, reading
 * the VNNI packed weights (w->Wp, w->wsum).
 *
 * Read by the cffi build like the other public headers: plain declarations
 * only.
 */
#ifndef NMT8_AMX_H
#define NMT8_AMX_H

#include <stdint.h>

#include "nmt8_kernels.h"

/*
 * 1 when this CPU has AMX-TILE and AMX-INT8 and the OS granted this
 * process the tile state (Linux: arch_prctl, asked once), else 0.
 */
int nmt8_amx_usable(void);

/*
 * acc (P, N) int32 row-major, output; Xq (P, K) int8 row-major.  Returns
 * NMT8_OK, NMT8_EUNSUPPORTED where nmt8_amx_usable() is 0, NMT8_EBADARG,
 * or NMT8_ENOMEM (nothing is written then).
 */
int nmt8_accum_amx(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                   int64_t P);

/*
 * Y (P, N) float32 = the sums times x_step[p] * w_step[o], plus bias[o]
 * (nmt8_matmul_q's epilogue, the same bits); x_step (P,); bias (N,) or
 * NULL, not overlapping Y.
 */
int nmt8_amx_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                   const float *x_step, const float *bias, int64_t P);

#endif /* NMT8_AMX_H */
