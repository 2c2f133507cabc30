"""The report ``nmt8 reproduce`` writes: ``report`` (the whole), ``speed``,
``quality``, ``beyond`` (its sections), ``markdown`` (tables), ``charts``
(its figures).
"""
