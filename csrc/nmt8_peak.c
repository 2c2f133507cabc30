/*
 * nmt8_peak.c -- the "true peak" yardstick for the kernels of Section 3 of
 * Quinn & Ballesteros 2018: what one core of this machine can do at best,
 * measured with loops that do nothing else (judge a kernel
 * against the machine, not against itself).  Declarations and the list of
 * loop kinds in nmt8_peak.h.
 *
 * Compute peak.  Each loop runs one multiply-add instruction on n
 * independent accumulators, with constant operands held in registers:
 * the only dependency is each accumulator on itself, so with n >= latency
 * x (instructions per cycle) every port that runs the instruction is busy
 * every cycle.  The instructions are written in inline asm, one volatile
 * asm statement per instruction, so the compiler can neither fold the
 * loop nor hoist the (loop-invariant) products out of it, nor turn an
 * operand into a memory reference: the loop body is register-to-register
 * only (check with objdump -d).  The accumulator counts and the CPU facts
 * behind them are in nmt8_peak.h.
 *
 * Read bandwidth.  nmt8_stream_read reads a buffer once, as one or several
 * sequential streams, each with an optional software prefetch some bytes
 * ahead, and adds the bytes up (vpsadbw) so that no read can be dropped.
 * The additions cost about 3 instructions per 64-byte line, far below the
 * time a line takes to come from memory.
 *
 * Compiled with the rest of the library at plain -O3: every function that
 * uses an instruction set beyond x86-64's SSE2 carries its own
 * __attribute__((target)) and is called only after __builtin_cpu_supports
 * says this CPU (and OS) runs it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nmt8_internal.h"      /* NMT8_PREFETCH, NMT8_SCALAR */
#include "nmt8_peak.h"
#include "nmt8_amx.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { LINE = 64 };             /* bytes per cache line, per stream step */

/*
 * The sum of n bytes as int8; p (n,) int8.  For the unaligned head, the
 * few lines that do not divide among the streams, and the tail.
 */
NMT8_SCALAR static int64_t sum_bytes(const int8_t *p, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

/*
 * Of a slice of len lines, how many (from its start) can prefetch pf
 * bytes ahead and stay inside it: line i can when i * LINE + pf <
 * len * LINE.  pf = 0: none.
 */
static int64_t prefetch_lines(int64_t len, int64_t pf)
{
    if (pf <= 0 || pf / LINE >= len)
        return 0;
    return len - pf / LINE;
}

/* ---------------------------------------------------------- repetition */

/* M(0) ... M(n-1): one statement per accumulator */
#define REP8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define REP4(M) M(0) M(1) M(2) M(3)
#define REP12(M) REP8(M) M(8) M(9) M(10) M(11)
#define REP16(M) REP12(M) M(12) M(13) M(14) M(15)
#define REP24(M) REP16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23)

#if defined(__x86_64__)

#define T_VNNI_ZMM __attribute__((target("avx512f,avx512vnni")))
#define T_VNNI_YMM __attribute__((target("avx512f,avx512vl,avx512vnni")))
#define T_AVXVNNI __attribute__((target("avx2,avxvnni")))
#define T_AVX2 __attribute__((target("avx2")))
#define T_AVX512F __attribute__((target("avx512f")))
#define T_FMA __attribute__((target("avx,fma")))
#define T_AVX512BW __attribute__((target("avx512f,avx512bw")))

/*
 * The folds of the accumulators, once the loop is over: the loops store
 * their accumulators to an array and these add it up, out of line, so
 * that the register allocation of the loop is not bent by the fold.
 * t (n,) int32 or float.
 */
NMT8_SCALAR static int64_t sum_i32(const int32_t *t, int n)
{
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        s += t[i];
    return s;
}

NMT8_SCALAR static double sum_f32(const float *t, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += t[i];
    return s;
}

/* ------------------------------------------------------- int8 loops */

/*
 * Each loop below: `iters` iterations of one instruction per accumulator,
 * registers only; returns the accumulators' lanes summed.  No buffers.
 * a holds unsigned bytes 2, b signed bytes 1 (different, so that they
 * stay in two registers): every int32 lane gains 2*1 * 4 = 8 per
 * instruction (per chain for AVX2).
 *
 * AT&T operand order: vpdpbusd %b, %a, %c is Intel's vpdpbusd c, a, b:
 * c.i32[l] += sum_{j<4} a.u8[4l+j] * b.s8[4l+j].
 */

/*
 * After the loop the accumulators are stored to t and added up by
 * sum_i32 / sum_f32.  The vzeroupper is by hand: gcc does not count the
 * asm statements' ymm/zmm registers as dirty upper halves, so it leaves
 * out the one it puts before a call to SSE code, and an SSE caller on
 * Intel would pay for the transition.
 */
#define ZERO_ZMM_I(k) __m512i c##k = _mm512_setzero_si512();
#define ZERO_YMM_I(k) __m256i c##k = _mm256_setzero_si256();
#define FOLD_ZMM_I(k) _mm512_storeu_si512((void *)(t + 16 * k), c##k);
#define FOLD_YMM_I(k) _mm256_storeu_si256((__m256i *)(t + 8 * k), c##k);

/* AVX-512 VNNI on zmm: 64 int8 multiply-adds per instruction */
#define DP_ZMM(k)                                                       \
    __asm__ volatile("vpdpbusd %[b], %[a], %[c]"                        \
                     : [c] "+v"(c##k) : [a] "v"(a), [b] "v"(b));

#define VNNI_ZMM_LOOP(N)                                                \
    T_VNNI_ZMM static int64_t vnni_zmm_##N(int64_t iters)               \
    {                                                                   \
        const __m512i a = _mm512_set1_epi8(2), b = _mm512_set1_epi8(1); \
        REP##N(ZERO_ZMM_I)                                              \
        for (int64_t i = 0; i < iters; i++) {                           \
            REP##N(DP_ZMM)                                              \
        }                                                               \
        int32_t t[N * 16];                                              \
        REP##N(FOLD_ZMM_I)                                              \
        _mm256_zeroupper();                                             \
        return sum_i32(t, N * 16);                                      \
    }

VNNI_ZMM_LOOP(8)
VNNI_ZMM_LOOP(12)
VNNI_ZMM_LOOP(16)
VNNI_ZMM_LOOP(24)

/*
 * vpdpbusd on ymm, 32 int8 multiply-adds per instruction: the EVEX form
 * of AVX-512VL + VNNI, or the VEX form of AVX-VNNI ({vex}, registers 0-15
 * only: "x") on cores that have it without AVX-512 (Alder Lake).
 */
#define DP_YMM_EVEX(k)                                                  \
    __asm__ volatile("%{evex%} vpdpbusd %[b], %[a], %[c]"               \
                     : [c] "+v"(c##k) : [a] "v"(a), [b] "v"(b));
#define DP_YMM_VEX(k)                                                   \
    __asm__ volatile("%{vex%} vpdpbusd %[b], %[a], %[c]"                \
                     : [c] "+x"(c##k) : [a] "x"(a), [b] "x"(b));

#define VNNI_YMM_LOOP(N, ENC, TARGET)                                   \
    TARGET static int64_t vnni_ymm_##ENC##_##N(int64_t iters)           \
    {                                                                   \
        const __m256i a = _mm256_set1_epi8(2), b = _mm256_set1_epi8(1); \
        REP##N(ZERO_YMM_I)                                              \
        for (int64_t i = 0; i < iters; i++) {                           \
            REP##N(DP_YMM_##ENC)                                        \
        }                                                               \
        int32_t t[N * 8];                                               \
        REP##N(FOLD_YMM_I)                                              \
        _mm256_zeroupper();                                             \
        return sum_i32(t, N * 8);                                       \
    }

VNNI_YMM_LOOP(8, EVEX, T_VNNI_YMM)
VNNI_YMM_LOOP(12, EVEX, T_VNNI_YMM)
VNNI_YMM_LOOP(8, VEX, T_AVXVNNI)
VNNI_YMM_LOOP(12, VEX, T_AVXVNNI)

/*
 * The AVX2 way to u8 x s8 -> int32, 32 multiply-adds per chain:
 *   m = vpmaddubsw(a, b)   16 x int16, saturating (4 here):
 *                          a.u8[2i] b.s8[2i] + a.u8[2i+1] b.s8[2i+1]
 *   m = vpmaddwd(m, one)   8 x int32: pairs of int16 added (8 here)
 *   c = vpaddd(c, m)
 * Two multiply uops and one add per 32 byte pairs, against one uop for
 * the same work with vpdpbusd ymm.  Only vpaddd is loop-carried.  m is
 * early-clobber: it is written before `one` is read.
 */
#define CHAIN_YMM(k)                                                    \
    {                                                                   \
        __m256i m;                                                      \
        __asm__ volatile("vpmaddubsw %[b], %[a], %[m]\n\t"              \
                         "vpmaddwd %[one], %[m], %[m]\n\t"              \
                         "vpaddd %[m], %[c], %[c]"                      \
                         : [c] "+x"(c##k), [m] "=&x"(m)                 \
                         : [a] "x"(a), [b] "x"(b), [one] "x"(one));     \
    }

#define AVX2_LOOP(N)                                                    \
    T_AVX2 static int64_t avx2_maddubs_##N(int64_t iters)               \
    {                                                                   \
        const __m256i a = _mm256_set1_epi8(2), b = _mm256_set1_epi8(1); \
        const __m256i one = _mm256_set1_epi16(1);                       \
        REP##N(ZERO_YMM_I)                                              \
        for (int64_t i = 0; i < iters; i++) {                           \
            REP##N(CHAIN_YMM)                                           \
        }                                                               \
        int32_t t[N * 8];                                               \
        REP##N(FOLD_YMM_I)                                              \
        _mm256_zeroupper();                                             \
        return sum_i32(t, N * 8);                                       \
    }

AVX2_LOOP(4)
AVX2_LOOP(8)

/* -------------------------------------------------------- fp32 loops */

/*
 * vfmadd231ps %b, %a, %c is Intel's vfmadd231ps c, a, b: c += a * b, one
 * rounding.  a = 2.0f, b = 0.5f: every lane gains 1.0 per instruction
 * until it reaches 2^24, then stays there (no overflow, no subnormals).
 */
#define ZERO_ZMM_F(k) __m512 c##k = _mm512_setzero_ps();
#define ZERO_YMM_F(k) __m256 c##k = _mm256_setzero_ps();
#define FOLD_ZMM_F(k) _mm512_storeu_ps(t + 16 * k, c##k);
#define FOLD_YMM_F(k) _mm256_storeu_ps(t + 8 * k, c##k);

#define FMA_ZMM(k)                                                      \
    __asm__ volatile("vfmadd231ps %[b], %[a], %[c]"                     \
                     : [c] "+v"(c##k) : [a] "v"(a), [b] "v"(b));
#define FMA_YMM(k)                                                      \
    __asm__ volatile("vfmadd231ps %[b], %[a], %[c]"                     \
                     : [c] "+x"(c##k) : [a] "x"(a), [b] "x"(b));

#define FMA_ZMM_LOOP(N)                                                 \
    T_AVX512F static int64_t fma_zmm_##N(int64_t iters)                 \
    {                                                                   \
        const __m512 a = _mm512_set1_ps(2.0f), b = _mm512_set1_ps(0.5f); \
        REP##N(ZERO_ZMM_F)                                              \
        for (int64_t i = 0; i < iters; i++) {                           \
            REP##N(FMA_ZMM)                                             \
        }                                                               \
        float t[N * 16];                                                \
        REP##N(FOLD_ZMM_F)                                              \
        _mm256_zeroupper();                                             \
        return (int64_t)sum_f32(t, N * 16);                             \
    }

#define FMA_YMM_LOOP(N)                                                 \
    T_FMA static int64_t fma_ymm_##N(int64_t iters)                     \
    {                                                                   \
        const __m256 a = _mm256_set1_ps(2.0f), b = _mm256_set1_ps(0.5f); \
        REP##N(ZERO_YMM_F)                                              \
        for (int64_t i = 0; i < iters; i++) {                           \
            REP##N(FMA_YMM)                                             \
        }                                                               \
        float t[N * 8];                                                 \
        REP##N(FOLD_YMM_F)                                              \
        _mm256_zeroupper();                                             \
        return (int64_t)sum_f32(t, N * 8);                              \
    }

FMA_ZMM_LOOP(8)
FMA_ZMM_LOOP(12)
FMA_ZMM_LOOP(16)
FMA_ZMM_LOOP(24)
FMA_YMM_LOOP(8)
FMA_YMM_LOOP(12)

/* --------------------------------------------------------- AMX loop */

/*
 * AMX (Sapphire Rapids and later Xeons): tdpbusd multiplies a 16 x 64
 * tile of unsigned bytes by a 64 x 16 tile of signed bytes (stored as 16
 * rows of 16 groups of 4) into a 16 x 16 tile of int32: 16384 int8
 * multiply-adds, 32768 ops, per instruction.  Four accumulator tiles
 * (tmm0-3) from two A tiles (tmm4, 5: bytes 2) and two B tiles (tmm6, 7:
 * bytes 1), the 2 x 2 blocking of a GEMM's register tile; every int32
 * lane gains 64 * 2 * 1 = 128 per instruction.  The tiles are loaded once
 * before the loop, so the loop is tdpbusd only, registers (tiles) only.
 *
 * Linux hands out the AMX register state only on request; without it
 * the first tile instruction raises SIGILL.  So the kind is supported only
 * where nmt8_amx_usable() (nmt8_amx.c: CPUID's AMX-TILE and AMX-INT8, and
 * the request granted) says so.  This loop is the int8 peak of such a
 * core, for an honest "% of peak".
 */
#if defined(__linux__)
/* the 64-byte tile configuration of ldtilecfg, palette 1 */
struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
    uint8_t reserved2[16];
};

#define TDP(c, a, b) \
    __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory");

static int64_t amx_int8_4(int64_t iters)
{
    struct amx_config cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    static const int64_t stride = 64;
    uint8_t a[16 * 64] __attribute__((aligned(64)));
    int8_t b[16 * 64] __attribute__((aligned(64)));
    int32_t t[4 * 16 * 16] __attribute__((aligned(64)));
    memset(a, 2, sizeof a);
    memset(b, 1, sizeof b);
    __asm__ volatile("ldtilecfg %0" :: "m"(cfg));
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm4" :: "r"(a), "r"(stride)
                     : "memory");
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm5" :: "r"(a), "r"(stride)
                     : "memory");
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm6" :: "r"(b), "r"(stride)
                     : "memory");
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm7" :: "r"(b), "r"(stride)
                     : "memory");
    __asm__ volatile("tilezero %%tmm0\n\ttilezero %%tmm1\n\t"
                     "tilezero %%tmm2\n\ttilezero %%tmm3" ::: "memory");
    for (int64_t i = 0; i < iters; i++) {
        TDP(0, 4, 6) TDP(1, 4, 7) TDP(2, 5, 6) TDP(3, 5, 7)
    }
    __asm__ volatile("tilestored %%tmm0, (%0,%1,1)" :: "r"(t), "r"(stride)
                     : "memory");
    __asm__ volatile("tilestored %%tmm1, (%0,%1,1)" :: "r"(t + 256),
                     "r"(stride) : "memory");
    __asm__ volatile("tilestored %%tmm2, (%0,%1,1)" :: "r"(t + 512),
                     "r"(stride) : "memory");
    __asm__ volatile("tilestored %%tmm3, (%0,%1,1)" :: "r"(t + 768),
                     "r"(stride) : "memory");
    __asm__ volatile("tilerelease" ::: "memory");
    return sum_i32(t, 4 * 16 * 16);
}
#undef TDP
#else
static int64_t amx_int8_4(int64_t iters) { (void)iters; return 0; }
#endif

/* ---------------------------------------------------------- the kinds */

typedef int64_t (*loop_fn)(int64_t iters);

/* what a kind needs of the CPU */
enum { ISA_VNNI_ZMM, ISA_VNNI_YMM, ISA_AVX2, ISA_AVX512F, ISA_FMA, ISA_AMX };

static const struct {
    loop_fn fn;                 /* the loop (EVEX form for ISA_VNNI_YMM) */
    loop_fn vex;                /* ISA_VNNI_YMM only: the AVX-VNNI form */
    int isa;
    int ops;                    /* per iteration: 2 x multiply-adds */
} KINDS[NMT8_PEAK_NUM_KINDS] = {
    [NMT8_PEAK_VNNI_ZMM_8] = {vnni_zmm_8, NULL, ISA_VNNI_ZMM, 8 * 128},
    [NMT8_PEAK_VNNI_ZMM_12] = {vnni_zmm_12, NULL, ISA_VNNI_ZMM, 12 * 128},
    [NMT8_PEAK_VNNI_ZMM_16] = {vnni_zmm_16, NULL, ISA_VNNI_ZMM, 16 * 128},
    [NMT8_PEAK_VNNI_ZMM_24] = {vnni_zmm_24, NULL, ISA_VNNI_ZMM, 24 * 128},
    [NMT8_PEAK_VNNI_YMM_8] = {vnni_ymm_EVEX_8, vnni_ymm_VEX_8, ISA_VNNI_YMM,
                              8 * 64},
    [NMT8_PEAK_VNNI_YMM_12] = {vnni_ymm_EVEX_12, vnni_ymm_VEX_12,
                               ISA_VNNI_YMM, 12 * 64},
    [NMT8_PEAK_AVX2_MADDUBS_4] = {avx2_maddubs_4, NULL, ISA_AVX2, 4 * 64},
    [NMT8_PEAK_AVX2_MADDUBS_8] = {avx2_maddubs_8, NULL, ISA_AVX2, 8 * 64},
    [NMT8_PEAK_FMA_ZMM_8] = {fma_zmm_8, NULL, ISA_AVX512F, 8 * 32},
    [NMT8_PEAK_FMA_ZMM_12] = {fma_zmm_12, NULL, ISA_AVX512F, 12 * 32},
    [NMT8_PEAK_FMA_ZMM_16] = {fma_zmm_16, NULL, ISA_AVX512F, 16 * 32},
    [NMT8_PEAK_FMA_ZMM_24] = {fma_zmm_24, NULL, ISA_AVX512F, 24 * 32},
    [NMT8_PEAK_FMA_YMM_8] = {fma_ymm_8, NULL, ISA_FMA, 8 * 16},
    [NMT8_PEAK_FMA_YMM_12] = {fma_ymm_12, NULL, ISA_FMA, 12 * 16},
    [NMT8_PEAK_AMX_INT8_4] = {amx_int8_4, NULL, ISA_AMX, 4 * 16384 * 2},
};

/* the loop of `kind` that this CPU (and OS) runs, or NULL; kind valid */
static loop_fn peak_fn(int kind)
{
    __builtin_cpu_init();
    switch (KINDS[kind].isa) {
    case ISA_VNNI_ZMM:
        return __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512vnni") ? KINDS[kind].fn : NULL;
    case ISA_VNNI_YMM:
        if (__builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512vnni"))
            return KINDS[kind].fn;
        return __builtin_cpu_supports("avxvnni") ? KINDS[kind].vex : NULL;
    case ISA_AVX2:
        return __builtin_cpu_supports("avx2") ? KINDS[kind].fn : NULL;
    case ISA_AVX512F:
        return __builtin_cpu_supports("avx512f") ? KINDS[kind].fn : NULL;
    case ISA_FMA:
        return __builtin_cpu_supports("avx")
            && __builtin_cpu_supports("fma") ? KINDS[kind].fn : NULL;
    case ISA_AMX:
        return nmt8_amx_usable() ? KINDS[kind].fn : NULL;
    default:
        return NULL;
    }
}

/* --------------------------------------------------------- read loops */

/*
 * Each read loop: the sum of the int8 bytes of `streams` slices of `len`
 * lines each, slice s = body[s * len * LINE, (s + 1) * len * LINE), read
 * in lock step one line per slice; before each line, a prefetch of the
 * line `pf` bytes on in the same slice (pf = 0: none), only while that is
 * still inside the slice.  body (streams * len * LINE,) int8, 64-byte
 * aligned.
 *
 * Bytes are summed as unsigned (x ^ 0x80 = x + 128) with vpsadbw into
 * 64-bit lanes, then 128 per byte is taken off.
 */

T_AVX512BW static int64_t read_zmm(const int8_t *body, int64_t len,
                                   int streams, int64_t pf)
{
    const int64_t stride = len * LINE, npf = prefetch_lines(len, pf);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i zero = _mm512_setzero_si512();
    __m512i acc = zero;
    int64_t i = 0;
    for (; i < npf; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++) {
            const int8_t *p = row + s * stride;
            NMT8_PREFETCH(p + pf, _MM_HINT_T0);
            const __m512i v = _mm512_load_si512((const void *)p);
            acc = _mm512_add_epi64(
                acc, _mm512_sad_epu8(_mm512_xor_si512(v, flip), zero));
        }
    }
    for (; i < len; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++) {
            const int8_t *p = row + s * stride;
            const __m512i v = _mm512_load_si512((const void *)p);
            acc = _mm512_add_epi64(
                acc, _mm512_sad_epu8(_mm512_xor_si512(v, flip), zero));
        }
    }
    return (int64_t)_mm512_reduce_add_epi64(acc) - 128 * streams * stride;
}

/* two 32-byte halves of a line, as unsigned bytes summed per 8 */
#define SAD_LINE_YMM(acc, p)                                            \
    do {                                                                \
        const __m256i v0 = _mm256_load_si256((const __m256i *)(p));     \
        const __m256i v1 = _mm256_load_si256((const __m256i *)(p) + 1); \
        acc = _mm256_add_epi64(                                         \
            acc, _mm256_sad_epu8(_mm256_xor_si256(v0, flip), zero));    \
        acc = _mm256_add_epi64(                                         \
            acc, _mm256_sad_epu8(_mm256_xor_si256(v1, flip), zero));    \
    } while (0)

T_AVX2 static int64_t read_ymm(const int8_t *body, int64_t len,
                               int streams, int64_t pf)
{
    const int64_t stride = len * LINE, npf = prefetch_lines(len, pf);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const __m256i zero = _mm256_setzero_si256();
    __m256i acc = zero;
    int64_t i = 0;
    for (; i < npf; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++) {
            const int8_t *p = row + s * stride;
            NMT8_PREFETCH(p + pf, _MM_HINT_T0);
            SAD_LINE_YMM(acc, p);
        }
    }
    for (; i < len; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++)
            SAD_LINE_YMM(acc, row + s * stride);
    }
    int64_t t[4];
    _mm256_storeu_si256((__m256i *)t, acc);
    return t[0] + t[1] + t[2] + t[3] - 128 * streams * stride;
}

/* four 16-byte quarters of a line, SSE2 (every x86-64) */
#define SAD_LINE_XMM(acc, p)                                            \
    do {                                                                \
        for (int q = 0; q < 4; q++) {                                   \
            const __m128i v = _mm_load_si128((const __m128i *)(p) + q); \
            acc = _mm_add_epi64(                                        \
                acc, _mm_sad_epu8(_mm_xor_si128(v, flip), zero));       \
        }                                                               \
    } while (0)

static int64_t read_xmm(const int8_t *body, int64_t len, int streams,
                        int64_t pf)
{
    const int64_t stride = len * LINE, npf = prefetch_lines(len, pf);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = zero;
    int64_t i = 0;
    for (; i < npf; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++) {
            const int8_t *p = row + s * stride;
            NMT8_PREFETCH(p + pf, _MM_HINT_T0);
            SAD_LINE_XMM(acc, p);
        }
    }
    for (; i < len; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++)
            SAD_LINE_XMM(acc, row + s * stride);
    }
    int64_t t[2];
    _mm_storeu_si128((__m128i *)t, acc);
    return t[0] + t[1] - 128 * streams * stride;
}

typedef int64_t (*read_fn)(const int8_t *body, int64_t len, int streams,
                           int64_t pf);

/* the widest read loop this CPU runs */
static read_fn pick_read(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw"))
        return read_zmm;
    if (__builtin_cpu_supports("avx2"))
        return read_ymm;
    return read_xmm;
}

#else /* not x86-64: no peak loops; a portable read loop */

typedef int64_t (*loop_fn)(int64_t iters);

static loop_fn peak_fn(int kind)
{
    (void)kind;
    return NULL;
}

/* as the x86 read loops, in plain C; body (streams * len * LINE,) int8 */
static int64_t read_c(const int8_t *body, int64_t len, int streams,
                      int64_t pf)
{
    const int64_t stride = len * LINE, npf = prefetch_lines(len, pf);
    int64_t acc = 0;
    for (int64_t i = 0; i < len; i++) {
        const int8_t *row = body + i * LINE;
        for (int s = 0; s < streams; s++) {
            const int8_t *p = row + s * stride;
            if (i < npf)
                __builtin_prefetch(p + pf);
            for (int j = 0; j < LINE; j++)
                acc += p[j];
        }
    }
    return acc;
}

typedef int64_t (*read_fn)(const int8_t *body, int64_t len, int streams,
                           int64_t pf);

static read_fn pick_read(void)
{
    return read_c;
}

#endif

/* ------------------------------------------------------------ entries */

/*
 * checksum (1,) int64, output.  No other buffers: see nmt8_peak.h.
 */
int nmt8_peak_loop(int64_t *checksum, int kind, int64_t iters)
{
    if (checksum == NULL || kind < 0 || kind >= NMT8_PEAK_NUM_KINDS
        || iters < 0)
        return NMT8_PEAK_EBADARG;
    const loop_fn fn = peak_fn(kind);
    if (fn == NULL)
        return NMT8_PEAK_EUNSUPPORTED;
#if defined(__x86_64__)
    *checksum = iters > 0 ? fn(iters) : 0;
    return KINDS[kind].ops;
#else
    return NMT8_PEAK_EUNSUPPORTED;
#endif
}

/*
 * checksum (1,) int64, output; buf (nbytes,) int8, any alignment.
 * Layout: head (up to 63 bytes, to the first 64-byte boundary) | streams
 * slices of len lines | the rest (fewer than `streams` lines + a tail).
 */
int nmt8_stream_read(int64_t *checksum, const int8_t *buf, int64_t nbytes,
                     int streams, int64_t prefetch_bytes)
{
    if (checksum == NULL || nbytes < 0 || (buf == NULL && nbytes > 0)
        || streams < 1 || streams > NMT8_PEAK_MAX_STREAMS
        || prefetch_bytes < 0)
        return NMT8_PEAK_EBADARG;
    if (nbytes == 0) {
        *checksum = 0;
        return NMT8_PEAK_OK;
    }
    int64_t head = (int64_t)((LINE - ((uintptr_t)buf & (LINE - 1)))
                             & (LINE - 1));
    if (head > nbytes)
        head = nbytes;
    const int8_t *body = buf + head;
    const int64_t len = (nbytes - head) / LINE / streams;
    const int64_t done = len * streams * LINE;
    int64_t s = sum_bytes(buf, head);
    if (len > 0)
        s += pick_read()(body, len, streams, prefetch_bytes);
    s += sum_bytes(body + done, nbytes - head - done);
    *checksum = s;
    return NMT8_PEAK_OK;
}
