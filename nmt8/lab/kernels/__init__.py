"""The kernels measured: ``bench`` (``nmt8 bench kernels``),
``interleaved`` (every product timed in turn), ``sweep`` (naive and blocked
kernels against P, judged against the true peaks of ``nmt8.native.peak``),
``tune`` (``nmt8 tune``: the kernels' run-time parameters, measured and
cached per CPU), ``machine`` (the CPU, ISA flags and libraries of a run).
"""
