/*
 * nmt8_gru.h -- the non-linear part of a GRU step, eq. (1) of Quinn &
 * Ballesteros 2018 (Nematus' formulation), in one pass, given both
 * projections xp = [x W + b | x Wx + bx] and hp = [h U | h Ux] (P, 3H):
 *
 *   [r | u] = sigmoid(xp[:, :2H] + hp[:, :2H]),  sigmoid(a) = (1 + tanh(a * 0.5)) * 0.5
 *   h~      = tanh(xp[:, 2H:] + r * hp[:, 2H:])
 *   h       = u * h_prev + (1 - u) * h~
 *
 * each operation rounded in this order (numpy's order in nmt8.model.gru), with
 * nmt8's float32 tanh (nmt8_mathf.h): the same bits on every instruction
 * set, each row alone.  h (P, H) contiguous; xp, hp and h_prev row
 * strides ld_x, ld_h >= 3H and ld_p >= H; h may not overlap the inputs.
 * isa as in nmt8_attention.h.  Returns NMT8_OK, NMT8_EUNSUPPORTED or
 * NMT8_EBADARG.
 */
#ifndef NMT8_GRU_H
#define NMT8_GRU_H

#include <stdint.h>

int nmt8_gru_gates(float *h, const float *xp, int64_t ld_x, const float *hp,
                   int64_t ld_h, const float *h_prev, int64_t ld_p, int64_t P,
                   int64_t H, int isa);

#endif
