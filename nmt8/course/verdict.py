"""The engine of the course's checks: run the learner's function on cases,
compare with the library's, and say what is wrong in words.

A check knows the reference (a library function) and a few *known
mistakes*, each a wrong version of the piece with the hint that explains
it ("your scale uses max, not max|x|: the most negative weight
overflows"). When the learner's output differs from the reference, the
check looks for a known mistake that gives the same output and shows its
hint; otherwise it names the first case and element that differ.

An exercise not yet written raises ``NotImplementedError`` (the learner's
copy has ``raise NotImplementedError()`` where the solution was): the check
says "not done yet" and the notebook runs on.

Each public check is ``@graded``: in a normal run it returns its verdict
(shown in the notebook, so "Run All" goes to the end), but when nbgrader
executes the notebook (its Validate button, ``nbgrader validate``,
autograde: nbgrader sets ``NBGRADER_EXECUTION`` in the kernel's
environment) a verdict that is not ok raises ``AssertionError`` with its
message, so nbgrader counts the check cell, an autograder test cell, as
failed.

Does not: store marks or keep a gradebook; nbgrader does that where a
class wants it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a check found: ``ok``, and a message in words."""

    ok: bool
    message: str
    done: bool = True  # False: the exercise is not written yet

    def __str__(self) -> str:
        mark = "✓" if self.ok else ("…" if not self.done else "✗")
        return f"{mark} {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        if self.ok:
            return f"**✓ Correct.** {self.message}"
        if not self.done:
            return f"**… Not done yet.** {self.message}"
        return f"**✗ Not yet right.** {self.message}"

    def __bool__(self) -> bool:
        return self.ok

    def headline(self) -> str:
        """The verdict as one plain sentence: "Correct.", "Not done yet."
        or "Not yet right." and the message."""
        lead = ("Correct." if self.ok else "Not done yet." if not self.done
                else "Not yet right.")
        return f"{lead} {self.message}"

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` with the headline unless ok (what a
        test cell does under nbgrader)."""
        if not self.ok:
            raise AssertionError(self.headline())


# set by nbgrader in the kernel's environment while it executes a notebook
# ("validate" for its Validate button and ``nbgrader validate``,
# "autograde" for ``nbgrader autograde``)
GRADING_ENV = "NBGRADER_EXECUTION"


def grading() -> bool:
    """Whether nbgrader is executing this notebook (validate, autograde)."""
    return bool(os.environ.get(GRADING_ENV))


def graded(check: Callable[..., Verdict]) -> Callable[..., Verdict | None]:
    """Make ``check`` an autograder test: under nbgrader (``grading()``) a
    verdict that is not ok raises ``AssertionError``, and one that is ok is
    displayed, not returned (nbgrader reads a test cell's returned value as
    a partial grade, a number); otherwise the verdict is returned for the
    notebook to show."""
    @functools.wraps(check)
    def run(*args, **kwargs) -> Verdict | None:
        v = check(*args, **kwargs)
        if not grading():
            return v
        v.assert_ok()
        try:
            from IPython.display import display
        except ImportError:
            print(v)
        else:
            display(v)
        return None
    return run


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A known wrong version of the piece and the hint that explains it."""

    fn: Callable
    hint: str


def same(a, b, exact: bool = False, rtol: float = 1e-5,
         atol: float = 1e-6) -> bool:
    """Whether two outputs agree: nested tuples/lists compared item by
    item; arrays exactly (``exact``) or within tolerances."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y, exact, rtol, atol)
                                        for x, y in zip(a, b))
    try:
        a, b = np.asarray(a), np.asarray(b)
    except (TypeError, ValueError):
        return a == b
    if a.shape != b.shape:
        return False
    if exact or a.dtype.kind in "iub" or b.dtype.kind in "iub":
        return bool(np.array_equal(a, b))
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _in(names: Sequence[str], i: int) -> str:
    """How a message names returned value ``i``: by its name when the
    check gives one ("in `scale`"), else "in returned value 2 of 3"."""
    if i < len(names):
        return f"in `{names[i]}`"
    return f"in returned value {i + 1}"


def _describe(got, want, names: Sequence[str] = (), exact: bool = False) -> str:
    """Where and how an output differs from the reference, in words."""
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return (f"you returned one {type(got).__name__}; return "
                    f"{len(want)} values" + (f": {', '.join(names)}"
                                             if names else ""))
        if len(got) != len(want):
            return (f"you returned {len(got)} values, the reference "
                    f"{len(want)}" + (f" ({', '.join(names)})"
                                      if len(names) == len(want) else ""))
        for i, (g, w) in enumerate(zip(got, want)):
            if not same(g, w, exact):
                return f"{_in(names, i)}: " + _describe(g, w, exact=exact)
        return "your values agree with the library's"  # not reached
    try:
        g, w = np.asarray(got), np.asarray(want)
    except (TypeError, ValueError):
        return f"you returned {got!r}, the reference {want!r}"
    if g.shape != w.shape:
        return f"your result has shape {g.shape}, the reference {w.shape}"
    if g.dtype.kind not in "iubf" and w.dtype.kind in "iubf":
        return (f"your result has dtype {g.dtype} (not numbers), the "
                f"reference {w.dtype}")
    cast = (f"cast with .astype(np.{w.dtype})" if w.dtype.kind in "iubf"
            else "")
    if g.dtype.kind != w.dtype.kind and w.dtype.kind in "iu":
        return f"your result has dtype {g.dtype}, the reference {w.dtype}: {cast}"
    if g.ndim == 0:
        return f"you returned {g.item()!r}, the reference {w.item()!r}"
    with np.errstate(invalid="ignore", over="ignore"):
        bad = np.argwhere(~np.isclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True)
                          if w.dtype.kind == "f" else g != w)
    if len(bad):
        i = tuple(int(x) for x in bad[0])
        return (f"{len(bad)} of {w.size} entries differ; the first at index "
                f"{i}: yours {g[i].tolist()!r}, the reference "
                f"{w[i].tolist()!r}")
    # every entry within float rounding, but not the same bits
    if g.dtype != w.dtype:
        return (f"your values are right to within float rounding, but your "
                f"result has dtype {g.dtype}; the library's is {w.dtype}: "
                f"{cast} (and compute in {w.dtype}, as the library does, "
                "to get its bits)")
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.argwhere(~((g == w) | (np.isnan(g) & np.isnan(w))))
    if not len(diff):
        return "your values agree with the library's"  # not reached
    i = tuple(int(x) for x in diff[0])
    return (f"your values are right to within float rounding, but not bit "
            f"for bit: {len(diff)} of {w.size} entries differ in their last "
            f"bits; the first at index {i}: yours {g[i].tolist()!r}, the "
            f"reference {w[i].tolist()!r}")


def run_check(candidate: Callable, cases: Iterable[tuple[str, Sequence]],
              reference: Callable, mistakes: Sequence[Mistake] = (),
              exact: bool = False, what: str = "your function",
              success: str = "", names: Sequence[str] = ()) -> Verdict:
    """Run ``candidate(*args)`` on every ``(name, args)`` case against
    ``reference(*args)``; the first difference becomes the verdict, with
    the hint of a known mistake that gives the same output when there is
    one. ``names``: the names of the returned values, when the reference
    returns several (a message then says "in `scale`")."""
    if not callable(candidate):
        return Verdict(False, f"{what} is not a function: define it in the "
                              "cell above, run that cell, then this one.")
    cases = list(cases)
    for name, args in cases:
        want = reference(*args)
        try:
            got = candidate(*args)
        except NotImplementedError:
            return Verdict(False, f"{what} still raises NotImplementedError: "
                                  "write it in the cell above, run that "
                                  "cell, then this one.", done=False)
        except Exception as err:  # noqa: BLE001 (the learner's bug, in words)
            return Verdict(False, f"on {name}, {what} raised "
                                  f"{type(err).__name__}: {err}")
        if got is None and want is not None:
            return Verdict(False, f"on {name}, {what} returned None: did "
                                  "you forget `return`?")
        if same(got, want, exact):
            continue
        for m in mistakes:
            try:
                with np.errstate(all="ignore"):  # a mistake's nan is quiet
                    wrong = m.fn(*args)
            except Exception:  # noqa: BLE001, S112 (a mistake that cannot run here)
                continue
            if same(got, wrong, exact) and not same(wrong, want, exact):
                return Verdict(False, f"on {name}: {m.hint}")
        return Verdict(False, f"on {name}: " + _describe(got, want, names, exact))
    return Verdict(True, success or f"{what} agrees with the library on "
                                    f"all {len(cases)} cases.")
