/*
 * nmt8_dispatch.c -- the one run-time choice of kernels (nmt8_dispatch.h):
 * what this CPU runs, asked once at load, and the process's table.
 */
#include <stddef.h>

#include "nmt8_amx.h"
#include "nmt8_dispatch.h"
#include "nmt8_fp32.h"
#include "nmt8_int16.h"
#include "nmt8_int4.h"
#include "nmt8_kernels.h"

/* the CPU features the kernels need, one bit each */
enum {
    F_SSSE3 = 1 << 0,
    F_SSE41 = 1 << 1,
    F_AVX2 = 1 << 2,
    F_FMA = 1 << 3,
    F_AVX512F = 1 << 4,
    F_AVX512BW = 1 << 5,
    F_AVX512VL = 1 << 6,
    F_AVX512VNNI = 1 << 7,
    F_AMX = 1 << 8,             /* AMX-TILE + AMX-INT8, tiles granted */
    F_NONE = 1 << 30,           /* no CPU has it: a kernel that does not exist */
};

#define F_SSE4 (F_SSSE3 | F_SSE41)
#define F_AVX2FMA (F_AVX2 | F_FMA)
#define F_VNNI (F_AVX512F | F_AVX512BW | F_AVX512VL | F_AVX512VNNI)

/* what each instruction set needs, by NMT8_ISA_* */
static const unsigned ISA_NEEDS[NMT8_NUM_ISAS] = {
    [NMT8_ISA_AUTO] = F_NONE,
    [NMT8_ISA_PORTABLE] = 0,
    [NMT8_ISA_SSE4] = F_SSE4,
    [NMT8_ISA_AVX2] = F_SSE4 | F_AVX2FMA,
    [NMT8_ISA_AVX512] = F_SSE4 | F_AVX2FMA | F_AVX512F,
    [NMT8_ISA_VNNI] = F_SSE4 | F_AVX2FMA | F_VNNI,
    [NMT8_ISA_AMX] = F_SSE4 | F_AVX2FMA | F_VNNI | F_AMX,
};

/* what each kernel needs, by family and id (as each kernel file says) */
#define MAX_IDS 8
_Static_assert(NMT8_NUM_KERNELS <= MAX_IDS && NMT8_F32_NUM_KERNELS <= MAX_IDS
               && NMT8_I16_NUM_KERNELS <= MAX_IDS
               && NMT8_INT4_NUM_KERNELS <= MAX_IDS && NMT8_NUM_ISAS <= MAX_IDS,
               "NEEDS has a row of MAX_IDS kernels per family");
static const int NUM_IDS[NMT8_NUM_FAMILIES] = {
    [NMT8_FAMILY_INT8] = NMT8_NUM_KERNELS,
    [NMT8_FAMILY_FP32] = NMT8_F32_NUM_KERNELS,
    [NMT8_FAMILY_INT16] = NMT8_I16_NUM_KERNELS,
    [NMT8_FAMILY_INT4] = NMT8_INT4_NUM_KERNELS,
    [NMT8_FAMILY_FUSED] = NMT8_NUM_ISAS,
};

static const unsigned NEEDS[NMT8_NUM_FAMILIES][MAX_IDS] = {
    [NMT8_FAMILY_INT8] = {
        [NMT8_KERNEL_REF] = 0,
        [NMT8_KERNEL_SSE4] = F_SSE4,
        [NMT8_KERNEL_AVX2] = F_AVX2,
        [NMT8_KERNEL_VNNI] = F_VNNI,
        [NMT8_KERNEL_MADDUBS] = F_AVX2,
        [NMT8_KERNEL_GEMM] = F_VNNI,
        [NMT8_KERNEL_GEMM_AVX2] = F_AVX2,
        [NMT8_KERNEL_AMX] = F_VNNI | F_AMX,
    },
    [NMT8_FAMILY_FP32] = {
        [NMT8_F32_REF] = 0,
        [NMT8_F32_AVX2] = F_AVX2FMA,
        [NMT8_F32_AVX512] = F_AVX512F,
    },
    [NMT8_FAMILY_INT16] = {
        [NMT8_I16_REF] = 0,
        [NMT8_I16_SSE4] = F_SSE41,
        [NMT8_I16_AVX2] = F_AVX2,
        [NMT8_I16_VNNI] = F_AVX512F | F_AVX512BW | F_AVX512VNNI,
    },
    [NMT8_FAMILY_INT4] = {
        [NMT8_INT4_REF] = 0,
        [1] = F_NONE,                   /* no sse4 kernel */
        [NMT8_INT4_AVX2] = F_AVX2,
        [NMT8_INT4_VNNI] = F_VNNI,
    },
    [NMT8_FAMILY_FUSED] = {             /* by instruction set: the 3 paths */
        [NMT8_ISA_AUTO] = F_NONE,
        [NMT8_ISA_PORTABLE] = 0,
        [NMT8_ISA_SSE4] = F_SSE4,
        [NMT8_ISA_AVX2] = F_AVX2FMA,
        [NMT8_ISA_AVX512] = F_AVX512F,
        [NMT8_ISA_VNNI] = F_VNNI,
        [NMT8_ISA_AMX] = F_VNNI | F_AMX,
    },
};

/*
 * Each family's kernel for each instruction set (the fastest within it):
 * { int8, int8_blocked, int8_rows, fp32, int16, int4, fused }.
 */
static const nmt8_dispatch TABLES[NMT8_NUM_ISAS] = {
    [NMT8_ISA_PORTABLE] = {NMT8_ISA_PORTABLE, NMT8_KERNEL_REF,
                           NMT8_KERNEL_REF, 0, NMT8_F32_REF, NMT8_I16_REF,
                           NMT8_INT4_REF, NMT8_ISA_PORTABLE},
    [NMT8_ISA_SSE4] = {NMT8_ISA_SSE4, NMT8_KERNEL_SSE4, NMT8_KERNEL_SSE4, 0,
                       NMT8_F32_REF, NMT8_I16_SSE4, NMT8_INT4_REF,
                       NMT8_ISA_PORTABLE},
    [NMT8_ISA_AVX2] = {NMT8_ISA_AVX2, NMT8_KERNEL_AVX2,
                       NMT8_KERNEL_GEMM_AVX2, NMT8_GEMM_AVX2_MIN_ROWS,
                       NMT8_F32_AVX2, NMT8_I16_AVX2, NMT8_INT4_AVX2,
                       NMT8_ISA_AVX2},
    [NMT8_ISA_AVX512] = {NMT8_ISA_AVX512, NMT8_KERNEL_AVX2,
                         NMT8_KERNEL_GEMM_AVX2, NMT8_GEMM_AVX2_MIN_ROWS,
                         NMT8_F32_AVX512, NMT8_I16_AVX2, NMT8_INT4_AVX2,
                         NMT8_ISA_AVX512},
    [NMT8_ISA_VNNI] = {NMT8_ISA_VNNI, NMT8_KERNEL_VNNI, NMT8_KERNEL_GEMM,
                       NMT8_GEMM_MIN_ROWS, NMT8_F32_AVX512, NMT8_I16_VNNI,
                       NMT8_INT4_VNNI, NMT8_ISA_AVX512},
    [NMT8_ISA_AMX] = {NMT8_ISA_AMX, NMT8_KERNEL_VNNI, NMT8_KERNEL_AMX,
                      NMT8_AMX_MIN_ROWS, NMT8_F32_AVX512, NMT8_I16_VNNI,
                      NMT8_INT4_VNNI, NMT8_ISA_AVX512},
};

/* the features of this CPU, and the table chosen for them, set at load */
static unsigned cpu_features;
static nmt8_dispatch loaded = {NMT8_ISA_PORTABLE, NMT8_KERNEL_REF,
                               NMT8_KERNEL_REF, 0, NMT8_F32_REF,
                               NMT8_I16_REF, NMT8_INT4_REF,
                               NMT8_ISA_PORTABLE};
/* the process's table: `loaded`, unless nmt8_set_dispatch changed it */
static nmt8_dispatch current = {NMT8_ISA_PORTABLE, NMT8_KERNEL_REF,
                                NMT8_KERNEL_REF, 0, NMT8_F32_REF,
                                NMT8_I16_REF, NMT8_INT4_REF,
                                NMT8_ISA_PORTABLE};

static int has(unsigned needs)
{
    return (needs & ~cpu_features) == 0;
}

int nmt8_isa_supported(int isa)
{
    return isa > NMT8_ISA_AUTO && isa < NMT8_NUM_ISAS && has(ISA_NEEDS[isa]);
}

int nmt8_supports(int family, int kernel)
{
    return family >= 0 && family < NMT8_NUM_FAMILIES && kernel >= 0
        && kernel < NUM_IDS[family] && has(NEEDS[family][kernel]);
}

/* the widest instruction set this CPU runs */
static int widest(void)
{
    int isa = NMT8_ISA_PORTABLE;
    for (int i = NMT8_ISA_PORTABLE; i < NMT8_NUM_ISAS; i++)
        if (nmt8_isa_supported(i))
            isa = i;
    return isa;
}

#if defined(__x86_64__) && defined(__GNUC__)

/* the one question to the CPU, asked once when the library is loaded */
__attribute__((constructor)) static void dispatch_init(void)
{
    __builtin_cpu_init();       /* needed in a constructor, says gcc */
    unsigned f = 0;
    f |= __builtin_cpu_supports("ssse3") ? F_SSSE3 : 0;
    f |= __builtin_cpu_supports("sse4.1") ? F_SSE41 : 0;
    f |= __builtin_cpu_supports("avx2") ? F_AVX2 : 0;
    f |= __builtin_cpu_supports("fma") ? F_FMA : 0;
    f |= __builtin_cpu_supports("avx512f") ? F_AVX512F : 0;
    f |= __builtin_cpu_supports("avx512bw") ? F_AVX512BW : 0;
    f |= __builtin_cpu_supports("avx512vl") ? F_AVX512VL : 0;
    f |= __builtin_cpu_supports("avx512vnni") ? F_AVX512VNNI : 0;
    f |= nmt8_amx_usable() ? F_AMX : 0;
    cpu_features = f;
    loaded = current = TABLES[widest()];
}

#endif /* else no run-time detection: the portable kernels only */

int nmt8_dispatch_for(nmt8_dispatch *d, int isa)
{
    if (d == NULL)
        return NMT8_EBADARG;
    if (isa == NMT8_ISA_AUTO) {
        *d = loaded;
        return NMT8_OK;
    }
    if (!nmt8_isa_supported(isa))
        return NMT8_EUNSUPPORTED;
    *d = TABLES[isa];
    return NMT8_OK;
}

void nmt8_get_dispatch(nmt8_dispatch *d)
{
    if (d != NULL)
        *d = current;
}

/* the three paths of the kernels beside the products */
static int fused_path(int isa)
{
    return isa == NMT8_ISA_PORTABLE || isa == NMT8_ISA_AVX2
        || isa == NMT8_ISA_AVX512;
}

int nmt8_set_dispatch(const nmt8_dispatch *d)
{
    if (d == NULL) {
        current = loaded;
        return NMT8_OK;
    }
    if (d->isa <= NMT8_ISA_AUTO || d->isa >= NMT8_NUM_ISAS
        || d->int8 < 0 || d->int8 >= NMT8_NUM_KERNELS
        || d->int8_blocked < 0 || d->int8_blocked >= NMT8_NUM_KERNELS
        || d->int8_rows < 0
        || d->fp32 < 0 || d->fp32 >= NMT8_F32_NUM_KERNELS
        || d->int16 < 0 || d->int16 >= NMT8_I16_NUM_KERNELS
        || d->int4 < 0 || d->int4 >= NMT8_INT4_NUM_KERNELS
        || !fused_path(d->fused))
        return NMT8_EBADARG;
    if (!nmt8_isa_supported(d->isa)
        || !nmt8_supports(NMT8_FAMILY_INT8, d->int8)
        || !nmt8_supports(NMT8_FAMILY_INT8, d->int8_blocked)
        || !nmt8_supports(NMT8_FAMILY_FP32, d->fp32)
        || !nmt8_supports(NMT8_FAMILY_INT16, d->int16)
        || !nmt8_supports(NMT8_FAMILY_INT4, d->int4)
        || !nmt8_supports(NMT8_FAMILY_FUSED, d->fused))
        return NMT8_EUNSUPPORTED;
    current = *d;
    return NMT8_OK;
}

int nmt8_resolve(int family, int kernel, int64_t P)
{
    if (family == NMT8_FAMILY_FUSED) {
        if (kernel == NMT8_ISA_AUTO)
            return current.fused;
        if (!nmt8_supports(NMT8_FAMILY_FUSED, kernel))
            return -1;
        return kernel == NMT8_ISA_SSE4   ? NMT8_ISA_PORTABLE
             : kernel == NMT8_ISA_VNNI || kernel == NMT8_ISA_AMX
                                       ? NMT8_ISA_AVX512
                                       : kernel;
    }
    if (kernel == NMT8_KERNEL_AUTO) {
        switch (family) {
        case NMT8_FAMILY_INT8:
            return current.int8_rows > 0 && P >= current.int8_rows
                ? current.int8_blocked : current.int8;
        case NMT8_FAMILY_FP32:
            return current.fp32;
        case NMT8_FAMILY_INT16:
            return current.int16;
        case NMT8_FAMILY_INT4:
            return current.int4;
        default:
            return -1;
        }
    }
    return nmt8_supports(family, kernel) ? kernel : -1;
}
