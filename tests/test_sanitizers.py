"""The C kernels under AddressSanitizer and UndefinedBehaviorSanitizer.

The kernels are compiled again, with ``-fsanitize=address,undefined
-fno-sanitize-recover=all``, into a temporary folder; a subprocess loads that
build in place of ``nmt8.native._kernels`` (the ASan runtime preloaded, as a
Python that was not built with it needs) and runs the kernel and
quantization tests.  Any sanitizer report aborts it, and fails here.

Every software prefetch is compiled as a one-byte read
(``-DNMT8_CHECK_PREFETCH``), so ASan also checks that no prefetch address
leaves its array.  Two deliberate bugs compiled into the same build (an
out-of-bounds read, a misaligned float load) check that a report is caught
at all.

Without gcc's sanitizer runtime the tests skip locally, with the reason,
and FAIL in CI (``CI`` set), so CI cannot pass without running them.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE = "nmt8.native._kernels"
# NMT8_CHECK_PREFETCH: every software prefetch becomes a checked read
FLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-std=gnu11",
         "-ffp-contract=off", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", "-DNMT8_CHECK_PREFETCH"]
REPORTS = ("AddressSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")

# deliberate bugs, for the canaries only
CANARY_CDEF = """
int nmt8_canary_overflow(int i);
float nmt8_canary_misaligned(const char *buf);
"""
CANARY_SOURCE = """
int nmt8_canary_overflow(int i)
{
    int a[4] = {1, 2, 3, 4};
    volatile int *p = a;
    return p[i];                              /* i = 4: out of bounds */
}
float nmt8_canary_misaligned(const char *buf)
{
    return *(const float *)(buf + 1);         /* misaligned float load */
}
"""

# run in the subprocess: load the sanitized build as nmt8.native._kernels
LOADER = """
import glob, importlib.util, os, sys
where = os.environ["NMT8_SANITIZED"]
path, = glob.glob(os.path.join(where, "nmt8", "native", "_kernels*.so"))
spec = importlib.util.spec_from_file_location("nmt8.native._kernels", path)
sanitized = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sanitized)
sys.modules["nmt8.native._kernels"] = sanitized
import nmt8.native.clib
assert nmt8.native.clib.lib is sanitized.lib, "not the sanitized build"
"""


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"sanitizer tests cannot run in CI: {reason}")
    pytest.skip(f"sanitizer tests need gcc's ASan runtime: {reason}")


def asan_runtime() -> str:
    """Path of gcc's libasan.so, or skip (fail in CI)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        unavailable("gcc not found")
    path = subprocess.run([gcc, "-print-file-name=libasan.so"], check=False,
                          capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        unavailable("gcc -print-file-name=libasan.so finds no library")
    return path


@pytest.fixture(scope="module")
def sanitized(tmp_path_factory):
    """(folder of the sanitized build, environment to run it in)."""
    if sys.platform != "linux":
        unavailable(f"only set up for Linux, not {sys.platform}")
    runtime = asan_runtime()
    out = tmp_path_factory.mktemp("sanitized")
    script = ("import sys; from nmt8.native.build import make_builder; "
              "make_builder(sys.argv[1], sys.argv[2:-3], ['-fsanitize=address,"
              "undefined'], absolute=True, extra_cdef=sys.argv[-3], "
              "extra_source=sys.argv[-2]).compile(tmpdir=sys.argv[-1])")
    build = subprocess.run(
        [sys.executable, "-c", script, MODULE, *FLAGS, CANARY_CDEF,
         CANARY_SOURCE, str(out)],
        check=False, cwd=ROOT, capture_output=True, text=True)
    if build.returncode:
        if "asan" in build.stderr.lower() or "ubsan" in build.stderr.lower():
            unavailable("linking with -fsanitize failed:\n" + build.stderr[-2000:])
        pytest.fail("sanitized build failed:\n" + build.stderr[-4000:])
    env = dict(os.environ, NMT8_SANITIZED=str(out), LD_PRELOAD=runtime,
               ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
               PYTHONDONTWRITEBYTECODE="1")
    return out, env


def run(env, code: str, timeout: float = 600):
    """(exit code, stderr then stdout) of ``code`` run on the build."""
    proc = subprocess.run([sys.executable, "-c", LOADER + code], check=False,
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stderr + "\n" + proc.stdout


@pytest.mark.parametrize("call, where", [
    ("sanitized.lib.nmt8_canary_overflow(4)", "nmt8_canary_overflow"),
    ("sanitized.lib.nmt8_canary_misaligned(sanitized.ffi.new('char[16]'))",
     "nmt8_canary_misaligned"),
])
def test_a_bug_is_caught(sanitized, call, where):
    """The harness itself: a deliberate bug must end the run with a report
    that names the function."""
    _, env = sanitized
    rc, output = run(env, call)
    assert rc != 0 and any(r in output for r in REPORTS), output[-3000:]
    assert where in output, output[-3000:]


def test_kernel_tests_are_clean_under_sanitizers(sanitized):
    """The kernel, quantization and int8 model tests (the blocked gemm
    and gemm_avx2 kernels' own included: tests/test_gemm.py, P up to 1024,
    several groups and blocks of K), and those of the fp32 and int16
    kernels (every kernel, unaligned and strided inputs, the stack/heap
    switch, the largest K, empty matrices, two threads, decoding) against
    the sanitized build (the int4 kernels too: tests/test_int4.py; and the
    one dispatch, csrc/nmt8_dispatch.c: every instruction set this CPU runs
    forced in turn, unknown ids handed to every entry point with NULL
    buffers, tests/test_kernels.py and test_gemm.py): no report, all pass.  (This found prefetches one byte before Wq when
    K = 0.)"""
    _, env = sanitized
    rc, output = run(env, (
        "import pytest; sys.exit(pytest.main(['-q', '-x', '-p', "
        "'no:cacheprovider', 'tests/test_kernels.py', 'tests/test_quant.py',"
        " 'tests/test_vnni.py', 'tests/test_gemm.py', 'tests/test_int8.py',"
        " 'tests/test_fp32_kernels.py', 'tests/test_int16.py',"
        " 'tests/test_attention_kernel.py', 'tests/test_softmax_kernel.py',"
        " 'tests/test_select_kernel.py', 'tests/test_gru_kernel.py',"
        " 'tests/test_peak.py', 'tests/test_tuning.py', 'tests/test_int4.py',"
        " 'tests/test_amx.py']))"))
    found = [r for r in REPORTS if r in output]
    if rc or found:   # pytest.fail, not assert: the report must not be cut
        pytest.fail(f"exit code {rc}, reports {found}:\n{output[:8000]}\n"
                    f"...\n{output[-3000:]}", pytrace=False)
