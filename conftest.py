"""Test tiers: ``pytest -m "not slow"`` is the everyday run (the unit tests,
about two minutes on 2 cores); plain ``pytest`` (CI) runs everything.

Slow, marked here rather than in each file: every notebook (nbval executes
it), the book build, the course opened in JupyterLab, the sanitizer builds
and the soak run; a test may also mark itself ``@pytest.mark.slow``.
"""

from pathlib import Path

import pytest

SLOW_FILES = {"test_book.py", "test_lab_render.py", "test_sanitizers.py", "test_soak.py"}


def pytest_collection_modifyitems(config, items):
    slow = pytest.mark.slow
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" or path.name in SLOW_FILES:
            item.add_marker(slow)
