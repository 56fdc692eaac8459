"""Render the documentation's maths as MathML when the site is built.

Sphinx's default, MathJax, loads a script from a CDN in the reader's browser:
offline, every formula shows as raw ``\\(n = 1000\\)``.  This extension turns
each ``:math:`` role and ``.. math::`` block into MathML at build time with
latex2mathml (pure Python), which every current browser draws natively, so
the built site needs no network and no JavaScript to show its formulas.

A formula latex2mathml cannot convert is a build warning (an error under
``-W``), never silently left as TeX.
"""

from __future__ import annotations

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)


def _mathml(translator, node, latex: str, display: str) -> str:
    try:
        return convert(latex, display=display)
    except Exception as exc:  # latex2mathml raises several types; report them all the same way
        logger.warning("cannot render %r as MathML: %s", latex, exc, location=node)
        return translator.encode(latex)


def visit_math(self, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math"))
    self.body.append(_mathml(self, node, node.astext(), "inline") + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    # Sphinx's convention: blank lines separate equations of one block.
    for part in (p for p in node.astext().split("\n\n") if p.strip()):
        self.body.append(_mathml(self, node, part, "block"))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    app.config.html_math_renderer = "mathml"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
