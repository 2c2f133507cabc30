/*
 * nmt8_vnni.c -- the kernel of Section 3 of Quinn & Ballesteros 2018 with
 * AVX-512 VNNI, for CPUs newer than the paper's.
 *
 * vpdpbusd adds, in each of 16 int32 lanes, the products of 4 unsigned
 * bytes with 4 signed bytes: exact, no intermediate saturation.  One
 * operand must be unsigned, so X is shifted by +128 into [1, 255] and
 *
 *     sum_k (x_k + 128) * w_k  -  128 * sum_k w_k  =  sum_k x_k * w_k,
 *
 * with 128 * sum_k w_k precomputed per output row when the weights are
 * quantized (w->wsum).  The int32 lanes wrap, but the true result fits,
 * so the wrapped difference is exact.
 *
 * The weights are packed (w->Wp) so that one 64-byte load holds 4
 * consecutive k of 16 consecutive output rows, which is exactly what one
 * vpdpbusd wants against a broadcast 4-byte group of x:
 *
 *     Wp[b, g, i, j] = Wq[16 b + i, 4 g + j]     (zero padded)
 *
 * Each 64-byte weight line is loaded once per call and used for up to 8
 * rows of X, with several output blocks in flight to hide the latency.
 * The tile sizes (16, 4) are NMT8_VNNI_ROWS and NMT8_VNNI_DEPTH of
 * nmt8_kernels.h, which the Python packing reads too.
 */
#include <stdlib.h>

#include "nmt8_internal.h"
#include "nmt8_vnni_tile.h"

/*
 * The run-time stream parameters of the decoding case (PT <= 2,
 * nmt8_kernels.h): output blocks in flight and the L2 prefetch distance.
 * Read once per call.
 */
static int stream_blocks = NMT8_STREAM_DEFAULT_STREAMS;
static int64_t stream_prefetch = NMT8_STREAM_DEFAULT_PREFETCH;

int nmt8_set_stream(int streams, int64_t prefetch_bytes)
{
    if ((streams != 1 && streams != 2 && streams != 4 && streams != 8)
        || prefetch_bytes < 0 || prefetch_bytes > NMT8_STREAM_MAX_PREFETCH
        || prefetch_bytes % 64 != 0)
        return NMT8_EBADARG;
    stream_blocks = streams;
    stream_prefetch = prefetch_bytes;
    return NMT8_OK;
}

void nmt8_get_stream(int *streams, int64_t *prefetch_bytes)
{
    if (streams != NULL)
        *streams = stream_blocks;
    if (prefetch_bytes != NULL)
        *prefetch_bytes = stream_prefetch;
}

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

enum {
    BLK = NMT8_VNNI_ROWS,           /* output rows per vector */
    DEP = NMT8_VNNI_DEPTH,          /* k per int32 lane */
    LINE = NMT8_VNNI_LINE,          /* bytes per vector: BLK * DEP */
    VNNI_PT = 8,                    /* rows of X per weight load */
    VNNI_NB = 8,                    /* most output blocks in flight */
    PREFETCH_L1 = 256,              /* P <= 2: from L2 to L1, this far */
    STACK_BYTES = 32768,
};

/*
 * NB output blocks (16 rows each) against PT rows of X.
 * acc (PT, N) view, row stride N, starting at output row 16 * b0;
 * wp: packed block b0, blocks `bstride` bytes apart; wend: one past the
 * end of the whole packed array; wsum: int32 from row 16 * b0;
 * xu (PT, 4 G) uint8, row stride 4 G; G = ceil(K / 4); nlast: valid rows
 * (1..16) of the last block.
 *
 * Prefetch.  For PT <= 2 the loop is so short that any bookkeeping shows:
 * each block's own stream is fetched pf_l2 bytes ahead into L2 (the
 * run-time prefetch_bytes of nmt8_set_stream; 0: no software prefetch)
 * and PREFETCH_L1 bytes ahead into L1, never past wend (T0 alone, fewer
 * bytes ahead, read weights streaming from memory more slowly: bench
 * kernels --stream).  For PT >= 3 there is room for more: the NB blocks of a
 * tile are contiguous, and so is the next tile, so while this tile is
 * computed its successor (the pf_bytes bytes from pf) is prefetched line
 * by line, NB lines per step, and a whole tile is always on its way from
 * memory.
 */
VNNI NMT8_INLINE void vnni_tile(int32_t *acc, int64_t N, const int8_t *wp,
                                int64_t bstride, const int8_t *wend,
                                const int32_t *wsum, const uint8_t *xu,
                                int64_t G, int nlast, const int8_t *pf,
                                int64_t pf_bytes, int64_t pf_l2, int NB,
                                int PT)
{
    __m512i c[VNNI_NB][VNNI_PT];
    for (int b = 0; b < NB; b++)
        for (int p = 0; p < PT; p++)
            c[b][p] = _mm512_setzero_si512();
    int64_t pf_off = 0;
    for (int64_t g = 0; g < G; g++) {
        __m512i wv[VNNI_NB];
        for (int b = 0; b < NB; b++) {
            const int8_t *line = wp + b * bstride + g * LINE;
            if (PT <= 2) {
                /* bytes left from this line: ahead only while inside */
                const int64_t left = wend - line;
                if (pf_l2 > 0 && left > pf_l2)
                    NMT8_PREFETCH((const char *)(line + pf_l2), _MM_HINT_T1);
                if (pf_l2 > 0 && left > PREFETCH_L1)
                    NMT8_PREFETCH((const char *)(line + PREFETCH_L1),
                                 _MM_HINT_T0);
            } else {
                if (pf_off < pf_bytes)
                    NMT8_PREFETCH((const char *)(pf + pf_off), _MM_HINT_T0);
                pf_off += LINE;
            }
            wv[b] = _mm512_loadu_si512((const void *)line);
        }
        NMT8_VNNI_STEP(c, wv, xu, G, g, NB, PT);
    }
    NMT8_VNNI_STORE(acc, N, c, wsum, NB, PT, nlast);
}

/*
 * Every output block against PT (<= 8) rows of X, NB blocks at a time.
 * acc (PT, N) int32, row stride N; xu (PT, 4 G) uint8.
 */
VNNI NMT8_INLINE void vnni_blocks(int32_t *acc, const nmt8_weights *w,
                                  const uint8_t *xu, int64_t pf_l2, int NB,
                                  int PT)
{
    const int64_t N = w->N, G = NMT8_CEIL_DIV(w->K, DEP);
    const int64_t nblk = NMT8_CEIL_DIV(N, BLK), bstride = G * LINE;
    const int8_t *wend = w->Wp + nblk * bstride;
    const int nlast = (int)(N - (nblk - 1) * BLK);
    int64_t b = 0;
    for (; b + NB <= nblk; b += NB)
        vnni_tile(acc + b * BLK, N, w->Wp + b * bstride, bstride, wend,
                  w->wsum + b * BLK, xu, G, b + NB == nblk ? nlast : BLK,
                  w->Wp + (b + NB) * bstride, (nblk - b - NB) * bstride,
                  pf_l2, NB, PT);
    for (; b < nblk; b++)
        vnni_tile(acc + b * BLK, N, w->Wp + b * bstride, bstride, wend,
                  w->wsum + b * BLK, xu, G, b + 1 == nblk ? nlast : BLK,
                  w->Wp + (b + 1) * bstride, (nblk - b - 1) * bstride,
                  pf_l2, 1, PT);
}

/*
 * One chunk of PT (<= 8) rows of X against every output block: for PT <=
 * 2 (decoding, the weights stream) `streams` blocks in flight, for more
 * rows 2 (~8-16 accumulators).
 */
VNNI NMT8_INLINE void vnni_chunk(int32_t *acc, const nmt8_weights *w,
                                 const uint8_t *xu, int streams,
                                 int64_t pf_l2, int PT)
{
    if (PT > 2) {
        vnni_blocks(acc, w, xu, 0, 2, PT);
        return;
    }
    switch (streams) {
    case 1: vnni_blocks(acc, w, xu, pf_l2, 1, PT); break;
    case 2: vnni_blocks(acc, w, xu, pf_l2, 2, PT); break;
    case 8: vnni_blocks(acc, w, xu, pf_l2, 8, PT); break;
    default: vnni_blocks(acc, w, xu, pf_l2, 4, PT); break;
    }
}

VNNI int nmt8_accum_vnni(int32_t *acc, const nmt8_weights *w,
                         const int8_t *Xq, int64_t P)
{
    /*
     * acc (P, N) int32 row-major; w->Wp packed (see top), w->wsum (N,)
     * int32; Xq (P, K) int8 row-major.
     */
    if (nmt8_bad_args(w, P, NMT8_NEED_WSUM | NMT8_NEED_WP))
        return NMT8_EBADARG;
    const int64_t N = w->N, K = w->K, K4 = NMT8_CEIL_DIV(K, DEP) * DEP;
    if (N == 0 || P == 0)
        return NMT8_OK;
    /* x + 128 as uint8, (VNNI_PT, K4) */
    uint8_t xu_stack[STACK_BYTES] __attribute__((aligned(64)));
    const size_t nxu = (size_t)VNNI_PT * (size_t)K4;
    uint8_t *xu = nxu <= STACK_BYTES ? xu_stack : malloc(nxu);
    if (xu == NULL)
        return NMT8_ENOMEM;
    const int streams = stream_blocks;
    const int64_t pf_l2 = stream_prefetch;
    for (int64_t p0 = 0; p0 < P; p0 += VNNI_PT) {
        const int PT = P - p0 < VNNI_PT ? (int)(P - p0) : VNNI_PT;
        for (int p = 0; p < PT; p++)
            nmt8_shift_u8(xu + p * K4, Xq + (p0 + p) * K, K, K4);
        int32_t *a = acc + p0 * N;
#define VNNI_CHUNK(PT) vnni_chunk(a, w, xu, streams, pf_l2, PT)
        NMT8_ROWS_UPTO8(PT, VNNI_CHUNK)
#undef VNNI_CHUNK
    }
    if (xu != xu_stack)
        free(xu);
    return NMT8_OK;
}

#else /* not x86-64: only the portable reference exists */

int nmt8_accum_vnni(int32_t *acc, const nmt8_weights *w, const int8_t *Xq,
                    int64_t P)
{
    (void)acc; (void)w; (void)Xq; (void)P;
    return NMT8_EUNSUPPORTED;
}

#endif
