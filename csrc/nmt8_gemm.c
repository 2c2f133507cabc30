/*
 * nmt8_gemm.c -- a blocked AVX-512 VNNI int8 kernel for many rows of X
 * (batched decoding: P = sentences x hypotheses, tens to hundreds of
 * rows), after Goto & van de Geijn 2008, "Anatomy of high-performance
 * matrix multiplication", which Quinn & Ballesteros 2018 cite.  Same sums
 * as nmt8_vnni.c, exact, so the results are bit-identical to it and to
 * the reference kernel.
 *
 * The naive vnni kernel takes 8 rows of X at a time and, for each such
 * chunk, streams the WHOLE packed weight matrix: for P rows the weights
 * are read P / 8 times, from L3 or from memory (the 40000-wide output
 * layer, 25 MB, does not fit any cache).  Here, as in Goto's loops:
 *
 *     for each group of output blocks (~GROUP_BYTES = 256 KB of weights):
 *         for each chunk of MR = 12 rows of X:
 *             for each sliver of NR = 2 blocks (32 outputs) in the group:
 *                 register tile: 12 x 2 accumulators over all of K
 *             float epilogue on the chunk's row of tiles, still in cache
 *
 * A group comes from memory once, while the previous one is computed
 * (prefetched into L2, a share per tile), and is read from L2 by every
 * chunk; the chunk of X (shifted to uint8 once per call) stays in L1
 * across the group's slivers; the output is written once, as floats, in
 * runs of the group's width per row (the other kernels write int32 sums
 * and convert them in a second and third pass over Y).  The accumulators
 * never leave the registers inside K, so there is no K blocking and no
 * partial sums in memory: the same int32 additions (wrapping, exact) as
 * the vnni kernel, and the same float operations per element in the
 * epilogue (nmt8_epilogue), hence the same bits.
 *
 * Layout and tile as nmt8_vnni.c: Wp[b, g, i, j] = Wq[16 b + i, 4 g + j],
 * one vpdpbusd per 64-byte line against 4 broadcast bytes of x.  The
 * tile is 12 rows x 2 blocks, 24 accumulators: on an Intel Xeon (KVM,
 * two vpdpbusd a cycle) the tile alone on weights in L2 ran 765-780
 * GOP/s (87% of the register-only peak) against 700 for 8 x 2, and the
 * whole product 595-639 against 566-618 (thread time, a busy machine).
 * Does not: block over K (a sliver for K = 3000 is 96 KB, from L2 at 8
 * bytes per cycle, far below what L2 gives), use several threads, run
 * without AVX-512 VNNI (nmt8_gemm_avx2.c is the AVX2 version), or help much for P <= 2
 * (the dispatch runs vnni there: NMT8_GEMM_MIN_ROWS, nmt8_dispatch.h).
 */
#include <stdlib.h>

#include "nmt8_internal.h"
#include "nmt8_vnni_tile.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

#ifndef GEMM_NR
#define GEMM_NR 2
#endif
#ifndef GEMM_GROUP_KB
#define GEMM_GROUP_KB 256
#endif

enum {
    BLK = NMT8_VNNI_ROWS,           /* output rows per vector */
    DEP = NMT8_VNNI_DEPTH,          /* k per int32 lane */
    LINE = NMT8_VNNI_LINE,          /* bytes per vector: BLK * DEP */
    MR = 12,                        /* rows of X per register tile */
    NR = GEMM_NR,                   /* output blocks per register tile */
    STACK_BYTES = 16384,
    GROUP_BYTES = GEMM_GROUP_KB * 1024,     /* weights kept in L2 */
};

/* BODY(n) for the rows n of a chunk, 1..MR, each a constant */
#define GEMM_ROWS_UPTO12(n, BODY)                                       \
    switch (n) {                                                        \
    case 1: BODY(1); break;                                             \
    case 2: BODY(2); break;                                             \
    case 3: BODY(3); break;                                             \
    case 4: BODY(4); break;                                             \
    case 5: BODY(5); break;                                             \
    case 6: BODY(6); break;                                             \
    case 7: BODY(7); break;                                             \
    case 8: BODY(8); break;                                             \
    case 9: BODY(9); break;                                             \
    case 10: BODY(10); break;                                           \
    case 11: BODY(11); break;                                           \
    default: BODY(12); break;                                           \
    }

/*
 * MR' (<= MR) rows of X against NB (<= NR) output blocks, all of K.
 * acc (PT, N) view, row stride N, at output 16 * b0; wp: packed block b0,
 * blocks `bstride` bytes apart; wsum: int32 from output 16 * b0; xu (PT,
 * 4 G) uint8, row stride 4 G; nlast: valid outputs (1..16) of block NB-1;
 * pf, pf_bytes: bytes to prefetch into L2 meanwhile, one line per block
 * and step of g.
 */
VNNI NMT8_INLINE void gemm_tile(int32_t *acc, int64_t N, const int8_t *wp,
                                int64_t bstride, const int32_t *wsum,
                                const uint8_t *xu, int64_t G, int nlast,
                                const int8_t *pf, int64_t pf_bytes, int NB,
                                int PT)
{
    __m512i c[NR][MR];
    for (int b = 0; b < NB; b++)
        for (int p = 0; p < PT; p++)
            c[b][p] = _mm512_setzero_si512();
    /*
     * Two loops over g, the first prefetching NB lines a step, the second
     * none.  With the prefetch behind a branch in one loop, gcc 12 copied
     * every accumulator to another register on every step (16 vmovdqa,
     * and stack traffic, beside 16 vpdpbusd): 460 against 570-610 GOP/s
     * on an Intel core that retires two vpdpbusd a cycle.
     */
    int64_t gpf = pf_bytes / (NB * LINE);
    gpf = gpf < G ? gpf : G;
    int64_t g = 0;
#define GEMM_STEP(g)                                                      \
    do {                                                                \
        __m512i wv[NR];                                                 \
        for (int b = 0; b < NB; b++)                                    \
            wv[b] = _mm512_loadu_si512((const void *)(wp + b * bstride  \
                                                     + (g) * LINE));    \
        NMT8_VNNI_STEP(c, wv, xu, G, (g), NB, PT);                      \
    } while (0)
    for (; g < gpf; g++) {
        for (int b = 0; b < NB; b++)
            NMT8_PREFETCH((const char *)(pf + (g * NB + b) * LINE),
                          _MM_HINT_T1);
        GEMM_STEP(g);
    }
    for (int64_t off = gpf * NB * LINE; off < pf_bytes; off += LINE)
        NMT8_PREFETCH((const char *)(pf + off), _MM_HINT_T1);
    for (; g < G; g++)
        GEMM_STEP(g);
#undef GEMM_STEP
    NMT8_VNNI_STORE(acc, N, c, wsum, NB, PT, nlast);
}

/*
 * One group of output blocks [b0, b1) against all P rows of X: for each
 * chunk of MR rows, the group's slivers of NR blocks in turn (the chunk
 * of X stays in L1, the group's weights in L2).  pf, pf_bytes: the next
 * group, prefetched into L2 a share per tile.  x_step (P,) or NULL: if
 * given, each chunk's row of tiles is converted to floats (with bias,
 * (N,) or NULL) right after it is stored, while still in cache.
 */
VNNI NMT8_INLINE void gemm_group(int32_t *acc, const nmt8_weights *w,
                                 const uint8_t *xu, int64_t P, int64_t b0,
                                 int64_t b1, const int8_t *pf,
                                 int64_t pf_bytes, const float *x_step,
                                 const float *bias)
{
    const int64_t N = w->N, G = NMT8_CEIL_DIV(w->K, DEP), K4 = G * DEP;
    const int64_t nblk = NMT8_CEIL_DIV(N, BLK), bstride = G * LINE;
    const int64_t nchunk = NMT8_CEIL_DIV(P, MR);
    const int64_t ntile = nchunk * NMT8_CEIL_DIV(b1 - b0, NR);
    /* each tile's share of the next group, in whole lines */
    const int64_t share = NMT8_CEIL_DIV(NMT8_CEIL_DIV(pf_bytes, ntile),
                                        LINE) * LINE;
    const int64_t width = (b1 == nblk ? N : b1 * BLK) - b0 * BLK;
    int64_t from = 0;
    for (int64_t c = 0; c < nchunk; c++) {
        const int64_t p0 = c * MR;
        const int PT = P - p0 < MR ? (int)(P - p0) : MR;
        const uint8_t *x = xu + p0 * K4;
        for (int64_t b = b0; b < b1; b += NR) {
            const int NB = b1 - b < NR ? (int)(b1 - b) : NR;
            const int nlast = b + NB == nblk ? (int)(N - (nblk - 1) * BLK)
                                             : BLK;
            const int64_t n = pf_bytes - from < share ? pf_bytes - from
                                                      : share;
            int32_t *a = acc + p0 * N + b * BLK;
            const int8_t *wp = w->Wp + b * bstride;
            const int32_t *ws = w->wsum + b * BLK;
#define GEMM_TILE(PT) gemm_tile(a, N, wp, bstride, ws, x, G, nlast, \
                                pf + from, n, NB, PT)
            if (NB == NR) {
                GEMM_ROWS_UPTO12(PT, GEMM_TILE)
            } else {
#undef GEMM_TILE
#define GEMM_TILE(PT) gemm_tile(a, N, wp, bstride, ws, x, G, nlast, \
                                pf + from, n, 1, PT)
                GEMM_ROWS_UPTO12(PT, GEMM_TILE)
            }
#undef GEMM_TILE
            from += n;
        }
        if (x_step)
            nmt8_epilogue(acc + p0 * N + b0 * BLK, N, x_step + p0,
                          w->w_step + b0 * BLK,
                          bias ? bias + b0 * BLK : NULL, PT, width);
    }
}

/*
 * acc (P, N) int32 row-major, or, with x_step (P,) given, Y (P, N) float32
 * in the same memory; w->Wp packed (nmt8_vnni.c), w->wsum (N,) int32; Xq
 * (P, K) int8 row-major; bias (N,) or NULL.
 */
VNNI static int gemm(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                     int64_t P, const float *x_step, const float *bias)
{
    if (nmt8_bad_args(w, P, NMT8_NEED_WSUM | NMT8_NEED_WP))
        return NMT8_EBADARG;
    const int64_t N = w->N, K = w->K, G = NMT8_CEIL_DIV(K, DEP);
    const int64_t K4 = G * DEP;
    if (N == 0 || P == 0)
        return NMT8_OK;
    /* x + 128 as uint8, (P, K4), all rows once */
    uint8_t xu_stack[STACK_BYTES] __attribute__((aligned(64)));
    const size_t nxu = (size_t)P * (size_t)K4;
    uint8_t *xu = nxu <= STACK_BYTES ? xu_stack : malloc(nxu);
    if (xu == NULL)
        return NMT8_ENOMEM;
    for (int64_t p = 0; p < P; p++)
        nmt8_shift_u8(xu + p * K4, Xq + p * K, K, K4);
    const int64_t nblk = NMT8_CEIL_DIV(N, BLK), bstride = G * LINE;
    const int8_t *wend = w->Wp + nblk * bstride;
    /* blocks per group: GROUP_BYTES of weights, a whole number of slivers */
    int64_t per = bstride ? GROUP_BYTES / (NR * bstride) * NR : nblk;
    per = per < NR ? NR : per;                       /* K = 0: one group */
    for (int64_t b0 = 0; b0 < nblk; b0 += per) {
        const int64_t b1 = nblk - b0 < per ? nblk : b0 + per;
        const int8_t *next = w->Wp + b1 * bstride;
        const int64_t left = wend - next, group = (b1 - b0) * bstride;
        gemm_group(acc, w, xu, P, b0, b1, next, left < group ? left : group,
                   x_step, bias);
    }
    if (xu != xu_stack)
        free(xu);
    return NMT8_OK;
}

int nmt8_accum_gemm(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P)
{
    /* acc (P, N) int32 row-major; Xq (P, K) int8 row-major */
    return gemm(acc, w, Xq, P, NULL, NULL);
}

int nmt8_gemm_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                    const float *x_step, const float *bias, int64_t P)
{
    /* Y (P, N) float32; Xq (P, K) int8; x_step (P,); bias (N,) or NULL */
    if (x_step == NULL)
        return NMT8_EBADARG;
    return gemm((int32_t *)(void *)Y, w, Xq, P, x_step, bias);
}

#else /* not x86-64: only the portable reference exists */

int nmt8_accum_gemm(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

int nmt8_gemm_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                    const float *x_step, const float *bias, int64_t P)
{
    (void)Y; (void)w; (void)Xq; (void)x_step; (void)bias; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
