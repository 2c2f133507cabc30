"""The markdown pieces every section of the ``nmt8 reproduce`` report uses.

Tables, numbers as the report prints them (``-`` for a missing one), ratios
and the label of the paper's own rows (:data:`THEIRS`).

Does not: read results or measure anything (``nmt8.lab.report.report``).
"""

from __future__ import annotations

from nmt8.lab.figures import paper

THEIRS = f"*{paper.LABEL}*"  # how a row of the paper's own figures starts


def table(headers, rows) -> str:
    """A markdown table: a header row, then one row per tuple of cells."""
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def pairs(rows) -> str:
    """A two-column table of (what, value) rows, without headers."""
    return table(("", ""), rows)


def note(text: str) -> str:
    """A markdown quote on a paragraph of its own."""
    return f"\n> {text}\n"


def num(x, nd: int = 1) -> str:
    """``x`` with thousands separators and nd decimals; ``-`` for None."""
    return "-" if x is None else f"{x:,.{nd}f}"


def ratio(a, b) -> str:
    """``a / b`` as ``1.23x``; ``-`` when either is missing or zero."""
    return f"{a / b:.2f}x" if a and b else "-"


def grouped(records, *keys) -> dict:
    """{(key values): [records]} in the order the records came."""
    out: dict = {}
    for r in records:
        out.setdefault(tuple(getattr(r, k) for k in keys), []).append(r)
    return out
