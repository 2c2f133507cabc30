"""The course's build-it exercises: the learner writes a piece of the paper
(a GRU step, attention, a beam step, BLEU's clipped precision, int8
quantization, exact accumulation, the SSE4 kernel's lanes, a C kernel, int4
fake quantization and the straight-through gradient) and
a check, in the next cell, runs it against the library on random and edge
cases and says in words what is wrong.

- ``verdict``: the engine every check shares (``Verdict``, ``run_check``);
- one module per exercise's topic, each with its ``check_*`` functions and
  the known mistakes it recognises.

Does not: hold the solutions (they are in the solved notebooks, folded in
the book, and removed from the learner's copy by ``nmt8 course student``).
"""
