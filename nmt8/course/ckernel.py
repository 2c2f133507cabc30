"""Chapter 7's build-it exercise (d): one tiny C kernel, the int8 dot
product at the heart of Section 3 of Quinn & Ballesteros 2018, written
by the learner as a C source string and compiled in the notebook with
cffi's API mode (``ffibuilder.set_source`` then ``compile`` into a
temporary directory), as ``nmt8/native/build.py`` builds the library.

The learner's ``my_dot_c()`` returns the C source of

    int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n);

(``#include <stdint.h>`` is added).  The check compiles it, calls it on
random and edge vectors (lengths 0, 1, 15, 17, 4096; all -127 or 127)
and compares with the library's exact int32 sum
(``nmt8.native.kernels.int8_accumulate``, kernel ``ref``), which the
tests compare with numpy in int64.  Known mistakes: an int8 or int16
accumulator (it wraps), unsigned bytes, a loop that misses the last
element.  Where there is no C compiler the check says so and skips (a
``Skipped`` verdict), it does not fail.

Does not: vectorise (chapter 7's kernels do), guard against a C bug that
crashes the process (a bad pointer in the learner's C is a crash, as in
any C), or keep the compiled module once the check is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.native.kernels import int8_accumulate

__all__ = ["CDEF", "MISTAKES", "NoFunction", "Skipped", "build", "c_compiler",
           "cases", "check_dot_c", "diagnostics", "reference"]

CDEF = "int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n);"

# words that look like "name(...) {" in C but are not function names
_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof"}


@dataclasses.dataclass(frozen=True)
class Skipped(Verdict):
    """A check that could not run here (no C compiler): not a failure."""

    def __str__(self) -> str:
        return f"– {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**– Skipped.** {self.message}"

    def assert_ok(self) -> None:
        """A skip is not a failure, under nbgrader either."""


def c_compiler() -> str | None:
    """The C compiler cffi would call (``$CC``, else Python's), if it is
    on the PATH; None otherwise."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(cc)
    return shutil.which(words[0]) if words else None


class NoFunction(Exception):
    """The C compiled, but the module has no ``dot_i8`` to call."""


@contextlib.contextmanager
def _captured_output(into: list[str]):
    """Send what this process and its children (the compiler) write to
    file descriptors 1 and 2 into a file, and append its text to ``into``:
    the learner sees the check's summary, not the raw compiler output for a
    generated file."""
    for f in (sys.stdout, sys.stderr):
        f.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as log:
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        finally:
            for f in (sys.stdout, sys.stderr):
                f.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log.seek(0)
            into.append(log.read().decode(errors="replace"))


def build(source: str, tmpdir: str):
    """Compile ``source`` (which defines ``dot_i8``) with cffi in API mode
    into ``tmpdir``; returns ``(ffi, lib)`` of the loaded module.  What the
    compiler prints is captured, not shown; a source that compiles but
    defines no ``dot_i8`` raises ``NoFunction``."""
    import cffi

    name = "_course_dot_" + hashlib.sha1(source.encode()).hexdigest()[:12]
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source(name, "#include <stdint.h>\n" + source,
                          extra_compile_args=["-O2"])
    said: list[str] = []
    with _captured_output(said):
        path = ffibuilder.compile(tmpdir=tmpdir, verbose=False)
    spec = importlib.util.spec_from_file_location(name, path)
    try:  # dlopen, in module_from_spec, finds what is undefined
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError) as err:  # calls a dot_i8 nobody defined
        if "undefined symbol" in str(err) and "dot_i8" in str(err):
            raise NoFunction(str(err)) from None
        raise
    return module.ffi, module.lib


def diagnostics(source: str, fallback: str = "") -> str:
    """The compiler's first error lines for ``source`` (compiled alone,
    syntax only), for a learner whose C does not build."""
    cc = c_compiler()
    try:
        run = subprocess.run([cc, "-fsyntax-only", "-x", "c", "-"], check=False,
                             input="#include <stdint.h>\n#line 1\n" + source,
                             capture_output=True, text=True, timeout=60)
        lines = [s for s in run.stderr.splitlines() if "error" in s]
    except (OSError, subprocess.SubprocessError, TypeError):
        lines = []
    if not lines:
        lines = fallback.strip().splitlines()[-1:] or ["unknown error"]
    return " | ".join(s.replace("<stdin>:", "line ") for s in lines[:3])


def reference(a: np.ndarray, b: np.ndarray) -> int:
    """The library's exact int32 sum of a[i] * b[i]."""
    return int(int8_accumulate(a[None], b[None], kernel="ref")[0, 0])


def cases() -> list[tuple[str, tuple]]:
    """(name, (a, b)) pairs of int8 vectors, random and edge."""
    rng = np.random.default_rng(8)

    def rand(n):
        return (rng.integers(-127, 128, n, dtype=np.int8),
                rng.integers(-127, 128, n, dtype=np.int8))

    full = np.full(4096, 127, np.int8)
    return [
        ("random vectors of length 17", rand(17)),
        ("random vectors of length 4096", rand(4096)),
        ("empty vectors (n = 0)", (np.zeros(0, np.int8), np.zeros(0, np.int8))),
        ("one element, -127 * 127", (np.array([-127], np.int8),
                                     np.array([127], np.int8))),
        ("length 15", rand(15)),
        ("4096 times 127 * 127 (the largest sum, 66 million)", (full, full)),
        ("4096 times -127 * 127", (-full, full)),
        ("-127 * -127, length 16", (np.full(16, -127, np.int8),
                                    np.full(16, -127, np.int8))),
    ]


def _wrapped(bits):
    def wrong(a, b):
        s = int(a.astype(np.int64) @ b.astype(np.int64))
        half = 1 << (bits - 1)
        return (s + half) % (1 << bits) - half
    return wrong


def _unsigned(a, b):
    return int(a.view(np.uint8).astype(np.int64)
               @ b.view(np.uint8).astype(np.int64))


def _misses_last(a, b):
    return reference(a[:-1], b[:-1]) if len(a) else 0


MISTAKES = [
    Mistake(_wrapped(16),
            "your sum is an int16 (short): it holds at most 32767, two "
            "products of 127 * 127 already overflow it and the sum wraps "
            "around. Accumulate in int32_t."),
    Mistake(_wrapped(8),
            "your sum is an int8_t (or char): it wraps around past 127. "
            "Each product is up to 16129; accumulate in int32_t."),
    Mistake(_unsigned,
            "you read the bytes as unsigned (uint8_t or unsigned char): "
            "-1 becomes 255. The inputs are const int8_t *, signed."),
    Mistake(_misses_last,
            "your loop misses the last element: with i starting at 0, run "
            "while i < n (not n - 1)."),
]


def _callable(ffi, lib):
    def dot(a, b):
        n = len(a)
        if n == 0:  # from_buffer of an empty array: pass NULL, n = 0
            return int(lib.dot_i8(ffi.NULL, ffi.NULL, 0))
        return int(lib.dot_i8(ffi.from_buffer("int8_t[]", a),
                              ffi.from_buffer("int8_t[]", b), n))
    return dot


@graded
def check_dot_c(my_dot_c) -> Verdict:
    """Compile the C source ``my_dot_c()`` returns with cffi and run its
    ``dot_i8`` against the library's exact sums."""
    what = "your dot_i8"
    if not callable(my_dot_c):
        return Verdict(False, "my_dot_c is not a function: define it in the "
                              "cell above, run that cell, then this one.")
    try:
        source = my_dot_c()
    except NotImplementedError:
        return Verdict(False, "my_dot_c still raises NotImplementedError: "
                              "write it in the cell above, run that cell, "
                              "then this one.", done=False)
    if not isinstance(source, str) or "dot_i8" not in source:
        return Verdict(False, "my_dot_c must return the C source (a string) "
                              "that defines dot_i8.")
    if c_compiler() is None:
        return Skipped(False, "there is no C compiler on this machine (cffi "
                              "needs one, e.g. gcc: apt install gcc, or "
                              "conda install c-compiler), so the C cannot be "
                              "built here. Nothing is wrong with the "
                              "notebook: read on.", done=False)
    try:
        import cffi  # noqa: F401 (the check needs it; say so if absent)
    except ImportError:
        return Skipped(False, "cffi is not installed (pip install cffi): "
                              "the C cannot be built here.", done=False)
    with tempfile.TemporaryDirectory(prefix="nmt8-course-") as tmp:
        try:
            ffi, lib = build(source, tmp)
        except NoFunction:
            named = sorted(set(re.findall(r"\b(\w+)\s*\([^;{)]*\)\s*\{",
                                          source)) - _KEYWORDS)
            return Verdict(False, "your C compiled, but defines no function "
                                  "named dot_i8" + (
                                      f" (it defines {', '.join(named)})"
                                      if named else "")
                                  + ": name it exactly dot_i8, with the "
                                  "signature int32_t dot_i8(const int8_t "
                                  "*a, const int8_t *b, int64_t n).")
        except Exception as err:  # noqa: BLE001 (the compiler's words)
            return Verdict(False, "your C did not compile: "
                                  + diagnostics(source, str(err)))
        all_cases = cases()
        return run_check(_callable(ffi, lib), all_cases, reference,
                         MISTAKES, exact=True, what=what,
                         success=f"{what}, compiled with cffi, gives the "
                                 f"library's exact sums on all "
                                 f"{len(all_cases)} cases (lengths 0 to "
                                 f"4096, the extremes included).")
