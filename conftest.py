"""Test tiers: ``pytest -m "not slow"`` is the everyday run (the unit tests,
about two minutes on 2 cores); plain ``pytest`` (CI) runs everything.

Slow, marked here rather than in each file: every notebook (nbval executes
it), the book build, and the sanitizer builds; a test may also mark itself
``@pytest.mark.slow``.
"""

from pathlib import Path

import pytest

SLOW_FILES = {"test_book.py", "test_sanitizers.py"}


def pytest_collection_modifyitems(config, items):
    slow = pytest.mark.slow
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" or path.name in SLOW_FILES:
            item.add_marker(slow)
