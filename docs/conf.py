"""Sphinx configuration for the fastsdm documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Needs the ``docs`` extra (Sphinx, numpydoc, myst-parser, matplotlib,
latex2mathml).  The built site needs no network: no intersphinx, a theme that
ships with Sphinx, and maths rendered to MathML at build time (no MathJax CDN).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the checkout this file belongs to, installed or not.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(DOCS / "_ext"))

import fastsdm  # noqa: E402

# -- project -----------------------------------------------------------------

project = "fastsdm"
author = "The fastsdm developers"
copyright = "The fastsdm developers, BSD-3-Clause"
version = release = fastsdm.__version__

# -- extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "mathml",  # docs/_ext/mathml.py: formulas as MathML at build time, no CDN
    "numpydoc",
    "myst_parser",  # performance.md
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
default_role = "code"  # `x` is inline code, never a cross-reference guess
# Every cross-reference must resolve (-W in CI makes a broken one fail the
# build).  numpydoc's free-form types ("int or array_like") stay text
# (numpydoc_xref_param_type below); references into other projects are plain
# text too, as the site is built without network, so no intersphinx.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|numba|matplotlib|importlib|csv|dask|faiss|bitarray)(\..*)?"),
    (r"py:func", r"round|len|int|float"),
]
# The module docstrings list their references (numpydoc renames the labels so they
# never clash) without citing each one in the text, as numpydoc's style has it;
# "Citation [R...-1] is not referenced" would fail the -W build for that alone.
suppress_warnings = ["ref.citation"]

# autosummary writes one page per public name under api/generated/ (gitignored).
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_preserve_defaults = True

# numpydoc: the class template documents members itself, so numpydoc must not
# add member tables (they would point at pages that do not exist).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# myst (performance.md): ``## Heading`` gets an anchor for [text](#heading) links.
myst_heading_anchors = 3

# -- HTML ----------------------------------------------------------------------

html_theme = "alabaster"  # ships with Sphinx: no network, no extra package
html_title = f"fastsdm {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Fast Kanerva Sparse Distributed Memory, and its link to attention",
    "fixed_sidebar": True,
    "page_width": "1200px",
    "sidebar_width": "230px",
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False
pygments_style = "sphinx"


# -- figures -----------------------------------------------------------------


def _make_figures() -> None:
    """Draw the figures with the fastsdm being documented (about 5 seconds)."""
    import make_figures

    start = time.perf_counter()
    paths = make_figures.main(DOCS / "_static" / "figures")
    print(f"fastsdm docs: {len(paths)} figures drawn in {time.perf_counter() - start:.1f} s")


_make_figures()


def _write_cli_help() -> None:
    """Write ``fastsdm [COMMAND] --help`` to api/generated/cli/ for the guide to include."""
    from fastsdm import cli

    out = DOCS / "api" / "generated" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width
    try:
        parser = cli.build_parser()
        (out / "fastsdm.txt").write_text(parser.format_help(), encoding="utf-8")
        subparsers = next(a for a in parser._actions if a.dest == "command")
        for name, sub in subparsers.choices.items():
            (out / f"{name}.txt").write_text(sub.format_help(), encoding="utf-8")
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns


_write_cli_help()


# -- autodoc hooks -------------------------------------------------------------


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    # NamedTuple fields carry the docstring "Alias for field number k"; the
    # class's Attributes section documents them already.
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
