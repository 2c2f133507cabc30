"""The house: the folders of ``nmt8/`` are layers, each importing only the
layers below it (``.importlinter``), and no module imports itself in a
circle."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_layer_imports_only_the_layers_below_it():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent /
                                              "lint-imports")
    if not Path(exe).exists():
        pytest.fail("lint-imports not found: install the [dev] extra")
    run = subprocess.run([exe], check=False, cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_the_lab_is_not_imported_by_the_decoder():
    """Importing the decoding stack loads nothing of the lab or of
    training (a function-level import would hide from a module graph)."""
    code = ("import sys, nmt8, nmt8.serve.stream, nmt8.serve.parallel, "
            "nmt8.search.batch; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('nmt8.lab', 'nmt8.train'))))")
    run = subprocess.run([sys.executable, "-c", code], check=False,
                         capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
