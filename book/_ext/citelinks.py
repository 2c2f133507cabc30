"""Sphinx extension: a Markdown link to a bibliography key is a citation.

The chapters cite as ``[Quinn & Ballesteros (2018)](#quinn2018)``: a plain
MyST link whose target is a key of ``references.bib``.  The same source
renders in both places the chapters are read:

* in JupyterLab (jupyterlab-myst 2.7) the link shows its own text.  The
  ``{cite}`` role does not render there: jupyterlab-myst reads no BibTeX
  file, and shows a ``{cite}`quinn2018``` as the bare key "quinn2018"
  behind a warning icon titled "Citation Not Found" (tried in headless
  Chromium; upstream: jupyter-book/jupyterlab-myst issue 127);
* in the book, this extension turns the link into a link to the key's
  entry on the bibliography page (``references.md``, sphinxcontrib-bibtex's
  ``{bibliography}``), keeping the words of the source and taking the
  entry's tooltip.

Without it, myst-parser would resolve ``#quinn2018`` through
sphinxcontrib-bibtex's ``resolve_any_xref`` and print a bracketed
"[Quinn and Ballesteros, 2018]" in place of the sentence's own words.  A
target that is neither a key nor another known target stays myst-parser's
"cross-reference target not found" warning (``-W``: a failed build).

The key's entry is found through Sphinx's public domain interface
(``Domain.resolve_any_xref`` of the ``cite`` domain), the same call
myst-parser makes.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform


class CitationLinks(SphinxPostTransform):
    """``[text](#key)`` -> a link to the bibliography entry of ``key``."""

    default_priority = 5  # before myst-parser's MystReferenceResolver (9)

    def run(self, **kwargs) -> None:
        domain = self.env.get_domain("cite")
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") == "doc":
                continue
            target = node["reftarget"]
            if "," in target:  # one key per link
                continue
            contnode = node[0].deepcopy()
            resolved = domain.resolve_any_xref(
                self.env, node.get("refdoc", self.env.docname), self.app.builder,
                target, node, contnode)
            if not resolved:
                continue  # not a key: myst-parser resolves it, or warns
            refs = list(resolved[0][1].findall(nodes.reference))
            if len(refs) != 1:
                continue
            ref = refs[0]
            link = nodes.reference("", "", internal=True,
                                   classes=["bibtex-citation"])
            for attr in ("refuri", "refid", "reftitle"):
                if attr in ref:
                    link[attr] = ref[attr]
            link += contnode.children if isinstance(contnode, nodes.inline) \
                else [contnode]
            node.replace_self(link)


def setup(app):
    app.add_post_transform(CitationLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
