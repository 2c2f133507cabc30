"""The README's Python runs as pasted: every ```python block, in order, in
one namespace, as a newcomer would paste them into one session."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text("utf-8"),
                      flags=re.DOTALL | re.MULTILINE)


def test_the_readme_has_python_to_run():
    assert python_blocks(), "no ```python block in the README"


def test_every_python_block_runs_in_order():
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(python_blocks()):
        try:
            code = compile(block, f"README.md python block {i + 1}", "exec")
            exec(code, namespace)  # noqa: S102 (running the README is the test)
        except Exception as err:  # the block, and what went wrong, in words
            raise AssertionError(f"README python block {i + 1} fails: "
                                 f"{type(err).__name__}: {err}\n{block}") from err
