/*
 * nmt8_gemm_avx2.c -- the blocked int8 kernel of nmt8_gemm.c for CPUs
 * with AVX2 but without AVX-512 VNNI (batched decoding: P = sentences x
 * hypotheses, tens to hundreds of rows), after Goto & van de Geijn 2008,
 * "Anatomy of high-performance matrix multiplication", which Quinn &
 * Ballesteros 2018 cite.  Exact, so bit-identical to the reference kernel
 * and to every other exact one.
 *
 * Exact without VNNI: both operands are sign-extended to int16
 * (vpmovsxbw) and multiplied by vpmaddwd, which adds each pair of int16
 * products into an int32 lane.  |x w| <= 127 * 127 and a pair <= 32258:
 * nothing saturates (vpmaddubsw, the other AVX2 byte product, does: the
 * maddubs kernel of nmt8_avx2.c).  Signed times signed, so X is not
 * shifted and w->wsum is not needed.
 *
 * Weights: the VNNI packed copy (w->Wp, nmt8_vnni.c), Wp[b, g, i, j] =
 * Wq[16 b + i, 4 g + j], so a matrix keeps one packed copy whichever
 * blocked kernel reads it.  16 bytes of a 64-byte line (4 outputs x 4 k),
 * widened, times 4 int16 of x broadcast to each 64-bit lane, give every
 * output two int32 lanes (k 0-1 and k 2-3 of each step of 4), added
 * once at the end of a tile (vphaddd).  X is widened to int16 once per
 * call, zero padded to K4 = 4 ceil(K / 4).
 *
 * The naive avx2 kernel takes 4 rows of X at a time and, for each such
 * chunk, streams the whole weight matrix.  Here, as in Goto's loops (X
 * in the role of his B panel, the weights in that of his A block):
 *
 *     for each group of output slivers (~GROUP_BYTES of weights per
 *     block of K):
 *         for each block of KC k:
 *             for each chunk of <= MR = 4 rows of X (MR x KC int16, L1):
 *                 for each sliver of NR = 8 outputs in the group (L2):
 *                     register tile: 4 x 2 accumulators over the K block
 *                 after the last K block: the float epilogue on the
 *                 chunk's row of tiles, still in cache
 *
 * A group's block of weights comes from memory once and is read from L2
 * by every chunk; the chunk of X stays in L1 across the group's slivers
 * (the K blocking keeps it there: KC = 2048 k of 4 rows in int16 are
 * 16 KB, half of a 32 KB L1, so the paper's K <= 2000 is one block).
 * Accumulators leave the registers at the end of a K block: the first
 * block stores them, the next ones add to what is stored, in int32
 * (wrapping, exact, the order of the additions does not matter), and the
 * float epilogue (nmt8_epilogue) runs once, after the last: the same bits
 * as every other kernel.
 *
 * Register budget (16 ymm): 8 accumulators, 2 widened weight vectors, 1
 * broadcast of x.  Measured on Zen 4 (gcc 12, raw
 * int32 sums, paper shapes, P = 16-256): MR = 4 ran ~1.4x faster than
 * MR = 6 (12 accumulators) or 3 x 16 outputs, and a little faster than
 * 3 x 8 or 2 x 16; KC = 512 was slower (to 0.7x at P = 16), and at K =
 * 8000-16000 KC = 2048 measured within a few per cent of no K blocking
 * at all (this core's L2 feeds one tile fast enough either way).
 *
 * Does not: prefetch in software (each sliver reads its lines in order,
 * which the hardware prefetchers follow; nothing is ever read past the
 * packed array or X), use several threads, or help for small P (the naive
 * avx2 kernel reads Wq as it is: the dispatch runs that below
 * NMT8_GEMM_AVX2_MIN_ROWS rows, nmt8_dispatch.h).
 */
#include <stdlib.h>

#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2")))

#ifndef GEMM2_MR
#define GEMM2_MR 4
#endif
#ifndef GEMM2_NV
#define GEMM2_NV 2
#endif
#ifndef GEMM2_KC
#define GEMM2_KC 2048
#endif
#ifndef GEMM2_GROUP_KB
#define GEMM2_GROUP_KB 256
#endif

enum {
    BLK = NMT8_VNNI_ROWS,           /* outputs per packed block */
    DEP = NMT8_VNNI_DEPTH,          /* k per step */
    LINE = NMT8_VNNI_LINE,          /* bytes per step of a block */
    QUAD = 4,                       /* outputs per ymm of weights */
    MR = GEMM2_MR,                  /* rows of X per register tile */
    NV = GEMM2_NV,                  /* weight vectors per tile (even) */
    NR = NV * QUAD,                 /* outputs per tile */
    GC = GEMM2_KC / DEP,            /* steps of 4 k per K block, at most */
    STACK_BYTES = 16384,
    GROUP_BYTES = GEMM2_GROUP_KB * 1024,    /* weights kept in L2 */
};

_Static_assert(NV % 2 == 0 && BLK % NR == 0, "a sliver: pairs of quads "
               "inside one packed block");
_Static_assert(MR >= 1 && MR <= 8 && GC >= 1, "tile sizes");

/*
 * The nout (<= 8) outputs of two accumulators of one row: v0 holds
 * outputs 0-3, v1 outputs 4-7, each as two lanes (k 0-1, k 2-3).  first:
 * store them, else add them (int32, wrapping) to what acc holds.
 * acc (nout,) int32.
 */
AVX2 NMT8_INLINE void store8(int32_t *acc, __m256i v0, __m256i v1,
                             int nout, int first)
{
    /* [o0 o1 o4 o5 | o2 o3 o6 o7], then in order */
    __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(v0, v1),
                                         _MM_SHUFFLE(3, 1, 2, 0));
    if (nout == 2 * QUAD) {
        if (!first)
            s = _mm256_add_epi32(s, _mm256_loadu_si256((const __m256i *)acc));
        _mm256_storeu_si256((__m256i *)acc, s);
        return;
    }
    uint32_t t[2 * QUAD];                      /* only nout go to acc */
    _mm256_storeu_si256((__m256i *)t, s);
    for (int j = 0; j < nout; j++) {
        uint32_t a;
        memcpy(&a, acc + j, sizeof a);
        a = first ? t[j] : a + t[j];
        memcpy(acc + j, &a, sizeof a);
    }
}

/*
 * PT (<= MR) rows of X against one sliver of NR outputs, steps [g0, g1)
 * of 4 k.  acc (PT, N) view, row stride N, at the sliver's first output;
 * wp: the sliver's first 16 bytes in the line of step 0 of its block
 * (lines LINE bytes apart); xw (PT, K4) int16, row stride K4; nout: valid
 * outputs (1..NR); first: the first K block (store, else add).
 */
AVX2 NMT8_INLINE void gemm2_tile(int32_t *acc, int64_t N, const int8_t *wp,
                                 const int16_t *xw, int64_t K4, int64_t g0,
                                 int64_t g1, int nout, int first, int PT)
{
    __m256i c[NV][MR];
    for (int v = 0; v < NV; v++)
        for (int p = 0; p < PT; p++)
            c[v][p] = _mm256_setzero_si256();
    for (int64_t g = g0; g < g1; g++) {
        __m256i wv[NV];
        for (int v = 0; v < NV; v++)              /* 4 outputs x 4 k */
            wv[v] = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                (const __m128i *)(wp + g * LINE + v * QUAD * DEP)));
        for (int p = 0; p < PT; p++) {
            int64_t x4;                           /* 4 int16 of x */
            memcpy(&x4, xw + p * K4 + g * DEP, sizeof x4);
            __m256i xb = _mm256_set1_epi64x(x4);
            for (int v = 0; v < NV; v++)
                c[v][p] = _mm256_add_epi32(c[v][p],
                                           _mm256_madd_epi16(wv[v], xb));
        }
    }
    for (int v = 0; v < NV; v += 2) {
        const int left = nout - v * QUAD;
        if (left <= 0)
            break;
        const int n = left < 2 * QUAD ? left : 2 * QUAD;
        for (int p = 0; p < PT; p++)
            store8(acc + p * N + v * QUAD, c[v][p], c[v + 1][p], n, first);
    }
}

/*
 * One group of slivers [s0, s1) against all P rows of X, K block by K
 * block.  xw (P, K4) int16; x_step (P,) or NULL: if given, each chunk's
 * row of tiles is converted to floats (with bias, (N,) or NULL) right
 * after its last K block.
 */
AVX2 NMT8_INLINE void gemm2_group(int32_t *acc, const nmt8_weights *w,
                                  const int16_t *xw, int64_t P, int64_t s0,
                                  int64_t s1, const float *x_step,
                                  const float *bias)
{
    const int64_t N = w->N, G = NMT8_CEIL_DIV(w->K, DEP), K4 = G * DEP;
    const int64_t bstride = G * LINE;
    /* K blocks of equal size (K = 0: one empty block, which stores 0) */
    const int64_t nkb = G > GC ? NMT8_CEIL_DIV(G, GC) : 1;
    const int64_t gc = nkb > 1 ? NMT8_CEIL_DIV(G, nkb) : G;
    const int64_t o0 = s0 * NR, width = (s1 * NR < N ? s1 * NR : N) - o0;
    /* chunks of MR rows or one fewer: P = 5 as 3 + 2, not 4 + 1, whose
     * tile of one row would widen each weight vector for a single use */
    const int64_t nchunk = NMT8_CEIL_DIV(P, MR);
    for (int64_t kb = 0; kb < nkb; kb++) {
        const int64_t g0 = kb * gc, g1 = g0 + gc < G ? g0 + gc : G;
        const int first = kb == 0, last = kb == nkb - 1;
        for (int64_t c = 0; c < nchunk; c++) {
            const int64_t p0 = c * P / nchunk;
            const int PT = (int)((c + 1) * P / nchunk - p0);
            const int16_t *x = xw + p0 * K4;
            for (int64_t s = s0; s < s1; s++) {
                const int64_t o = s * NR;
                const int nout = N - o < NR ? (int)(N - o) : NR;
                int32_t *a = acc + p0 * N + o;
                /* the sliver's quads, inside block o / 16 */
                const int8_t *wp = w->Wp + (o / BLK) * bstride
                                   + (o % BLK) * DEP;
                /* cases above MR never run: clamped, not out of bounds */
#define GEMM2_TILE(PT) gemm2_tile(a, N, wp, x, K4, g0, g1, nout, first, \
                                  (PT) < MR ? (PT) : MR)
                NMT8_ROWS_UPTO8(PT, GEMM2_TILE)
#undef GEMM2_TILE
            }
            if (last && x_step)
                nmt8_epilogue(acc + p0 * N + o0, N, x_step + p0,
                              w->w_step + o0, bias ? bias + o0 : NULL, PT,
                              width);
        }
    }
}

/* xw (K4,) int16 = Xq (K,) widened, then zeros: the padded k add 0 */
static void widen_row(int16_t *xw, const int8_t *Xq, int64_t K, int64_t K4)
{
    for (int64_t k = 0; k < K; k++)
        xw[k] = Xq[k];
    for (int64_t k = K; k < K4; k++)
        xw[k] = 0;
}

/*
 * acc (P, N) int32 row-major, or, with x_step (P,) given, Y (P, N) float32
 * in the same memory; w->Wp packed (nmt8_vnni.c); Xq (P, K) int8
 * row-major; bias (N,) or NULL.
 */
AVX2 static int gemm2(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                      int64_t P, const float *x_step, const float *bias)
{
    if (nmt8_bad_args(w, P, NMT8_NEED_WP))
        return NMT8_EBADARG;
    const int64_t N = w->N, K = w->K, G = NMT8_CEIL_DIV(K, DEP);
    const int64_t K4 = G * DEP;
    if (N == 0 || P == 0)
        return NMT8_OK;
    /* x as int16, (P, K4), all rows once */
    int16_t xw_stack[STACK_BYTES / sizeof(int16_t)]
        __attribute__((aligned(32)));
    const size_t nxw = (size_t)P * (size_t)K4;
    int16_t *xw = nxw * sizeof(int16_t) <= STACK_BYTES
        ? xw_stack : malloc(nxw * sizeof(int16_t));
    if (xw == NULL)
        return NMT8_ENOMEM;
    for (int64_t p = 0; p < P; p++)
        widen_row(xw + p * K4, Xq + p * K, K, K4);
    /* slivers per group: GROUP_BYTES of one K block's weights */
    const int64_t nsl = NMT8_CEIL_DIV(N, NR);
    const int64_t gc = G > GC ? NMT8_CEIL_DIV(G, NMT8_CEIL_DIV(G, GC)) : G;
    const int64_t sliver = gc * NR * DEP;            /* bytes per K block */
    int64_t per = sliver ? GROUP_BYTES / sliver : nsl;
    per = per < 1 ? 1 : per;                         /* K = 0: one group */
    for (int64_t s0 = 0; s0 < nsl; s0 += per)
        gemm2_group(acc, w, xw, P, s0, nsl - s0 < per ? nsl : s0 + per,
                    x_step, bias);
    if (xw != xw_stack)
        free(xw);
    return NMT8_OK;
}

int nmt8_accum_gemm_avx2(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P)
{
    /* acc (P, N) int32 row-major; Xq (P, K) int8 row-major */
    return gemm2(acc, w, Xq, P, NULL, NULL);
}

int nmt8_gemm_avx2_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                         const float *x_step, const float *bias, int64_t P)
{
    /* Y (P, N) float32; Xq (P, K) int8; x_step (P,); bias (N,) or NULL */
    if (x_step == NULL)
        return NMT8_EBADARG;
    return gemm2((int32_t *)(void *)Y, w, Xq, P, x_step, bias);
}

#else /* not x86-64: only the portable reference exists */

int nmt8_accum_gemm_avx2(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

int nmt8_gemm_avx2_fused(float *Y, const nmt8_weights *w, const int8_t *Xq,
                         const float *x_step, const float *bias, int64_t P)
{
    (void)Y; (void)w; (void)Xq; (void)x_step; (void)bias; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
