"""cffi build script for ``nmt8.native._kernels``, the C kernels of Section 3.

setup.py runs it through ``cffi_modules=["nmt8/native/build.py:ffibuilder"]``,
so ``pip install -e .`` compiles it (again after every change to ``csrc/``).

The declarations come from the public headers of ``csrc/`` (the int8
kernels' ``nmt8_kernels.h``, the one dispatch's ``nmt8_dispatch.h``, then
``nmt8_fp32.h``, ``nmt8_int16.h`` and ``nmt8_int4.h`` for the other rungs
of the precision ladder, the kernels beside the products, and
``nmt8_peak.h``: the core's true limits), the single source of the C
interface: each is read into ``ffibuilder.cdef`` without its
preprocessor lines, except ``#define NAME <integer>`` which cffi
understands (so Python reads constants such as ``NMT8_VNNI_ROWS`` from the
library rather than repeating them).

Compiler flags: ``-O3`` and nothing ISA-specific.  The SSE4, AVX2,
AVX-512 and AVX-512 VNNI kernels carry ``__attribute__((target(...)))``
and are picked at run time (``csrc/nmt8_dispatch.c``, once per process),
so one build runs on any x86-64.  ``-ffp-contract=off`` stops gcc
fusing the epilogue's multiply and add into an FMA, which would change the
rounding that the tests reproduce in numpy.  The code is valid under strict
aliasing (int32 sums become floats in place through a union).

``make_builder`` builds the same module under another name and with other
flags: ``tests/test_sanitizers.py`` compiles it with AddressSanitizer and
UndefinedBehaviorSanitizer.

Does not: choose a kernel (the C library does, once per process:
``csrc/nmt8_dispatch.h``, ``nmt8.native.dispatch``).
"""

import os
import re
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CSRC = "csrc"
HEADER = os.path.join(CSRC, "nmt8_kernels.h")
HEADERS = [HEADER] + [os.path.join(CSRC, name)
                      for name in ("nmt8_dispatch.h", "nmt8_fp32.h",
                                   "nmt8_int16.h", "nmt8_attention.h",
                                   "nmt8_softmax.h", "nmt8_select.h",
                                   "nmt8_gru.h", "nmt8_peak.h", "nmt8_int4.h",
                                   "nmt8_amx.h")]
SOURCES = [
    os.path.join(CSRC, name)
    for name in ("nmt8_dispatch.c", "nmt8_kernels.c", "nmt8_sse4.c",
                 "nmt8_avx2.c", "nmt8_vnni.c", "nmt8_gemm.c",
                 "nmt8_gemm_avx2.c", "nmt8_fp32.c", "nmt8_fp32_simd.c",
                 "nmt8_int16.c", "nmt8_int16_simd.c", "nmt8_attention.c",
                 "nmt8_softmax.c", "nmt8_select.c", "nmt8_gru.c",
                 "nmt8_peak.c", "nmt8_int4.c", "nmt8_amx.c")
]
DEPENDS = SOURCES + HEADERS + [os.path.join(CSRC, name) for name in
                               ("nmt8_internal.h", "nmt8_ladder.h", "nmt8_mathf.h",
                                "nmt8_vnni_tile.h")]
MODULE = "nmt8.native._kernels"

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


def compile_args():
    """The compiler flags of the shipped build."""
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    return ["-O3", "-std=gnu11", "-ffp-contract=off"]


def _relative(path, root):
    # setuptools wants source paths relative to the project root
    return os.path.relpath(os.path.join(ROOT, path), root)


def make_builder(module=MODULE, extra_compile_args=None,
                 extra_link_args=(), absolute=False, extra_cdef="",
                 extra_source=""):
    """An ``FFI`` that builds the kernels as ``module``.

    ``extra_compile_args`` replaces :func:`compile_args` when given;
    ``absolute``: source paths absolute rather than relative to the current
    directory (for builds outside the repository, e.g. into a temporary
    folder); ``extra_cdef`` and ``extra_source``: more declarations and C
    code for the module (the sanitizer test adds deliberate bugs to check
    that they are caught).
    """
    texts = []
    for header in HEADERS:
        with open(os.path.join(ROOT, header), encoding="utf-8") as f:
            texts.append(cdef_source(f.read()))
    if absolute:
        def where(path):
            return os.path.join(ROOT, path)
    else:
        def where(path):
            return _relative(path, os.getcwd())
    builder = FFI()
    builder.cdef("\n".join(texts) + "\n" + extra_cdef)
    builder.set_source(
        module,
        "".join(f'#include "{os.path.basename(h)}"\n' for h in HEADERS)
        + extra_source,
        sources=[where(s) for s in SOURCES],
        include_dirs=[where(CSRC)],
        depends=[where(s) for s in DEPENDS],
        extra_compile_args=(compile_args() if extra_compile_args is None
                            else list(extra_compile_args)),
        extra_link_args=list(extra_link_args),
        libraries=[] if sys.platform == "win32" else ["m"],
    )
    return builder


ffibuilder = make_builder()
