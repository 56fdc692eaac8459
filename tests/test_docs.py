"""The documentation's code runs, and its API reference is complete.

Code blocks of the site's ``.rst`` pages (``docs/index.rst`` and every page its
toctrees reach) run page by page, in order, in one fresh namespace per page, in
a temporary working directory (so examples should write relative paths):

* ``.. code-block:: python`` blocks are executed (an exception fails);
* ``.. code-block:: pycon`` blocks are doctests: their output is checked
  (``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``);
* a block with the option ``:class: no-test`` is shown but not run (canonical
  sizes that take minutes or gigabytes); the text next to it says so and
  a scaled-down block runs instead;
* a block with ``:class: needs-MODULE`` (e.g. ``needs-matplotlib``) runs only
  where ``MODULE`` can be imported;
* other languages (``bash``, ``console``, ``text``) are not run.

Docstring examples are doctests already (``--doctest-modules``).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUN_LANGUAGES = {"python", "pycon"}
SHOW_LANGUAGES = {"bash", "console", "text", "none", "ini", "toml", "json", "shell"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<lang>\S*)\s*$")
_OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):\s*(?P<value>.*)$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the first code line
    language: str
    classes: tuple[str, ...]
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS.parent)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    """Every ``.. code-block::`` of an RST file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        indent = len(match["indent"])
        classes: tuple[str, ...] = ()
        while i < len(lines) and (option := _OPTION.match(lines[i])):
            if option["name"] == "class":
                classes = tuple(option["value"].split())
            i += 1
        body: list[str] = []
        start = None
        while i < len(lines):
            text = lines[i]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            if start is None and text.strip():
                start = i + 1
            if start is not None:
                body.append(text)
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(path, start or i, match["lang"], classes, code))
    return blocks


def toctree_pages(root: Path = DOCS / "index.rst") -> list[Path]:
    """The ``.rst`` pages of the site: ``root`` and every page its toctrees reach.

    Pages outside the toctree are drafts (Sphinx warns about them): their code
    runs once they are linked in.
    """
    seen: dict[Path, None] = {}
    todo = [root]
    while todo:
        page = todo.pop(0)
        if page in seen or not page.is_file():
            continue
        seen[page] = None
        lines = page.read_text(encoding="utf-8").splitlines()
        in_toctree = False
        for line in lines:
            if line.startswith(".. toctree::"):
                in_toctree = True
            elif in_toctree and line.strip() and not line.startswith(" "):
                in_toctree = False
            elif in_toctree and line.strip() and not line.strip().startswith(":"):
                todo.append((page.parent / line.strip()).with_suffix(".rst").resolve())
    return list(seen)


PAGES = toctree_pages()
CODE_PAGES = [p for p in PAGES if any(b.language in RUN_LANGUAGES for b in code_blocks(p))]


def _skip_reason(block: Block) -> str | None:
    if "no-test" in block.classes:
        return "no-test"
    for cls in block.classes:
        if cls.startswith("needs-") and importlib.util.find_spec(cls[6:]) is None:
            return f"{cls[6:]} is not installed"
    return None


def _run_block(block: Block, namespace: dict) -> None:
    if block.language == "python":
        # Leading newlines make tracebacks point at the line in the .rst file.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(block.path), "exec"), namespace)
        return
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.code, namespace, block.where, str(block.path),
                              block.line - 1)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.append, clear_globs=False)
    namespace.update(test.globs)  # DocTest ran in a copy of the namespace
    if runner.failures:
        pytest.fail(f"doctest failed in {block.where}:\n" + "".join(report), pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("page", CODE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_runs(page: Path, tmp_path, monkeypatch):
    blocks = [b for b in code_blocks(page) if b.language in RUN_LANGUAGES]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for block in blocks:
        if _skip_reason(block) is None:
            _run_block(block, namespace)


def test_code_block_languages_are_known():
    # A misspelt language (``py``, ``python3``) would silently skip a block.
    unknown = [f"{b.where}: {b.language!r}" for page in PAGES for b in code_blocks(page)
               if b.language not in RUN_LANGUAGES | SHOW_LANGUAGES]
    assert not unknown, f"unknown code-block languages: {unknown}"


def test_examples_use_code_block():
    # ``>>>`` examples outside ``.. code-block:: pycon`` (a literal ``::`` block,
    # ``.. code::``, ``.. doctest::``) would be shown but never run.
    stray = []
    for page in PAGES:
        covered = {b.line + k for b in code_blocks(page) for k in range(b.code.count("\n"))}
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(">>>") and number not in covered:
                stray.append(f"{page.relative_to(DOCS.parent)}:{number}")
            if re.match(r"^\s*\.\. (code|sourcecode|doctest)::", line):
                stray.append(f"{page.relative_to(DOCS.parent)}:{number} (use code-block)")
    assert not stray, f"examples that would not be tested: {stray}"


def test_there_is_runnable_code():
    runnable = [b for page in PAGES for b in code_blocks(page)
                if b.language in RUN_LANGUAGES and "no-test" not in b.classes]
    assert len(runnable) >= 10, "the documentation's code blocks were not found"


# ---------------------------------------------------------------------------
# The API reference lists every public name
# ---------------------------------------------------------------------------

def _public_modules() -> list[str]:
    """``fastsdm`` and every module or subpackage under it whose name has no leading underscore."""
    import pkgutil

    import fastsdm

    names = ["fastsdm"]
    for info in pkgutil.walk_packages(fastsdm.__path__, "fastsdm."):
        parts = info.name.split(".")
        if not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return names


#: Public modules whose ``__all__`` docs/api.rst must cover: found, not listed by hand, so a
#: new public module cannot be left out of the reference.
API_MODULES = tuple(_public_modules())


def test_public_modules_are_found():
    # The discovery above must see the modules the guide links to.
    assert {"fastsdm.theory", "fastsdm.distributed", "fastsdm.search"} <= set(API_MODULES)


def documented_names(path: Path = DOCS / "api.rst") -> set[str]:
    """Fully qualified names listed in the autosummary tables of ``api.rst``."""
    names: set[str] = set()
    module = None
    in_table = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^\.\. (?:current)?module::\s*(\S+)", line):
            module, in_table = match[1], False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.strip() and not line.startswith(" "):
            in_table = False
        elif in_table and line.strip() and not line.strip().startswith(":"):
            name = line.strip().lstrip("~")
            names.add(name if name.startswith("fastsdm") else f"{module}.{name}")
    return names


def _public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if name.startswith("__") or type(obj).__name__ == "module":
            continue
        if isinstance(obj, (dict, tuple, list, str, int, float)):
            continue  # constants (e.g. PRESETS) are described in the guide
        names.append(name)
    return names


@pytest.mark.parametrize("module_name", API_MODULES)
def test_api_reference_is_complete(module_name):
    # A name counts as documented when the object it names is documented under any path
    # (``fastsdm.search.radius_search`` is documented as ``fastsdm.radius_search``).
    documented = {id(obj) for obj in map(_resolve, documented_names()) if obj is not None}
    module = importlib.import_module(module_name)
    missing = [name for name in _public_names(module_name)
               if id(getattr(module, name)) not in documented]
    assert not missing, f"docs/api.rst does not list {module_name}: {missing}"


def _resolve(qualified: str):
    """The object ``module.name`` names, or None."""
    module_name, _, name = qualified.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, name, None)


def test_api_reference_names_exist():
    stale = [qualified for qualified in sorted(documented_names()) if _resolve(qualified) is None]
    assert not stale, f"docs/api.rst lists names that do not exist: {stale}"


def test_page_titles_are_unique():
    # Each page's title is its entry in the table of contents: two pages whose
    # titles share their head ("Beyond one machine" and "Beyond one machine: a
    # sharded SDM on Dask") read as one entry listed twice.
    titles = {}
    for page in sorted(DOCS.rglob("*.rst")):
        if "_build" in page.parts or "generated" in page.parts:
            continue
        lines = page.read_text(encoding="utf-8").splitlines()
        title = next((a for a, b in zip(lines, lines[1:], strict=False)
                      if a.strip() and re.fullmatch(r"=+", b.strip())), None)
        if title is not None:
            head = title.split(":")[0].strip()
            titles.setdefault(head, []).append(str(page.relative_to(DOCS)))
    duplicates = {t: p for t, p in titles.items() if len(p) > 1}
    assert not duplicates, f"pages share a title: {duplicates}"


def test_package_docstring_is_a_map():
    # help(fastsdm) is where a newcomer looks first: it must name every public
    # name of the top-level namespace and the modules imported by name.
    import fastsdm

    doc = fastsdm.__doc__
    missing = [name for name in fastsdm.__all__ if not name.startswith("__") and name not in doc]
    modules = ("theory", "attention", "hopfield", "experiments", "plots", "distributed", "gallery")
    missing += [m for m in modules if f"fastsdm.{m}" not in doc]
    assert not missing, f"fastsdm's docstring does not mention {missing}"
