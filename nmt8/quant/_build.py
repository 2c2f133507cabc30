"""cffi build script for ``nmt8.quant._kernels``, the C kernels of Section 3.

setup.py runs it through ``cffi_modules=["nmt8/quant/_build.py:ffibuilder"]``,
so ``pip install -e .`` compiles it (again after every change to ``csrc/``).

The declarations come from ``csrc/nmt8_kernels.h``, the single source of
the C interface: it is read into ``ffibuilder.cdef`` without its
preprocessor lines, except ``#define NAME <integer>`` which cffi
understands.

Compiler flags: ``-O3`` and nothing ISA-specific.  The SSE4, AVX2 and
AVX-512 VNNI kernels carry ``__attribute__((target(...)))`` and are picked at
run time, so one build runs on any x86-64.  ``-ffp-contract=off`` stops gcc
fusing the epilogue's multiply and add into an FMA, which would change the
rounding that the tests reproduce in numpy.
"""

import os
import re
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CSRC = "csrc"
HEADER = os.path.join(CSRC, "nmt8_kernels.h")
SOURCES = [
    os.path.join(CSRC, name)
    for name in ("nmt8_kernels.c", "nmt8_sse4.c", "nmt8_avx2.c", "nmt8_vnni.c")
]
DEPENDS = SOURCES + [HEADER, os.path.join(CSRC, "nmt8_internal.h")]

_DEFINE = re.compile(r"^\s*#\s*define\s+\w+\s+-?\d+\s*$")


def cdef_source(header_text):
    """The header as cdef can read it: no preprocessor lines but ``#define``
    of plain integers."""
    lines = []
    for line in header_text.splitlines():
        if line.lstrip().startswith("#") and not _DEFINE.match(line):
            continue
        lines.append(line)
    return "\n".join(lines)


def _compile_args():
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    return ["-O3", "-std=gnu11", "-ffp-contract=off", "-fno-strict-aliasing"]


def _relative(path):
    # setuptools wants source paths relative to the project root
    return os.path.relpath(os.path.join(ROOT, path), os.getcwd())


with open(os.path.join(ROOT, HEADER), encoding="utf-8") as f:
    _HEADER_TEXT = f.read()

ffibuilder = FFI()
ffibuilder.cdef(cdef_source(_HEADER_TEXT))
ffibuilder.set_source(
    "nmt8.quant._kernels",
    '#include "nmt8_kernels.h"',
    sources=[_relative(s) for s in SOURCES],
    include_dirs=[_relative(CSRC)],
    depends=[_relative(s) for s in DEPENDS],
    extra_compile_args=_compile_args(),
    libraries=[] if sys.platform == "win32" else ["m"],
)
