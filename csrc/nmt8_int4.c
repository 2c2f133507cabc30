/*
 * nmt8_int4.c -- 4-bit weights for the product of Section 3 of Quinn &
 * Ballesteros 2018: the packing, the reference kernel `ref`
 * and two vector kernels, `avx2` and `vnni` (AVX-512 VNNI), and the
 * entry points (the run-time choice of kernel is nmt8_dispatch.c's).  The formula and its float order are in nmt8_int4.h;
 * every kernel gives the same bits as `ref`.
 *
 * Does not: quantize (the weights arrive as int8 values in [-7, 7] with
 * their steps, the activations as int8 with theirs, as nmt8_quantize_rows
 * makes them); take float X; use threads; offer an SSE4 kernel or a
 * blocked one for large P (nmt8_gemm.c's tiling); go below 4 bits, or
 * use asymmetric (zero point) weights.
 *
 * ------------------------------------------------------------ the layout
 *
 * The outputs are cut into blocks of 16 (NMT8_INT4_ROWS), the inputs into
 * NG = ceil(K / G) groups of G.  Each (block b, group g) is T + 1 lines
 * of 64 bytes (NMT8_INT4_LINE), T = G / 8: T lines of nibbles, then one
 * line of the 16 outputs' float32 steps for that group.  The groups of a
 * block follow each other, then the next block, so the whole matrix,
 * steps included, is read as ONE sequential stream:
 *
 *     line (b, g, t) at byte ((b NG + g) (T + 1) + t) 64,   t = 0 .. T
 *
 *   (b, g), G = 64:
 *     line 0  | j=0 | j=1 | ... | j=15 |  lo: k+0..3    hi: k+32..35
 *     line 1  | j=0 | j=1 | ... | j=15 |  lo: k+4..7    hi: k+36..39
 *      ...
 *     line 7  | j=0 | j=1 | ... | j=15 |  lo: k+28..31  hi: k+60..63
 *     line 8  | w_step[16b, g] | ... | w_step[16b+15, g] |  16 float32
 *                                         (k = g G: the group's first input)
 *
 * Lane j (4 bytes, i = 0..3) of nibble line t belongs to output
 * o = 16 b + j; its low nibbles hold 4 consecutive inputs of the first
 * half of the group, its high nibbles the same 4 of the second half.
 * With k = g G + 4 t and H = G / 2:
 *
 *   byte  0     1     2     3     4     5     6     7        60 ... 63
 *       +-----+-----+-----+-----+-----+-----+-----+-----+   +-----------+
 *  lane |        j = 0          |        j = 1          |...|  j = 15   |
 *  out  |       o = 16 b        |      o = 16 b + 1     |   | 16 b + 15 |
 *  lo 4 | k   | k+1 | k+2 | k+3 | k   | k+1 | k+2 | k+3 |   | k  .. k+3 |
 *  hi 4 | k+H |k+H+1|k+H+2|k+H+3| k+H |k+H+1|k+H+2|k+H+3|   | k+H ..    |
 *       +-----+-----+-----+-----+-----+-----+-----+-----+   +-----------+
 *         nibble = Wq[o, input] + 8, in [1, 15]; 8 past N and past K
 *         (and step 0 past N)
 *
 * Read lane j down the T lines of a group: its low nibbles are inputs
 * gG .. gG+H-1 in order, its high nibbles gG+H .. gG+G-1, i.e. one row's
 * group with the low nibbles holding the first half and the high nibbles
 * the second, cut into 4-byte pieces dealt out to 16 outputs.  Then:
 *
 *   - one AND gives the low nibbles; one AND the high ones as v & 0xf0,
 *     16 x nibble, summed apart and shifted back once per group (vnni,
 *     P <= 2), or one shift and one AND as (v >> 4) & 0x0f (vnni, P > 2,
 *     where a second sum per row would cost registers; avx2);
 *   - each lane is then exactly what vpdpbusd wants: 4 unsigned bytes
 *     of one output against the same 4 bytes of x broadcast to all lanes,
 *     so 16 outputs advance together, one int32 lane each;
 *   - the per-group float step is then one vector multiply and one add
 *     over 16 outputs, their 16 steps one load from the line that follows.
 *     Over g the sum stays in order: the vectors run across outputs,
 *     never across groups.
 *
 * ----------------------------------------------- the +8 and the exactness
 *
 * vpdpbusd (and vpmaddubsw) multiply UNSIGNED bytes by signed ones.  The
 * int8 kernels shift X by +128 and subtract 128 sum_k Wq[o,k], stored with
 * the weights.  Here the other operand moves: the nibble u = w + 8 is the
 * unsigned one, x stays signed, and
 *
 *     sum_k u_k x_k - 8 sum_k x_k = sum_k w_k x_k     (k in one group),
 *
 * where the correction -8 sum_k x_k depends on X alone: computed once per
 * call (P K additions), the start value of each group's sum, and no extra
 * byte of weights to stream.  All int32, all exact:
 *   vnni: a lane adds at most G/2 = 32 products, |16 u x| <= 240 * 128,
 *         so |sum| < 2^20, far below 2^31; (16 sum u x) >> 4 is exact
 *         (an arithmetic shift of a multiple of 16);
 *   avx2: vpmaddubsw adds 2 products into int16 and SATURATES, but here
 *         |u x0 + u x1| <= 2 * 15 * 128 = 3840; 4 lines (lo + hi, 8
 *         such pairs, <= 30720 < 32767) are added in int16 before
 *         vpmaddwd widens them into the int32 sum, so nothing saturates.
 * (Every nibble 0..15 and every int8 x, -128 included, stays exact.)
 *
 * ---------------------------------------------------------- the float part
 *
 * Per (p, o): S = +0; for g in order S = S + (float)acc[g] * step[g], a
 * multiply then an add, each rounded (no FMA: numpy can repeat it); then
 * Y = x_step[p] * S, then + bias[o] if there is a bias (none: no add, so
 * a -0 stays -0).  The vector kernels do exactly these operations, lane
 * by lane, so their bits equal ref's.  Compile with -ffp-contract=off, as
 * the cffi build does: otherwise gcc fuses the multiply and the add in
 * the vnni kernel (tried: the bits then differ from ref's).
 *
 * ----------------------------------------------------------------- speed
 *
 * Decoding streams every weight from memory once per step; int4 reads
 * G/2 + 4 bytes per G weights (steps included) where int8 reads G: 36 /
 * 64 for G = 64, 40 / 64 for G = 32.  For P <= 2 the kernels read
 * `blocks` blocks of 16 outputs side by side and prefetch or not, as
 * nmt8_int4_set_stream says (see pf_start below); for more rows of X, 2
 * (P <= 4) or 1 block, always prefetched.  X is read 8 (vnni) or 4 (avx2)
 * rows at a time, so each weight line serves up to 8 rows.  The per-group
 * float work (a shift, an add, a convert, a multiply and an add per 16
 * outputs) is small beside the 2 T vpdpbusd per row and group.  From
 * P ~ 5 on the vnni kernel is bound by its vpdpbusd (as many as int8's,
 * one per 64 weights and row), not by memory.
 */
#include <stdlib.h>
#include <string.h>

#include "nmt8_dispatch.h"
#include "nmt8_int4.h"
#include "nmt8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    ROWS = NMT8_INT4_ROWS,          /* outputs per block */
    LINE = NMT8_INT4_LINE,          /* bytes per packed line */
    OFFSET = NMT8_INT4_OFFSET,      /* nibble = w + OFFSET */
    PT_MAX = 8,                     /* most rows of X per pass */
    STACK_WORDS = 8192,             /* 32 KB of scratch on the stack */
};

/* one call, checked: what every kernel reads */
typedef struct {
    float *Y;                   /* (P, N), or NULL: acc instead */
    int32_t *acc;               /* (P, N, NG), or NULL: Y instead */
    const uint8_t *Wp;          /* packed, see top */
    const int8_t *Xq;           /* (P, K) */
    const float *x_step;        /* (P,) */
    const float *bias;          /* (N,) or NULL */
    int64_t P, N, K, G;
    int64_t NG;                 /* groups per row: ceil(K / G) */
    int64_t T;                  /* nibble lines per (block, group): G / 8 */
    int64_t NBLK;               /* blocks of 16 outputs: ceil(N / 16) */
    int blocks, prefetch;       /* the stream for P <= 2 (set_stream) */
} i4_job;

/*
 * scratch for a pass over PT rows of X (not used by ref):
 *   xp    (PT, NG G) int8: the rows zero padded to whole groups
 *   corr  (PT, NG) int32: -8 * the sum of each group of xp
 */
typedef int (*i4_fn)(const i4_job *, int8_t *xp, int32_t *corr);

/* the stream of the decoding case (nmt8_int4_set_stream) */
static int stream_blocks = NMT8_INT4_STREAM_DEFAULT_BLOCKS;
static int stream_prefetch = NMT8_INT4_STREAM_DEFAULT_PREFETCH;

int nmt8_int4_set_stream(int blocks, int prefetch)
{
    if ((blocks != 1 && blocks != 2 && blocks != 4)
        || (prefetch != 0 && prefetch != 1))
        return NMT8_EBADARG;
    stream_blocks = blocks;
    stream_prefetch = prefetch;
    return NMT8_OK;
}

void nmt8_int4_get_stream(int *blocks, int *prefetch)
{
    if (blocks != NULL)
        *blocks = stream_blocks;
    if (prefetch != NULL)
        *prefetch = stream_prefetch;
}

/* ------------------------------------------------------------- helpers */

static int bad_sizes(int64_t P, int64_t N, int64_t K, int64_t G)
{
    return P < 0 || N < 0 || K < 0 || P > NMT8_INT4_MAX_DIM
        || N > NMT8_INT4_MAX_DIM || K > NMT8_INT4_MAX_DIM || (K & 1)
        || (G != NMT8_INT4_G32 && G != NMT8_INT4_G64);
}

/* nonzero when a (n,) float32 holds a NaN or an inf: exponent all ones */
static int any_nonfinite(const float *a, int64_t n)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, a + i, sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

/* byte offset of line t of (block b, group g); t = G / 8: the steps */
static int64_t line_at(int64_t b, int64_t g, int64_t t, int64_t G,
                       int64_t NG)
{
    return ((b * NG + g) * (G / 8 + 1) + t) * LINE;
}

/* byte and shift of the nibble of Wq[o, k]: Wp[*byte] >> *shift & 15 */
static void nibble_at(int64_t *byte, int *shift, int64_t o, int64_t k,
                      int64_t G, int64_t NG)
{
    const int64_t g = k / G, r = k % G, H = G / 2, hi = r >= H;
    const int64_t q = r - hi * H;
    *byte = line_at(o / ROWS, g, q / 4, G, NG) + 4 * (o % ROWS) + q % 4;
    *shift = hi ? 4 : 0;
}

/* byte offset of the step of output o, group g (a float32, 4 bytes) */
static int64_t step_at(int64_t o, int64_t g, int64_t G, int64_t NG)
{
    return line_at(o / ROWS, g, G / 8, G, NG) + 4 * (o % ROWS);
}

int64_t nmt8_int4_packed_bytes(int64_t N, int64_t K, int64_t G)
{
    if (bad_sizes(0, N, K, G))
        return -1;
    return NMT8_CEIL_DIV(N, ROWS) * NMT8_CEIL_DIV(K, G) * (G / 8 + 1) * LINE;
}

/* ------------------------------------------------------------- packing */

int nmt8_int4_pack(uint8_t *Wp, const int8_t *Wq, const float *w_step,
                   int64_t N, int64_t K, int64_t G)
{
    /*
     * Wp (ceil(N/16), NG, G/8 + 1, 64) bytes, out (see top); Wq (N, K)
     * int8 row-major in [-7, 7]; w_step (N, NG) float32 row-major.
     * NG = ceil(K / G).
     */
    if (Wp == NULL || Wq == NULL || w_step == NULL || bad_sizes(0, N, K, G)
        || !NMT8_ALIGNED(w_step, float))
        return NMT8_EBADARG;
    const int64_t NG = NMT8_CEIL_DIV(K, G), T = G / 8;
    for (int64_t i = 0; i < N * K; i++)
        if (Wq[i] < -NMT8_INT4_W_MAX || Wq[i] > NMT8_INT4_W_MAX)
            return NMT8_EBADARG;
    if (any_nonfinite(w_step, N * NG))
        return NMT8_ENONFINITE;
    /* the padding: every nibble 8 (a zero weight), every step 0 */
    for (int64_t bg = 0; bg < NMT8_CEIL_DIV(N, ROWS) * NG; bg++) {
        uint8_t *tile = Wp + bg * (T + 1) * LINE;
        memset(tile, OFFSET * 0x11, (size_t)(T * LINE));
        memset(tile + T * LINE, 0, LINE);       /* +0.0f, all bits 0 */
    }
    for (int64_t o = 0; o < N; o++) {
        for (int64_t k = 0; k < K; k++) {
            int64_t byte;
            int shift;
            nibble_at(&byte, &shift, o, k, G, NG);
            const unsigned u = (unsigned)(Wq[o * K + k] + OFFSET);
            Wp[byte] = (uint8_t)((Wp[byte] & ~(0xfu << shift))
                                 | (u << shift));
        }
        for (int64_t g = 0; g < NG; g++)
            memcpy(Wp + step_at(o, g, G, NG), w_step + o * NG + g,
                   sizeof(float));
    }
    return NMT8_OK;
}

int nmt8_int4_unpack(int8_t *Wq, float *w_step, const uint8_t *Wp,
                     int64_t N, int64_t K, int64_t G)
{
    /*
     * Wq (N, K) int8 row-major, out; w_step (N, NG) float32 row-major,
     * out; Wp packed (see top).
     */
    if (Wp == NULL || Wq == NULL || w_step == NULL || bad_sizes(0, N, K, G)
        || !NMT8_ALIGNED(w_step, float))
        return NMT8_EBADARG;
    const int64_t NG = NMT8_CEIL_DIV(K, G);
    for (int64_t o = 0; o < N; o++) {
        for (int64_t k = 0; k < K; k++) {
            int64_t byte;
            int shift;
            nibble_at(&byte, &shift, o, k, G, NG);
            Wq[o * K + k] = (int8_t)((int)((Wp[byte] >> shift) & 0xf)
                                     - OFFSET);
        }
        for (int64_t g = 0; g < NG; g++)
            memcpy(w_step + o * NG + g, Wp + step_at(o, g, G, NG),
                   sizeof(float));
    }
    return NMT8_OK;
}

/* ------------------------------------------------------- reference kernel */

static int i4_ref(const i4_job *jb, int8_t *xp, int32_t *corr)
{
    /*
     * Wp packed (see top); Xq (P, K) int8 row-major; Y (P, N) float32 or
     * acc (P, N, NG) int32, row-major.  Nibble by nibble, signed, in the
     * order of the header's formula: the definition every other kernel is
     * checked against.
     */
    (void)xp;
    (void)corr;
    const int64_t N = jb->N, K = jb->K, G = jb->G, NG = jb->NG, T = jb->T;
    const int64_t H = G / 2;
    for (int64_t p = 0; p < jb->P; p++) {
        const int8_t *x = jb->Xq + p * K;                   /* (K,) */
        for (int64_t o = 0; o < N; o++) {
            const int64_t b = o / ROWS, j = o % ROWS;
            float S = 0.0f;
            for (int64_t g = 0; g < NG; g++) {
                const uint8_t *tile = jb->Wp + line_at(b, g, 0, G, NG);
                int32_t a = 0;
                for (int64_t t = 0; t < T; t++) {
                    const uint8_t *q = tile + t * LINE + 4 * j;  /* (4,) */
                    for (int i = 0; i < 4; i++) {
                        const int64_t k = g * G + 4 * t + i;
                        if (k < K)
                            a += ((int32_t)(q[i] & 0xf) - OFFSET) * x[k];
                        if (k + H < K)
                            a += ((int32_t)(q[i] >> 4) - OFFSET) * x[k + H];
                    }
                }
                if (jb->acc) {
                    jb->acc[(p * N + o) * NG + g] = a;
                } else {
                    float step;
                    memcpy(&step, tile + T * LINE + 4 * j, sizeof step);
                    S = S + (float)a * step;            /* mul, then add */
                }
            }
            if (jb->Y) {
                float y = jb->x_step[p] * S;
                if (jb->bias)
                    y = y + jb->bias[o];
                jb->Y[p * N + o] = y;
            }
        }
    }
    return NMT8_OK;
}

#if defined(__x86_64__) && defined(__GNUC__)

/* ------------------------------------------------- scratch for the SIMD */

/*
 * xp (PT, NG G) int8 = rows of X (PT, K) zero padded to NG G; corr (PT,
 * NG) int32 = -8 * sum of each group of xp.  Baseline code (SSE2), kept
 * out of the target functions (nmt8_internal.h: gcc 12 and AVX-512).
 */
static __attribute__((noinline)) void i4_prepare(int8_t *xp, int32_t *corr,
                                                 const int8_t *X, int64_t K,
                                                 int64_t G, int64_t NG,
                                                 int PT)
{
    const int64_t Kp = NG * G;
    for (int p = 0; p < PT; p++) {
        int8_t *d = xp + p * Kp;
        if (K > 0)
            memcpy(d, X + p * K, (size_t)K);
        memset(d + K, 0, (size_t)(Kp - K));
        for (int64_t g = 0; g < NG; g++) {
            int32_t s = 0;
            for (int64_t k = 0; k < G; k++)
                s += d[g * G + k];
            corr[p * NG + g] = -OFFSET * s;
        }
    }
}

/* 4 bytes at p as one int32, for a broadcast */
NMT8_INLINE int32_t load32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ------------------------------------------------------------- prefetch */

enum {
    PF_TILE = 262144,           /* tiles up to this size: linear prefetch */
    PF_L2 = 2048,               /* else bytes ahead in each stream, to L2 */
    PF_L1 = 256,                /* ... and to L1 */
};

/*
 * Software prefetch for one tile of NB blocks, shared by both kernels.
 * The tile is NB * bstride contiguous bytes of Wp (steps included), and
 * the next tile follows it.  Three modes:
 *
 * none (P <= 2 and prefetch 0): the hardware prefetchers alone.  With one
 *   block (one sequential stream) this was the fastest at P = 1 on the
 *   Zen 4 these kernels were measured on, as for int8 (nmt8 tune).
 * linear (tiles up to PF_TILE bytes: K up to ~7000 with 4 blocks): while
 *   this tile is read, the NEXT tile is prefetched into L2, one line per
 *   line read, so it is all on its way before it is needed.  With short
 *   rows (K = 500: 4.5 KB per block) the per-stream prefetch below only
 *   reaches the blocks already in flight and leaves the start of every
 *   tile cold: linear was 1.2-1.4x faster on 500x30000 with 4 blocks.
 *   For P >= 3 it is essential (P = 5, 3000x1000: 1.0x int8's speed
 *   without it, 1.65x with it).
 * per-stream (larger tiles): each block's stream PF_L2 bytes ahead into
 *   L2 and PF_L1 ahead into L1, as nmt8_vnni.c does for P <= 2.
 *
 * No address past the end of Wp is ever formed.
 */
enum { PF_NONE, PF_LINEAR, PF_STREAM };

typedef struct {
    const uint8_t *next;        /* linear: the next line to prefetch */
    const uint8_t *wend;        /* one past the end of Wp */
    int mode;
} i4_pf;

NMT8_INLINE i4_pf pf_start(const i4_job *jb, int64_t b0, int NB, int PT)
{
    const int64_t bstride = jb->NG * (jb->T + 1) * LINE;
    i4_pf pf;
    pf.wend = jb->Wp + jb->NBLK * bstride;
    pf.next = jb->Wp + (b0 + NB) * bstride;     /* the next tile, <= wend */
    pf.mode = PT <= 2 && !jb->prefetch ? PF_NONE
            : NB * bstride <= PF_TILE  ? PF_LINEAR
                                       : PF_STREAM;
    return pf;
}

/* at every line read from Wp */
NMT8_INLINE void pf_line(i4_pf *pf, const uint8_t *line)
{
    if (pf->mode == PF_LINEAR) {
        if (pf->next < pf->wend) {
            NMT8_PREFETCH(pf->next, _MM_HINT_T1);
            pf->next += LINE;
        }
    } else if (pf->mode == PF_STREAM) {
        const int64_t left = pf->wend - line;
        if (left > PF_L2)
            NMT8_PREFETCH(line + PF_L2, _MM_HINT_T1);
        if (left > PF_L1)
            NMT8_PREFETCH(line + PF_L1, _MM_HINT_T0);
    }
}

/* ----------------------------------------------------------- vnni kernel */

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

enum {
    VNNI_NB = 4,                /* most blocks in flight */
};

/* blocks in flight for P > 2, and whether to split the high nibbles */
#define VNNI_NB_FOR(PT) ((PT) <= 4 ? 2 : 1)
#define VNNI_SPLIT_FOR(PT) ((PT) <= 2)

/*
 * NB blocks of 16 outputs, from block b0, against PT rows of X from row
 * p0.  xp (PT, NG G) int8 and corr (PT, NG) int32: i4_prepare's, for
 * these rows.  Results to jb->Y (P, N) or, with ACC, jb->acc (P, N, NG).
 *
 * SPLIT: the high nibbles as v & 0xf0 (16 x nibble) into a second sum,
 * shifted back once per group (one op per line fewer, one register per
 * sum more); else as (v >> 4) & 0x0f into the same sum.
 */
VNNI NMT8_INLINE void vnni_tile(const i4_job *jb, int64_t b0, int64_t p0,
                                const int8_t *xp, const int32_t *corr,
                                int NB, int PT, int SPLIT, int ACC)
{
    const int64_t N = jb->N, G = jb->G, NG = jb->NG, T = jb->T;
    const int64_t H = G / 2, Kp = NG * G, bstride = NG * (T + 1) * LINE;
    const uint8_t *w0 = jb->Wp + b0 * bstride;              /* block b0 */
    i4_pf pf = pf_start(jb, b0, NB, PT);
    const __m512i m0f = _mm512_set1_epi8(0x0f);
    const __m512i mf0 = _mm512_set1_epi8((char)0xf0);
    __m512 S[VNNI_NB][PT_MAX];
    for (int b = 0; b < NB; b++)
        for (int p = 0; p < PT; p++)
            S[b][p] = _mm512_setzero_ps();
    int64_t off = 0;                    /* bytes into each block */
    for (int64_t g = 0; g < NG; g++) {
        __m512i a[VNNI_NB][PT_MAX], h[VNNI_NB][PT_MAX];
        for (int p = 0; p < PT; p++) {
            const __m512i c = _mm512_set1_epi32(corr[p * NG + g]);
            for (int b = 0; b < NB; b++) {
                a[b][p] = c;
                h[b][p] = _mm512_setzero_si512();
            }
        }
        const int8_t *xg = xp + g * G;
        for (int64_t t = 0; t < T; t++, off += LINE) {
            for (int b = 0; b < NB; b++) {
                const uint8_t *line = w0 + b * bstride + off;
                pf_line(&pf, line);
                const __m512i v = _mm512_loadu_si512((const void *)line);
                const __m512i lo = _mm512_and_si512(v, m0f);
                const __m512i hi = SPLIT
                    ? _mm512_and_si512(v, mf0)
                    : _mm512_and_si512(_mm512_srli_epi16(v, 4), m0f);
                for (int p = 0; p < PT; p++) {
                    const int8_t *x = xg + p * Kp + 4 * t;
                    const __m512i xl = _mm512_set1_epi32(load32(x));
                    const __m512i xh = _mm512_set1_epi32(load32(x + H));
                    a[b][p] = _mm512_dpbusd_epi32(a[b][p], lo, xl);
                    if (SPLIT)
                        h[b][p] = _mm512_dpbusd_epi32(h[b][p], hi, xh);
                    else
                        a[b][p] = _mm512_dpbusd_epi32(a[b][p], hi, xh);
                }
            }
        }
        /* the group's exact sums, then S += (float)sum * step, in order */
        for (int b = 0; b < NB; b++) {
            const uint8_t *sl = w0 + b * bstride + off;     /* the steps */
            pf_line(&pf, sl);
            const int64_t o = (b0 + b) * ROWS;
            const __mmask16 m = N - o >= ROWS
                ? (__mmask16)0xffff : (__mmask16)((1u << (N - o)) - 1u);
            for (int p = 0; p < PT; p++) {
                const __m512i s = SPLIT
                    ? _mm512_add_epi32(a[b][p], _mm512_srai_epi32(h[b][p], 4))
                    : a[b][p];
                if (ACC) {
                    const __m512i lane = _mm512_mullo_epi32(
                        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                          11, 12, 13, 14, 15),
                        _mm512_set1_epi32((int32_t)NG));
                    _mm512_mask_i32scatter_epi32(
                        jb->acc + ((p0 + p) * N + o) * NG + g, m, lane, s, 4);
                } else {
                    const __m512 st = _mm512_loadu_ps((const void *)sl);
                    S[b][p] = _mm512_add_ps(
                        S[b][p], _mm512_mul_ps(_mm512_cvtepi32_ps(s), st));
                }
            }
        }
        off += LINE;                                /* past the steps */
    }
    if (ACC)
        return;
    for (int b = 0; b < NB; b++) {
        const int64_t o = (b0 + b) * ROWS;
        const __mmask16 m = N - o >= ROWS
            ? (__mmask16)0xffff : (__mmask16)((1u << (N - o)) - 1u);
        const __m512 bv = jb->bias ? _mm512_maskz_loadu_ps(m, jb->bias + o)
                                   : _mm512_setzero_ps();
        for (int p = 0; p < PT; p++) {
            __m512 y = _mm512_mul_ps(_mm512_set1_ps(jb->x_step[p0 + p]),
                                     S[b][p]);
            if (jb->bias)
                y = _mm512_add_ps(y, bv);
            _mm512_mask_storeu_ps(jb->Y + (p0 + p) * N + o, m, y);
        }
    }
}

/* PT rows of X from row p0 against every block, NB at a time */
VNNI NMT8_INLINE void vnni_blocks(const i4_job *jb, int64_t p0,
                                  const int8_t *xp, const int32_t *corr,
                                  int NB, int PT, int ACC)
{
    const int SPLIT = VNNI_SPLIT_FOR(PT);
    int64_t b = 0;
    for (; b + NB <= jb->NBLK; b += NB)
        vnni_tile(jb, b, p0, xp, corr, NB, PT, SPLIT, ACC);
    for (; b < jb->NBLK; b++)
        vnni_tile(jb, b, p0, xp, corr, 1, PT, SPLIT, ACC);
}

/* P <= 2: jb->blocks in flight; more rows: VNNI_NB_FOR */
VNNI NMT8_INLINE void vnni_rows(const i4_job *jb, int64_t p0,
                                const int8_t *xp, const int32_t *corr,
                                int PT, int ACC)
{
    if (PT > 2) {
        vnni_blocks(jb, p0, xp, corr, VNNI_NB_FOR(PT), PT, ACC);
        return;
    }
    switch (jb->blocks) {
    case 1: vnni_blocks(jb, p0, xp, corr, 1, PT, ACC); break;
    case 2: vnni_blocks(jb, p0, xp, corr, 2, PT, ACC); break;
    default: vnni_blocks(jb, p0, xp, corr, 4, PT, ACC); break;
    }
}

VNNI static int i4_vnni(const i4_job *jb, int8_t *xp, int32_t *corr)
{
    /*
     * Wp packed (see top); Xq (P, K) int8 row-major; Y (P, N) float32 or
     * acc (P, N, NG) int32, row-major; xp, corr scratch for PT_MAX rows
     * (PT_MAX NG G int8, PT_MAX NG int32).
     */
    const int pt_max = jb->acc ? 1 : PT_MAX;    /* acc: one row a pass */
    for (int64_t p0 = 0; p0 < jb->P; p0 += pt_max) {
        const int PT = jb->P - p0 < pt_max ? (int)(jb->P - p0) : pt_max;
        i4_prepare(xp, corr, jb->Xq + p0 * jb->K, jb->K, jb->G, jb->NG, PT);
        if (jb->acc) {
            vnni_rows(jb, p0, xp, corr, 1, 1);
            continue;
        }
#define VNNI_ROWS(PT_) vnni_rows(jb, p0, xp, corr, PT_, 0)
        NMT8_ROWS_UPTO8(PT, VNNI_ROWS)
#undef VNNI_ROWS
    }
    return NMT8_OK;
}

/* ----------------------------------------------------------- avx2 kernel */

#define AVX2 __attribute__((target("avx2")))

enum {
    AVX2_NB = 2,                /* most blocks in flight */
    AVX2_PT = 4,                /* most rows of X per pass */
    FLUSH = 4,                  /* lines summed in int16 (see top); */
                                /* T = G / 8 = 4 or 8, a multiple of it */
};

/* a mask of the first n (<= 8) of 8 int32 lanes, for maskload/maskstore */
AVX2 NMT8_INLINE __m256i first_lanes(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * NB blocks of 16 outputs, from block b0, against PT rows of X from row
 * p0: vnni_tile's work with vpmaddubsw, each 64-byte line as two halves
 * of 8 outputs (bytes 0..31: outputs 0..7, 32..63: outputs 8..15; the
 * steps likewise).  xp, corr as for vnni_tile.  The multiplies, not
 * memory, bound it from P ~ 4 on (4 vpmaddubsw and 4 vpaddw per 64 bytes
 * per row, against 2 vpdpbusd).
 */
AVX2 NMT8_INLINE void avx2_tile(const i4_job *jb, int64_t b0, int64_t p0,
                                const int8_t *xp, const int32_t *corr,
                                int NB, int PT, int ACC)
{
    const int64_t N = jb->N, G = jb->G, NG = jb->NG, T = jb->T;
    const int64_t H = G / 2, Kp = NG * G, bstride = NG * (T + 1) * LINE;
    const uint8_t *w0 = jb->Wp + b0 * bstride;
    i4_pf pf = pf_start(jb, b0, NB, PT);
    const __m256i m0f = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 S[AVX2_NB][2][AVX2_PT];
    for (int b = 0; b < NB; b++)
        for (int f = 0; f < 2; f++)
            for (int p = 0; p < PT; p++)
                S[b][f][p] = _mm256_setzero_ps();
    int64_t off = 0;
    for (int64_t g = 0; g < NG; g++) {
        __m256i a[AVX2_NB][2][AVX2_PT];
        for (int p = 0; p < PT; p++) {
            const __m256i c = _mm256_set1_epi32(corr[p * NG + g]);
            for (int b = 0; b < NB; b++)
                a[b][0][p] = a[b][1][p] = c;
        }
        const int8_t *xg = xp + g * G;
        for (int64_t t0 = 0; t0 < T; t0 += FLUSH) {
            __m256i s[AVX2_NB][2][AVX2_PT];         /* int16 pair sums */
            for (int b = 0; b < NB; b++)
                for (int p = 0; p < PT; p++)
                    s[b][0][p] = s[b][1][p] = _mm256_setzero_si256();
            for (int64_t t = t0; t < t0 + FLUSH; t++, off += LINE) {
                __m256i xl[AVX2_PT], xh[AVX2_PT];
                for (int p = 0; p < PT; p++) {
                    const int8_t *x = xg + p * Kp + 4 * t;
                    xl[p] = _mm256_set1_epi32(load32(x));
                    xh[p] = _mm256_set1_epi32(load32(x + H));
                }
                for (int b = 0; b < NB; b++) {
                    const uint8_t *line = w0 + b * bstride + off;
                    pf_line(&pf, line);
                    for (int f = 0; f < 2; f++) {
                        const __m256i v = _mm256_loadu_si256(
                            (const __m256i *)(line + 32 * f));
                        const __m256i lo = _mm256_and_si256(v, m0f);
                        const __m256i hi = _mm256_and_si256(
                            _mm256_srli_epi16(v, 4), m0f);
                        for (int p = 0; p < PT; p++) {
                            __m256i u = _mm256_add_epi16(
                                _mm256_maddubs_epi16(lo, xl[p]),
                                _mm256_maddubs_epi16(hi, xh[p]));
                            s[b][f][p] = _mm256_add_epi16(s[b][f][p], u);
                        }
                    }
                }
            }
            for (int b = 0; b < NB; b++)
                for (int f = 0; f < 2; f++)
                    for (int p = 0; p < PT; p++)
                        a[b][f][p] = _mm256_add_epi32(
                            a[b][f][p], _mm256_madd_epi16(s[b][f][p], ones));
        }
        for (int b = 0; b < NB; b++) {
            const uint8_t *sl = w0 + b * bstride + off;     /* the steps */
            pf_line(&pf, sl);
            for (int f = 0; f < 2; f++) {
                const int64_t o = (b0 + b) * ROWS + 8 * f;
                if (o >= N)
                    continue;
                for (int p = 0; p < PT; p++) {
                    if (ACC) {
                        int32_t t8[8];
                        _mm256_storeu_si256((__m256i *)t8, a[b][f][p]);
                        int32_t *dst = jb->acc + ((p0 + p) * N + o) * NG + g;
                        for (int64_t j = 0; j < 8 && o + j < N; j++)
                            dst[j * NG] = t8[j];
                    } else {
                        const __m256 st = _mm256_loadu_ps(
                            (const float *)(const void *)(sl + 32 * f));
                        S[b][f][p] = _mm256_add_ps(S[b][f][p], _mm256_mul_ps(
                            _mm256_cvtepi32_ps(a[b][f][p]), st));
                    }
                }
            }
        }
        off += LINE;                                /* past the steps */
    }
    if (ACC)
        return;
    for (int b = 0; b < NB; b++) {
        for (int f = 0; f < 2; f++) {
            const int64_t o = (b0 + b) * ROWS + 8 * f;
            if (o >= N)
                continue;
            const __m256i m = first_lanes(N - o);
            const __m256 bv = jb->bias ? _mm256_maskload_ps(jb->bias + o, m)
                                       : _mm256_setzero_ps();
            for (int p = 0; p < PT; p++) {
                __m256 y = _mm256_mul_ps(_mm256_set1_ps(jb->x_step[p0 + p]),
                                         S[b][f][p]);
                if (jb->bias)
                    y = _mm256_add_ps(y, bv);
                _mm256_maskstore_ps(jb->Y + (p0 + p) * N + o, m, y);
            }
        }
    }
}

/* PT rows of X from row p0 against every block: P = 1 with min(blocks, 2)
 * in flight, else 1 */
AVX2 NMT8_INLINE void avx2_rows(const i4_job *jb, int64_t p0,
                                const int8_t *xp, const int32_t *corr,
                                int PT, int ACC)
{
    const int NB = PT == 1 && jb->blocks >= 2 ? 2 : 1;
    int64_t b = 0;
    if (NB == 2)
        for (; b + 2 <= jb->NBLK; b += 2)
            avx2_tile(jb, b, p0, xp, corr, 2, PT, ACC);
    for (; b < jb->NBLK; b++)
        avx2_tile(jb, b, p0, xp, corr, 1, PT, ACC);
}

AVX2 static int i4_avx2(const i4_job *jb, int8_t *xp, int32_t *corr)
{
    /* as i4_vnni, AVX2_PT rows of X a pass */
    const int pt_max = jb->acc ? 1 : AVX2_PT;
    for (int64_t p0 = 0; p0 < jb->P; p0 += pt_max) {
        const int PT = jb->P - p0 < pt_max ? (int)(jb->P - p0) : pt_max;
        i4_prepare(xp, corr, jb->Xq + p0 * jb->K, jb->K, jb->G, jb->NG, PT);
        if (jb->acc) {
            avx2_rows(jb, p0, xp, corr, 1, 1);
            continue;
        }
#define AVX2_ROWS(PT_) avx2_rows(jb, p0, xp, corr, PT_, 0)
        NMT8_ROWS_UPTO4(PT, AVX2_ROWS)
#undef AVX2_ROWS
    }
    return NMT8_OK;
}

/* -------------------------------------------------------------- dispatch */

/* every kernel, by id (nmt8_dispatch.c says which this CPU runs) */
static const i4_fn KERNEL[NMT8_INT4_NUM_KERNELS] = {
    i4_ref, NULL, i4_avx2, i4_vnni,
};

#else /* no vector kernels: the portable reference only */

static const i4_fn KERNEL[NMT8_INT4_NUM_KERNELS] = {i4_ref};

#endif

/* ------------------------------------------------------------ entry points */

/* run a checked job: scratch for the vector kernels, then the kernel */
static int run(int kernel, i4_job *jb)
{
    if (jb->P == 0 || jb->N == 0)
        return NMT8_OK;
    jb->blocks = stream_blocks;                 /* read once per call */
    jb->prefetch = stream_prefetch;
    if (kernel == NMT8_INT4_REF)
        return i4_ref(jb, NULL, NULL);
    /* corr (rows, NG) int32, then xp (rows, NG G) int8 */
    int32_t stack[STACK_WORDS];
    const int64_t rows = jb->P < PT_MAX ? jb->P : PT_MAX;
    const int64_t ncorr = rows * jb->NG;
    const int64_t words = ncorr + NMT8_CEIL_DIV(rows * jb->NG * jb->G, 4);
    int32_t *scratch = words <= STACK_WORDS
        ? stack : malloc((size_t)words * sizeof(int32_t));
    if (scratch == NULL)
        return NMT8_ENOMEM;
    int rc = KERNEL[kernel](jb, (int8_t *)(scratch + ncorr), scratch);
    if (scratch != stack)
        free(scratch);
    return rc;
}

int nmt8_int4_matmul(int kernel, float *Y, const uint8_t *Wp,
                     const int8_t *Xq, const float *x_step,
                     const float *bias, int64_t P, int64_t N, int64_t K,
                     int64_t G)
{
    /*
     * Y (P, N) float32 row-major, out; Wp packed (see top); Xq (P, K)
     * int8 row-major; x_step (P,) float32; bias (N,) float32 or NULL.
     */
    kernel = nmt8_resolve(NMT8_FAMILY_INT4, kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    if (Y == NULL || Wp == NULL || Xq == NULL || x_step == NULL
        || bad_sizes(P, N, K, G) || !NMT8_ALIGNED(Y, float)
        || !NMT8_ALIGNED(x_step, float) || !NMT8_ALIGNED(bias, float))
        return NMT8_EBADARG;
    if (bias && any_nonfinite(bias, N))
        return NMT8_ENONFINITE_BIAS;
    i4_job jb = {
        Y, NULL, Wp, Xq, x_step, bias, P, N, K, G,
        NMT8_CEIL_DIV(K, G), G / 8, NMT8_CEIL_DIV(N, ROWS), 0, 0,
    };
    return run(kernel, &jb);
}

int nmt8_int4_accumulate(int kernel, int32_t *acc, const uint8_t *Wp,
                         const int8_t *Xq, int64_t P, int64_t N, int64_t K,
                         int64_t G)
{
    /* acc (P, N, NG) int32 row-major, out; Wp packed; Xq (P, K) int8 */
    kernel = nmt8_resolve(NMT8_FAMILY_INT4, kernel, P);
    if (kernel < 0)
        return NMT8_EUNSUPPORTED;
    if (acc == NULL || Wp == NULL || Xq == NULL || bad_sizes(P, N, K, G)
        || !NMT8_ALIGNED(acc, int32_t))
        return NMT8_EBADARG;
    i4_job jb = {
        NULL, acc, Wp, Xq, NULL, NULL, P, N, K, G,
        NMT8_CEIL_DIV(K, G), G / 8, NMT8_CEIL_DIV(N, ROWS), 0, 0,
    };
    return run(kernel, &jb);
}
