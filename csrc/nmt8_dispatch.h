/*
 * nmt8_dispatch.h -- the one choice of instruction set for every kernel
 * of nmt8: the products of Section 3 of Quinn & Ballesteros 2018 (int8,
 * and the fp32, int16 and int4 rungs beside it) and the work beside them
 * (attention, the GRU's gates, softmax, selection).
 *
 * The CPU is asked once, when the library is loaded (cpuid, through
 * __builtin_cpu_supports), what it runs; from that answer one table is
 * filled, the process's choice: for each family of kernels, the kernel
 * that "auto" runs.  Every entry point takes a kernel id (or, for the
 * kernels beside the products, an instruction set), where
 * NMT8_KERNEL_AUTO (NMT8_ISA_AUTO) means the table's choice, so "auto"
 * costs one read of the table per call, never a question to the CPU.
 * The int8 product's table holds two kernels: a naive one for few rows
 * of X (the decoding case) and a blocked one (gemm, gemm_avx2) from
 * int8_rows rows of X on, a crossover measured, not guessed.
 *
 * Tests and benchmarks force another choice for the whole process with
 * nmt8_set_dispatch (a narrower instruction set, or one int8 kernel at
 * every P), or one kernel for one call by passing its id.
 *
 * Read by nmt8/native/build.py into cdef, like nmt8_kernels.h: plain
 * declarations and "#define NAME <integer>" only.  The kernel ids are
 * those of nmt8_kernels.h (int8), nmt8_fp32.h, nmt8_int16.h, nmt8_int4.h.
 */
#ifndef NMT8_DISPATCH_H
#define NMT8_DISPATCH_H

#include <stdint.h>

/*
 * The instruction sets, narrowest first; each includes the ones before.
 *   portable  plain C (x86-64's SSE2 at most)
 *   sse4      SSSE3 and SSE4.1
 *   avx2      AVX2 and FMA3
 *   avx512    AVX-512F on top
 *   vnni      AVX-512 F, BW, VL and VNNI on top
 *   amx       AMX-TILE and AMX-INT8 on top, with the OS's permission to
 *             use the tiles (Linux: asked once, at load)
 * NMT8_ISA_AUTO: the process's choice (at load: the widest this CPU runs).
 * The kernels beside the products have three paths, portable, avx2 and
 * avx512: sse4 runs their portable path, vnni and amx their avx512 one.
 */
#define NMT8_ISA_AUTO 0
#define NMT8_ISA_PORTABLE 1
#define NMT8_ISA_SSE4 2
#define NMT8_ISA_AVX2 3
#define NMT8_ISA_AVX512 4
#define NMT8_ISA_VNNI 5
#define NMT8_ISA_AMX 6
#define NMT8_NUM_ISAS 7

/* a kernel argument: the kernel the process's table chooses */
#define NMT8_KERNEL_AUTO -1

/* the families of kernels, each with its own kernel ids */
#define NMT8_FAMILY_INT8 0
#define NMT8_FAMILY_FP32 1
#define NMT8_FAMILY_INT16 2
#define NMT8_FAMILY_INT4 3
#define NMT8_FAMILY_FUSED 4
#define NMT8_NUM_FAMILIES 5

/*
 * The int8 product's crossovers, from which the blocked kernel replaces
 * the naive one of its instruction set: gemm rather than vnni from
 * NMT8_GEMM_MIN_ROWS rows of X on, measured by
 *     nmt8 bench kernels --sweep-rows \
 *         --P 1,2,3,4,5,6,8,12,16,24,32,64,128,256,512,1024 --repeats 7
 * (from P = 3 on gemm is faster on the geometric mean of 1000x3000,
 * 2000x3000 and 620x40000 and within 5% or faster on each; at P = 1, 2
 * vnni is 2-8% faster on the cached shapes; AMD EPYC (Zen 4), one core,
 * 2026-11-30); gemm_avx2 rather than avx2 (CPUs without VNNI) from
 * NMT8_GEMM_AVX2_MIN_ROWS rows on, by the same sweep with
 * --kernels avx2,gemm_avx2 (from P = 2 on gemm_avx2 is faster on the
 * geometric mean and within 5% or faster on each shape; at P = 1 avx2 is
 * 8-17% faster on the cached 1000x3000 and 2000x3000).
 */
#define NMT8_GEMM_MIN_ROWS 3
#define NMT8_GEMM_AVX2_MIN_ROWS 2
/*
 * amx rather than vnni / gemm from NMT8_AMX_MIN_ROWS rows on: the C calls
 * alone, interleaved, thread CPU time, on 1000x3000, 2000x3000 and
 * 620x40000 (a Sapphire Rapids-class Xeon, KVM, 2026-12-06): amx / gemm
 * 0.80-0.95 at P = 2-8, 1.04-1.06 at P = 12, 1.42-1.54 at P = 16.
 */
#define NMT8_AMX_MIN_ROWS 12

/*
 * The process's choice.
 *   isa          the instruction set it was made for (NMT8_ISA_*)
 *   int8         the int8 kernel (NMT8_KERNEL_*) for P < int8_rows
 *   int8_blocked the int8 kernel for P >= int8_rows (int8 itself when
 *                there is no blocked kernel: then int8_rows is 0)
 *   int8_rows    the crossover, 0 for none
 *   fp32, int16, int4   the kernel of each rung (NMT8_F32_*, NMT8_I16_*,
 *                NMT8_INT4_*)
 *   fused        the path of the kernels beside the products:
 *                NMT8_ISA_PORTABLE, NMT8_ISA_AVX2 or NMT8_ISA_AVX512
 */
typedef struct {
    int isa;
    int int8;
    int int8_blocked;
    int64_t int8_rows;
    int fp32;
    int int16;
    int int4;
    int fused;
} nmt8_dispatch;

/* 1 when this CPU (and OS) runs instruction set isa (not AUTO), else 0 */
int nmt8_isa_supported(int isa);

/* 1 when this CPU runs kernel id `kernel` of `family`, else 0 */
int nmt8_supports(int family, int kernel);

/*
 * d = the table for instruction set isa (NMT8_ISA_AUTO: the widest this
 * CPU runs): each family's fastest kernel within isa.  Returns NMT8_OK,
 * or NMT8_EUNSUPPORTED (isa unknown or not runnable here; d unchanged).
 */
int nmt8_dispatch_for(nmt8_dispatch *d, int isa);

/* d = the process's current table */
void nmt8_get_dispatch(nmt8_dispatch *d);

/*
 * Make d the process's table (NULL: the one chosen at load, for the
 * widest instruction set this CPU runs).  Returns NMT8_EBADARG for a
 * table with an unknown field, NMT8_EUNSUPPORTED for a kernel this CPU
 * cannot run, and then nothing changes.  Process-wide: set it before
 * calling kernels from several threads, not while they run.
 */
int nmt8_set_dispatch(const nmt8_dispatch *d);

/*
 * The kernel id a call of `family` with P rows runs: `kernel` itself,
 * or the table's choice for NMT8_KERNEL_AUTO (for int8: the naive or the
 * blocked kernel, by P; for the fused family kernel is an isa, and the
 * answer one of its three paths).  -1 when that kernel is unknown or not
 * runnable here.  What every entry point calls first.
 */
int nmt8_resolve(int family, int kernel, int64_t P);

#endif /* NMT8_DISPATCH_H */
