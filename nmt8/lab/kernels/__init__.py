"""The kernels measured: ``bench`` (``nmt8 bench kernels``),
``interleaved`` (every product timed in turn), ``sweep`` (naive and blocked
kernels against P), ``machine`` (the CPU, ISA flags and libraries of a run).
"""
