"""Sphinx extension: ``{eval}`expr``` from the results saved in the notebook.

The notebooks quote computed values in their prose with the MyST inline
role ``{eval}`expr```, the one mechanism that both JupyterLab (the
``jupyterlab-myst`` extension) and this book render.  When a markdown cell
runs in JupyterLab, jupyterlab-myst evaluates its expressions in the kernel
and saves the results in the cell's metadata::

    "user_expressions": [{"expression": "f\\"{x:.1f}\\"",
                          "result": {"status": "ok",
                                     "data": {"text/plain": "'12.3'"},
                                     "metadata": {}}}]

and renders them from there whenever the notebook is opened.  myst-nb 1.x
also has an ``{eval}`` role, but it only asks a live kernel: it works with
``nb_execution_mode: inline`` (every notebook re-executed at build time, and
only for plain variable names unless ``nb_eval_name_regex`` is widened), and
otherwise warns "This document does not have a running kernel".  The book
reuses the saved outputs (``execute_notebooks: "off"``), so this extension
replaces myst-nb's role with one that reads the saved results, and renders
them with myst-nb's own machinery (text/plain without its quotes,
text/markdown parsed inline, the book's MIME priorities), as glue did.

A markdown cell whose ``{eval}`` has no saved result, or a saved error, is a
warning (so ``-W`` fails the build): run the notebook (JupyterLab "Run All",
or ``python tools/execute_notebook.py NOTEBOOK``, which stores the results as
JupyterLab does) and save it.  With ``nb_execution_mode: inline`` an
expression without a saved result is asked of the kernel, as myst-nb does.

How a role finds its cell: myst-nb numbers the source lines of cell ``i``
from ``(i + 1) * 10000`` (``myst_nb.core.nb_to_tokens``), so the cell index
is ``line // 10000 - 1``.
"""

from __future__ import annotations

import nbformat
from myst_nb.core.variables import (
    RetrievalError,
    VariableOutput,
    render_variable_outputs,
)
from myst_nb.ext.eval import EvalRoleAny, eval_warning, retrieve_eval_data

_CACHE: dict[str, tuple[float, object]] = {}


def _notebook(path: str):
    import os

    mtime = os.path.getmtime(path)
    hit = _CACHE.get(path)
    if hit is None or hit[0] != mtime:
        hit = (mtime, nbformat.read(path, as_version=4))
        _CACHE[path] = hit
    return hit[1]


def stored_result(source: str, line: int, expression: str) -> dict | None:
    """The result saved for ``expression`` in the markdown cell holding ``line``."""
    if not source.endswith(".ipynb") or not line or line < 10000:
        return None
    nb = _notebook(source)
    index = line // 10000 - 1
    if not 0 <= index < len(nb.cells):
        return None
    for item in nb.cells[index].get("metadata", {}).get("user_expressions", []):
        if item.get("expression") == expression:
            return item.get("result")
    return None


class StoredEvalRole(EvalRoleAny):
    def run(self):
        result = stored_result(self.source, self.line, self.text)
        if result is None:
            try:  # a live kernel (nb_execution_mode: inline), as myst-nb does
                data = retrieve_eval_data(self.document, self.text)
            except RetrievalError as exc:
                return [], [eval_warning(
                    f"{{eval}}`{self.text}` has no result saved in the notebook "
                    f"(run the cell, or the notebook, and save it): {exc}",
                    self.document, self.line)]
        elif result.get("status") != "ok":
            return [], [eval_warning(
                f"{{eval}}`{self.text}` saved an error: {result.get('ename')}: "
                f"{result.get('evalue')}", self.document, self.line)]
        else:
            data = [VariableOutput(data=result.get("data", {}),
                                   metadata=dict(result.get("metadata", {})),
                                   nb_renderer=self.document["nb_renderer"],
                                   vtype="eval", index=0)]
        for output in data:
            output.metadata["strip_text_quotes"] = True
        return render_variable_outputs(data, self.document, self.line, self.source,
                                       inline=True), []


def setup(app):
    # after myst_nb's own registration (jupyter-book loads local extensions last)
    app.add_role("eval", StoredEvalRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
