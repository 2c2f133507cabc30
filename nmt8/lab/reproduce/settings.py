"""How much of everything ``nmt8 reproduce`` runs: :class:`Settings`.

``Settings()`` is the full run (the paper's median of 9 runs, the whole
test set); ``Settings.quick()`` the 3-minute version. Saved in
``results.json`` with the results.

Does not: run anything (``nmt8.lab.reproduce.run``).
"""

from __future__ import annotations

import dataclasses

from nmt8.lab.reproduce.systems import (
    NMT8_FP32,
    NMT8_INT4,
    NMT8_INT8,
    NMT8_INT16,
    System,
)


@dataclasses.dataclass
class Settings:
    """How much of everything to run (``quick()`` is the 3-minute version)."""

    speed_sentences: int = 15  # sentences per speed run
    runs: int = 9  # "the median of 9 runs" (Section 4.1)
    beams: tuple[int, ...] = (1, 5)
    sweep_beams: tuple[int, ...] = (1, 2, 3, 5, 8)
    sweep_sentences: int = 5
    sweep_runs: int = 3
    throughput_runs: int = 3
    jobs: int | None = None  # workers for the multi-core run (None: all cores)
    profile_sentences: int = 5
    quality_sentences: int | None = None  # None: the whole test set
    examples: int = 5  # differing sentences shown, Tables 8/9
    example_runs: int = 10  # "sentence times are average of 10 runs"
    flip_sentences: int | None = None  # None: every differing sentence
    paper_size: tuple[int, int, int, int] = (620, 1000, 40000, 40000)
    tgt_ratio: float = 1.1  # target steps per source word, random model
    peer: bool = True  # the PyTorch comparison, when torch is installed
    seed: int = 1
    # batch decoding (the paper's future work, Section 7)
    batch: bool = True  # run the batch decoding section at all
    batch_sizes: tuple[int, ...] = (1, 4, 16, 32, 64)  # the batch-decoding targets: 32
    batch_sentences: int = 64  # sentences per batch-size run
    batch_runs: int = 3  # interleaved runs: min / median / max
    invariance_batch: int = 32  # compared with batch 1
    dask: bool = True  # LocalCluster scaling, when Dask is installed
    dask_workers: tuple[int, ...] = (1, 2)  # single-threaded worker processes
    dask_lines: int = 3000  # lines of our own sentences in the generated file
    dask_runs: int = 3
    kernel_P: tuple[int, ...] = (1, 5, 20, 80, 320)  # beam 5 x batch 1..64
    kernel_repeats: int = 11
    # the kernel targets: numpy fp32, the blocked int8 kernel and
    # FBGEMM on the paper's shapes (in, out) at these P (() skips them)
    kernel_target_P: tuple[int, ...] = (64, 256)
    kernel_target_shapes: tuple[tuple[int, int], ...] = (
        (1000, 3000), (2000, 3000), (620, 40000))
    # resident memory, each system in a fresh process (nmt8.lab.speed.memory.measure)
    memory: bool = True
    memory_systems: tuple[System, ...] | None = None  # None: every timed rung
    # Table 6 for the shipped models of the other direction (En-De when the
    # model is De-En), and their 2-model ensemble when a second is shipped
    directions: bool = True
    # training quantized models (the paper's future work, issue 23): the
    # int4 group size chosen on val among these, then int8/int4 after
    # training and after quantization-aware training against fp32 on test,
    # with a paired bootstrap of this many resamples
    qat: bool = True
    int4_groups: tuple[str, ...] = ("group32", "group64")
    val_sentences: int | None = None  # None: the whole val split
    bootstrap_samples: int = 1000

    @classmethod
    def quick(cls, **kw) -> Settings:
        base = {"speed_sentences": 4, "runs": 3, "sweep_beams": (1, 5),
                "sweep_sentences": 2, "sweep_runs": 1, "throughput_runs": 1,
                "profile_sentences": 2, "quality_sentences": 100, "examples": 3,
                "example_runs": 3, "flip_sentences": 20,
                "batch_sizes": (1, 4, 16), "batch_sentences": 16,
                "batch_runs": 1, "invariance_batch": 16, "dask_lines": 200,
                "dask_runs": 1, "kernel_P": (1, 5, 20), "kernel_repeats": 3,
                "kernel_target_P": (64,),
                "memory_systems": (NMT8_FP32, NMT8_INT16, NMT8_INT8, NMT8_INT4),
                "val_sentences": 100, "bootstrap_samples": 200}
        return cls(**{**base, **kw})

