/*
 * nmt8_peak.h -- the machine's own limits on one core: the "true peak"
 * yardstick against which the kernels of Section 3 of Quinn & Ballesteros
 * 2018 ("Pieces of Eight: 8-bit Neural Machine Translation") are judged,
 * instead of against each other.
 *
 *   - nmt8_peak_loop: a register-only throughput loop of one multiply-add
 *     instruction (int8 vpdpbusd, the AVX2 vpmaddubsw/vpmaddwd/vpaddd
 *     chain, fp32 vfmadd231ps), with enough independent accumulators to
 *     fill every port that runs it.  No memory traffic in the loop.
 *   - nmt8_stream_read: streaming reads of a caller's buffer, one or
 *     several sequential streams, with or without software prefetch.
 *     Over a buffer far larger than the last-level cache (say 512 MB),
 *     the best over streams and prefetch distances is the core's true
 *     read bandwidth, the bound of every kernel that reads its weights
 *     from memory once.
 *
 * Nothing here times itself: the caller times a call (time.perf_counter)
 * and divides.  A loop of `iters` iterations does iters * (return value)
 * ops; a stream read reads nbytes bytes.
 *
 * Ops are counted as in the rest of nmt8: 2 per multiply-add (int8
 * multiply-add or fp32 FMA).  One zmm vpdpbusd = 64 int8 multiply-adds =
 * 128 ops; one ymm vpdpbusd or one AVX2 chain (32 byte pairs) = 64 ops;
 * one zmm vfmadd231ps = 32 flops, one ymm vfmadd231ps = 16.
 *
 * Read by the cffi build like the other public headers: plain declarations
 * and "#define NAME <integer>" only.  Standalone: its constants do not
 * collide with nmt8_kernels.h.
 */
#ifndef NMT8_PEAK_H
#define NMT8_PEAK_H

#include <stdint.h>

/*
 * Return codes, negative so that they cannot be mistaken for an op count:
 * the negated codes of nmt8_kernels.h.
 */
#define NMT8_PEAK_OK 0
#define NMT8_PEAK_EUNSUPPORTED -1
#define NMT8_PEAK_EBADARG -4

/*
 * Loop kinds for nmt8_peak_loop.  The suffix is the number of independent
 * accumulators (dependency chains).  A loop fills the ports when the
 * accumulators >= latency x instructions per cycle of its instruction:
 *
 *   vpdpbusd zmm   Ice Lake / Sapphire Rapids Xeons: latency 5, 2 per
 *                  cycle (p0+p1 fused, and p5's second 512-bit unit)
 *                                                           -> >= 10
 *                  (client cores without the p5 unit: 1 per cycle, >= 5)
 *                  Zen 4: two 256-bit halves, latency 4, 1 zmm per
 *                  cycle                                    -> >= 4
 *   vpdpbusd ymm   Ice Lake: latency 5, 2 per cycle (p0, p1) -> >= 10
 *                  Zen 4: latency 4, 2 per cycle            -> >= 8
 *   vfmadd231ps    latency 4 everywhere listed; 2 per cycle for ymm
 *                  (-> 8), and for zmm on cores with two 512-bit FMA
 *                  units (Skylake-SP, Ice Lake-SP: -> 8); 1 zmm per
 *                  cycle on Zen 4 and client Ice Lake        -> >= 4
 *   AVX2 chain     the loop-carried part is vpaddd (latency 1); the
 *                  bound is the two multiply uops per 32 byte pairs.
 *
 * So 12 accumulators cover every core above with room for the scheduler;
 * 8 does not cover Ice Lake's ymm vpdpbusd (10).  8/16/24 are there to
 * show the plateau.  ymm kinds stop at 12 because the VEX encodings (AVX2,
 * FMA3, AVX-VNNI) reach only 16 registers: 12 accumulators + operands.
 *
 * Measured on a Zen 4 EPYC (one core, 3.65 GHz): latency 4 for vpdpbusd
 * and vfmadd231ps, ymm and zmm; zmm kinds at 1 instruction per cycle from
 * 8 accumulators on (vpdpbusd 128 ops/cycle, FMA 32 flops/cycle); ymm
 * kinds at 2 per cycle with 12, but only ~93% with 8 (exactly latency x
 * throughput, no slack); the AVX2 chain at 1 per cycle (64 ops/cycle),
 * half of vpdpbusd, from 4 chains on.  Use the _12 kinds.
 *
 * Measured on a Sapphire Rapids-class Xeon (KVM, one core, busy sibling):
 * vpdpbusd zmm 2 per cycle: 885 GOP/s with 16 accumulators, 867 with 12,
 * 624 with 8 (short of latency 5 x 2); vfmadd231ps zmm 215 GFLOP/s, 2 per
 * cycle from 12 on.
 */
/* vpdpbusd zmm (AVX-512 VNNI): 128 ops per accumulator per iteration */
#define NMT8_PEAK_VNNI_ZMM_8 0
#define NMT8_PEAK_VNNI_ZMM_12 1
#define NMT8_PEAK_VNNI_ZMM_16 2
#define NMT8_PEAK_VNNI_ZMM_24 3
/* vpdpbusd ymm, 64 ops: EVEX (AVX-512VL + VNNI), else {vex} (AVX-VNNI) */
#define NMT8_PEAK_VNNI_YMM_8 4
#define NMT8_PEAK_VNNI_YMM_12 5
/* AVX2 vpmaddubsw + vpmaddwd + vpaddd chain on ymm, 64 ops */
#define NMT8_PEAK_AVX2_MADDUBS_4 6
#define NMT8_PEAK_AVX2_MADDUBS_8 7
/* vfmadd231ps zmm (AVX-512F), 32 flops */
#define NMT8_PEAK_FMA_ZMM_8 8
#define NMT8_PEAK_FMA_ZMM_12 9
#define NMT8_PEAK_FMA_ZMM_16 10
#define NMT8_PEAK_FMA_ZMM_24 11
/* vfmadd231ps ymm (FMA3), 16 flops */
#define NMT8_PEAK_FMA_YMM_8 12
#define NMT8_PEAK_FMA_YMM_12 13
/* AMX tdpbusd on 4 accumulator tiles (16 x 16 int32 each), 4 x 32768 ops;
 * supported where CPUID has AMX-INT8 and Linux grants the tile state */
#define NMT8_PEAK_AMX_INT8_4 14
#define NMT8_PEAK_NUM_KINDS 15

/* the most streams nmt8_stream_read accepts */
#define NMT8_PEAK_MAX_STREAMS 64

/*
 * Run loop `kind` for `iters` iterations, in registers only.
 *   checksum  (1,) int64, output: the sum of every accumulator's lanes at
 *             the end (int lanes wrap at 32 bits; fp32 lanes are summed
 *             as doubles and truncated), so the work cannot be skipped
 *   kind      one of NMT8_PEAK_*_<n> above
 *   iters     >= 0; 0 runs nothing and only reports the op count
 * Returns the ops per iteration (> 0), NMT8_PEAK_EUNSUPPORTED when this
 * CPU (and OS) cannot run the kind, NMT8_PEAK_EBADARG for an unknown kind,
 * a NULL checksum or iters < 0.
 *
 * Every int8 kind multiplies bytes 2 (unsigned) by bytes 1 (signed), so
 * each int32 lane grows by 8 per iteration: checksum = n_acc * lanes *
 * (int32)(8 * iters), each lane wrapping at 32 bits.  Every fp32 kind adds
 * 2.0f * 0.5f per lane per iteration, which stops growing at 2^24:
 * checksum = n_acc * lanes * min(iters, 2^24).
 */
int nmt8_peak_loop(int64_t *checksum, int kind, int64_t iters);

/*
 * Read all of buf once, as `streams` sequential streams, each prefetching
 * `prefetch_bytes` ahead of itself.
 *   checksum        (1,) int64, output: the sum of buf's bytes as int8
 *                   (exact, the same for every streams / prefetch_bytes)
 *   buf             (nbytes,) int8, any alignment
 *   nbytes          >= 0
 *   streams         1 .. NMT8_PEAK_MAX_STREAMS: the 64-byte-aligned part
 *                   of buf is cut into `streams` equal contiguous slices,
 *                   read in lock step, one 64-byte line from each in turn
 *                   (the few bytes left over are read after them)
 *   prefetch_bytes  >= 0: each line read is preceded by a prefetch (T0) of
 *                   the line prefetch_bytes further on in its slice (never
 *                   past the slice); 0: no software prefetch
 * Returns NMT8_PEAK_OK, or NMT8_PEAK_EBADARG for a NULL checksum, a NULL
 * buf with nbytes > 0, or an argument out of range.  Uses AVX-512BW, AVX2
 * or SSE2, whichever this CPU has first.
 *
 * For the core's true bandwidth give a buffer far larger than the last
 * level cache, backed by huge pages (madvise MADV_HUGEPAGE) if possible,
 * and take the best over streams 1, 2, 4, 8 and prefetch 0 .. 4096.  Give
 * it a size that is not a large power of two: slices that start a power
 * of two apart can fall on the same DRAM banks (on a Zen 4 EPYC, 2
 * streams over 512 MB read at 17-21 GB/s, over 509 MB at 31-33 GB/s).
 */
int nmt8_stream_read(int64_t *checksum, const int8_t *buf, int64_t nbytes,
                     int streams, int64_t prefetch_bytes);

#endif /* NMT8_PEAK_H */
