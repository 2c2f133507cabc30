/*
 * nmt8_amx.c -- the int8 product of Section 3 of Quinn & Ballesteros 2018
 * on Intel AMX (Sapphire Rapids and later Xeons), for many rows of X
 * (batched decoding).  Same exact int32 sums as every other int8 kernel,
 * then the same float epilogue (nmt8_epilogue): the same bits.
 *
 * AMX holds eight tiles of up to 16 rows x 64 bytes.  tdpbusd c, a, b
 * multiplies a (16 x 64 unsigned bytes: 16 rows of X, 64 k) by b (16 rows
 * of 64 bytes: 16 groups of 4 k, each 16 outputs x 4 bytes) into c (16 x
 * 16 int32): 16384 multiply-adds in one instruction, 32 times vpdpbusd
 * zmm's.  The b tile is exactly 16 consecutive lines of the VNNI packed
 * layout (nmt8_vnni.c: Wp[b, g, i, j] = Wq[16 b + i, 4 g + j], one 64-byte
 * line per g), so AMX reads the weights the vnni and gemm kernels read,
 * without another copy.
 *
 *     for each group of output blocks (~GROUP_BYTES of weights, kept in
 *     L2 while every row of X meets them):
 *         for each pair of 16-row tiles of X (32 rows, in L1/L2):
 *             for each pair of blocks in the group (32 outputs):
 *                 c00 c01 c10 c11 = 0            (tmm0-3)
 *                 for each 64 k: a0 a1 (tmm4, 5), b0 b1 (tmm6, 7),
 *                                4 tdpbusd: the 2 x 2 register tile
 *                 store; subtract 128 * sum_k w (wsum) and, for a float
 *                 result, apply the epilogue, while the tile is in L1
 *
 * X reaches tdpbusd as x + 128 (unsigned), as for vpdpbusd, padded with
 * zeros to whole tiles: 64 k (the packed weights stop at 4 G bytes of k,
 * so the last k tile's weight lines are copied into a zeroed tile) and 32
 * rows.  Zeros add nothing, and wsum covers the real k only.
 *
 * Linux hands out the tile state only on request (nmt8_amx_usable asks,
 * once per process); the tile configuration is per thread and set by each
 * call, which releases the tiles when done.
 * Where it stands (a Sapphire Rapids-class Xeon, KVM, one core, thread
 * time; the register-only tdpbusd loop of nmt8_peak.c runs 6.1 TOP/s):
 * the 2 x 2 tile loop alone reaches 70-72% of that with X and the
 * weights in L1 and 4 k steps per tile, 76-80% with 16, and 56-59% with
 * them in L2: a tile load per tdpbusd (no blocking of eight tiles does
 * better: 2 x 2 has four accumulators and four loads a step), and tiles
 * are not renamed, so each load waits for the tdpbusd that last read its
 * tile.  The whole kernel, as a C call, runs 1.3-2.4 TOP/s on the paper's
 * shapes at P = 64-256 with the weights in cache, and 0.8-1.7 in nmt8
 * bench kernels (interleaved with other methods, 500x30000 from memory).
 * Tried and dropped, measured: the pairs of blocks outermost and the row
 * tiles inside (no gain in cache; 2.6x slower on 500x30000, whose rows
 * of output are then written 128 bytes to a page), software prefetch of
 * the next group into L2 and of the next weight tiles into L1 (no gain).
 * Does not: pack anything beyond X, block over K (the accumulators are
 * tiles, K is read once per tile of 32 x 32 outputs), or run where
 * nmt8_amx_usable() is 0.
 */
#include <stdlib.h>
#include <string.h>

#include "nmt8_amx.h"
#include "nmt8_internal.h"

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <immintrin.h>
#include <unistd.h>

enum { ARCH_REQ_XCOMP_PERM_ = 0x1023, XFEATURE_XTILEDATA_ = 18 };

int nmt8_amx_usable(void)
{
    static int usable = -1;             /* a benign race: same answer */
    if (usable < 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        int hw = __get_cpuid_max(0, NULL) >= 7
            && __get_cpuid_count(7, 0, &a, &b, &c, &d)
            && (d >> 24 & 1u) && (d >> 25 & 1u);   /* AMX-TILE, AMX-INT8 */
        usable = hw && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM_,
                               XFEATURE_XTILEDATA_) == 0;
    }
    return usable;
}

enum {
    BLK = NMT8_VNNI_ROWS,       /* outputs per block, columns of a c tile */
    LINE = NMT8_VNNI_LINE,      /* bytes per packed line (16 outputs x 4 k) */
    TR = 16,                    /* rows per tile */
    TK = 64,                    /* k per tile (bytes per row of a) */
    TG = TK / NMT8_VNNI_DEPTH,  /* packed lines per b tile: 16 */
    GROUP_BYTES = 256 * 1024,   /* weights kept in L2 (as nmt8_gemm.c) */
};

/* ldtilecfg's 64 bytes, palette 1: every tile 16 rows x 64 bytes */
struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
    uint8_t reserved2[16];
};

#define LOAD(t, p, stride)                                              \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t                    \
                     :: "r"(p), "r"((int64_t)(stride)) : "memory")
#define STORE(t, p)                                                     \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)"                \
                     :: "r"(p), "r"((int64_t)(BLK * 4)) : "memory")
#define ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::: "memory")
#define TDP(c, a, b)                                                    \
    __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c       \
                     ::: "memory")

/*
 * The 2 x 2 register tile over all of K: c00 c01 c10 c11 (tmm0-3) +=
 * a0 a1 (tmm4, 5: rows of x0, x1) by b0 b1 (tmm6, 7: lines of w0, w1),
 * the last k tile's weights read from t0, t1.  Tiles are not renamed: a
 * load into a tile waits for the last tdpbusd that reads it.  (Pairs of
 * k steps in opposite orders ran the loop alone at 72% of the
 * register-only loop against 58-68%, on data in L1, but made no
 * difference within the whole kernel: dropped.)  rows2 == 0: one row
 * tile (a1 unused).
 */
#define A0(t) (x0 + (t) * TK)
#define A1(t) (x1 + (t) * TK)
#define B0(t) ((t) == T - 1 ? t0 : w0 + (t) * TG * LINE)
#define B1(t) ((t) == T - 1 ? t1 : w1 + (t) * TG * LINE)
static inline void tile_2x2(const uint8_t *x0, const uint8_t *x1,
                            int64_t K64, const int8_t *w0, const int8_t *w1,
                            const int8_t *t0, const int8_t *t1, int64_t T,
                            int rows2)
{
    ZERO(0);
    ZERO(1);
    ZERO(2);
    ZERO(3);
    for (int64_t t = 0; t < T; t++) {
        LOAD(4, A0(t), K64);
        LOAD(6, B0(t), LINE);
        TDP(0, 4, 6);
        LOAD(7, B1(t), LINE);
        TDP(1, 4, 7);
        if (rows2) {
            LOAD(5, A1(t), K64);
            TDP(2, 5, 6);
            TDP(3, 5, 7);
        }
    }
}
#undef A0
#undef A1
#undef B0
#undef B1

/*
 * The way out of a 2 x 2 tile, for the rows p < rows of its pair of row
 * tiles and the outputs o < valid (1..32) of its pair of blocks, from
 * v = c[2 (p / 16) + o / 16][16 (p % 16) + o % 16] - wsum[o]:
 *   x_step NULL: out[p, o] = v, int32;
 *   else out[p, o] = the float epilogue of v (nmt8_epilogue16, so the
 *   same bits as nmt8_epilogue), written once, while the tile is in L1:
 *   no int32 pass over Y.
 * out (rows, N) view, row stride N; x_step (rows,); w_step, bias, wsum
 * at the pair's first output.
 */
__attribute__((target("avx512f"))) static void emit(
    int32_t *out, int64_t N, const int32_t c[4][TR * BLK],
    const int32_t *wsum, int rows, int64_t valid, const float *x_step,
    const float *w_step, const float *bias)
{
    for (int h = 0; h * BLK < valid; h++) {
        const int64_t n = valid - h * BLK < BLK ? valid - h * BLK : BLK;
        const __mmask16 m = (__mmask16)((1u << n) - 1u);
        const __m512i corr = _mm512_maskz_loadu_epi32(m, wsum + h * BLK);
        const __m512 sw = x_step ? _mm512_maskz_loadu_ps(m, w_step + h * BLK)
                                 : _mm512_setzero_ps();
        const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + h * BLK)
                              : _mm512_setzero_ps();
        for (int p = 0; p < rows; p++) {
            const __m512i v = _mm512_sub_epi32(_mm512_load_si512(
                (const void *)(c[2 * (p / TR) + h] + (p % TR) * BLK)), corr);
            int32_t *o = out + p * N + h * BLK;
            if (x_step == NULL)
                _mm512_mask_storeu_epi32(o, m, v);
            else
                _mm512_mask_storeu_ps(
                    (void *)o, m,
                    nmt8_epilogue16(v, _mm512_set1_ps(x_step[p]), sw, b,
                                    bias != NULL, m));
        }
    }
}

/*
 * acc (P, N) int32, or Y (P, N) float32 in the same memory with x_step
 * (P,) given; Xq (P, K) int8; bias (N,) or NULL.  Arguments checked.
 */
static int amx(int32_t *out, const nmt8_weights *w, const int8_t *Xq,
               int64_t P, const float *x_step, const float *bias)
{
    const int64_t N = w->N, K = w->K, G = NMT8_CEIL_DIV(K, 4);
    const int64_t K4 = 4 * G, T = NMT8_CEIL_DIV(G, TG), K64 = T * TK;
    const int64_t nblk = NMT8_CEIL_DIV(N, BLK), bstride = G * LINE;
    const int64_t P32 = NMT8_CEIL_DIV(P, 2 * TR) * 2 * TR;
    if (N == 0 || P == 0)
        return NMT8_OK;
    if (K == 0) {                       /* empty sums: 0, then the epilogue */
        memset(out, 0, (size_t)(P * N) * sizeof *out);
        if (x_step)
            nmt8_epilogue(out, N, x_step, w->w_step, bias, P, N);
        return NMT8_OK;
    }
    /* x + 128, (P32, K64) uint8; beyond row P and column K4 the bytes
     * meet zero weights or are dropped, but are zeroed all the same */
    uint8_t *xu = aligned_alloc(64, (size_t)(P32 * K64));
    if (xu == NULL)
        return NMT8_ENOMEM;
    for (int64_t p = 0; p < P; p++) {
        nmt8_shift_u8(xu + p * K64, Xq + p * K, K, K4);
        memset(xu + p * K64 + K4, 0, (size_t)(K64 - K4));
    }
    memset(xu + P * K64, 0, (size_t)((P32 - P) * K64));
    int32_t c[4][TR * BLK] __attribute__((aligned(64)));
    const int64_t gtail = G - (T - 1) * TG;         /* lines, 1..16 */
    /* blocks per group: ~GROUP_BYTES of weights, kept in L2 while every
     * pair of row tiles meets them; an even number (pairs of blocks) */
    int64_t per = GROUP_BYTES / bstride / 2 * 2;
    per = per < 2 ? 2 : per;
    /* each block's last k tile, zero beyond line G, for one group */
    const int64_t ntail = per < nblk + 1 ? per : nblk + 1;
    int8_t *tails = aligned_alloc(64, (size_t)(ntail * TG * LINE));
    if (tails == NULL) {
        free(xu);
        return NMT8_ENOMEM;
    }
    struct amx_config cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = TK;
        cfg.rows[t] = TR;
    }
    __asm__ volatile("ldtilecfg %0" :: "m"(cfg));
    for (int64_t g0 = 0; g0 < nblk; g0 += per) {
        const int64_t g1 = nblk - g0 < per ? nblk : g0 + per;
        memset(tails, 0, (size_t)(ntail * TG * LINE));
        for (int64_t b = g0; b < g1; b++)
            memcpy(tails + (b - g0) * TG * LINE,
                   w->Wp + b * bstride + (T - 1) * TG * LINE,
                   (size_t)(gtail * LINE));
        for (int64_t p0 = 0; p0 < P; p0 += 2 * TR) {
            const int rows2 = p0 + TR < P;      /* a second row tile */
            const uint8_t *x0 = xu + p0 * K64, *x1 = x0 + TR * K64;
            const int rows = P - p0 < 2 * TR ? (int)(P - p0) : 2 * TR;
            for (int64_t b = g0; b < g1; b += 2) {
                const int two = b + 1 < g1;     /* a second block */
                const int8_t *w0 = w->Wp + b * bstride;
                const int8_t *w1 = two ? w0 + bstride : w0;
                /* a missing second block reads the spare zero tail */
                const int8_t *t0 = tails + (b - g0) * TG * LINE;
                const int8_t *t1 = t0 + TG * LINE;
                const int64_t valid = (two ? 2 : 1) * BLK < N - b * BLK
                    ? (two ? 2 : 1) * BLK : N - b * BLK;
                tile_2x2(x0, x1, K64, w0, w1, t0, t1, T, rows2);
                STORE(0, c[0]);
                STORE(1, c[1]);
                STORE(2, c[2]);
                STORE(3, c[3]);
                emit(out + p0 * N + b * BLK, N, c,
                     w->wsum + b * BLK, rows, valid,
                     x_step ? x_step + p0 : NULL, w->w_step + b * BLK,
                     bias ? bias + b * BLK : NULL);
            }
        }
    }
    free(tails);
    __asm__ volatile("tilerelease" ::: "memory");
    free(xu);
    return NMT8_OK;
}

int nmt8_accum_amx(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                   int64_t P)
{
    /* acc (P, N) int32 row-major; Xq (P, K) int8 row-major */
    if (!nmt8_amx_usable())
        return NMT8_EUNSUPPORTED;
    if (nmt8_bad_args(w, P, NMT8_NEED_WSUM | NMT8_NEED_WP))
        return NMT8_EBADARG;
    return amx(acc, w, Xq, P, NULL, NULL);
}

int nmt8_amx_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                   const float *x_step, const float *bias, int64_t P)
{
    /* Y (P, N) float32; Xq (P, K) int8; x_step (P,); bias (N,) or NULL */
    if (!nmt8_amx_usable())
        return NMT8_EUNSUPPORTED;
    if (x_step == NULL || nmt8_bad_args(w, P, NMT8_NEED_WSUM | NMT8_NEED_WP))
        return NMT8_EBADARG;
    return amx((int32_t *)(void *)Y, w, Xq, P, x_step, bias);
}

#else /* no AMX outside x86-64 Linux */

int nmt8_amx_usable(void)
{
    return 0;
}

int nmt8_accum_amx(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                   int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

int nmt8_amx_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                   const float *x_step, const float *bias, int64_t P)
{
    (void)Y; (void)w; (void)Xq; (void)x_step; (void)bias; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
