"""The package's architecture rules, checked on the source (docs/architecture.rst, Rules).

No fastsdm module reaches into another fastsdm module's private names: what two
modules share is a non-underscore name, usually of a private module
(``_core.iterate``, ``_kernels.hopfield.sweep_serial``).  Private *modules*
(``fastsdm._jit``, ``from ._kernels import counters``) are fine; ``module._name``
and ``from module import _name`` across modules are not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fastsdm"

#: (file relative to the repository, ``alias._name``) pairs still allowed.
KNOWN_EXCEPTIONS: set = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Whether the dotted ``fastsdm...`` name is a module or package of the source tree."""
    relative = Path(*name.split("."))
    return ((PACKAGE.parent / relative).with_suffix(".py").is_file()
            or (PACKAGE.parent / relative / "__init__.py").is_file())


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def absolute(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def private_uses(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every ``module._name`` or ``from module import _name`` reaching another fastsdm module.

    ``module`` is the dotted name of the file, ``is_package`` whether it is an
    ``__init__.py``.  Returns (line, text) pairs.
    """
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    modules: dict[str, str] = {}  # local name -> the fastsdm module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fastsdm":
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules["fastsdm"] = "fastsdm"
        elif isinstance(node, ast.ImportFrom):
            source_module = absolute(node, package)
            if not source_module or source_module.split(".")[0] != "fastsdm":
                continue
            for alias in node.names:
                target = f"{source_module}.{alias.name}"
                if is_module(target):
                    modules[alias.asname or alias.name] = target
                elif is_private(alias.name) and source_module != module:
                    found.append((node.lineno, f"from {source_module} import {alias.name}"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        chain = dotted(node)
        if chain is None or chain[0] not in modules:
            continue
        # Follow the chain through modules: fastsdm._kernels.counters._x names
        # the private module _kernels (fine) and then counters' private _x.
        target = modules[chain[0]]
        for name in chain[1:-1]:
            if not is_module(f"{target}.{name}"):
                break
            target = f"{target}.{name}"
        else:
            if not is_module(f"{target}.{chain[-1]}") and target != module:
                found.append((node.lineno, ".".join(chain)))
    return found


def package_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_uses_another_modules_private_names():
    violations = []
    used_exceptions = set()
    for path in package_files():
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for line, text in private_uses(path.read_text(encoding="utf-8"), module_name(path),
                                       path.name == "__init__.py"):
            if (rel, text) in KNOWN_EXCEPTIONS:
                used_exceptions.add((rel, text))
            else:
                violations.append(f"{rel}:{line}: {text}")
    assert not violations, (
        "modules reach into other modules' private names (share a non-underscore name of a "
        "private module instead):\n" + "\n".join(violations))
    # An exception that no longer occurs must leave the list.
    assert used_exceptions == KNOWN_EXCEPTIONS


@pytest.mark.parametrize("source, expected", [
    ("from ._kernels import counters as _c\n_c._finish_read()\n", ["_c._finish_read"]),
    ("from . import search\nsearch._scan()\n", ["search._scan"]),
    ("import fastsdm.search as s\ns._scan()\n", ["s._scan"]),
    ("import fastsdm\nfastsdm._kernels.counters._finish_read()\n",
     ["fastsdm._kernels.counters._finish_read"]),
    ("from .search import _scan\n", ["from fastsdm.search import _scan"]),
    ("from .theory import _hamming\n_hamming._helper()\n", ["_hamming._helper"]),
    # Private modules themselves, public names of private modules, and one's own
    # names are fine; so are attributes of objects that are not modules.
    ("from ._kernels import counters as _c\n_c.scan_update(True)\n", []),
    ("import fastsdm\nfastsdm._jit.jit\n", []),
    ("from . import _validation\n_validation.as_bits\n", []),
    ("from .theory import _hamming\n", []),
    ("mem = object()\nmem._build()\nself._lock\n", []),
    ("import numpy as np\nnp._core\n", []),
])
def test_the_check_finds_private_uses(source, expected):
    found = [text for _, text in private_uses(source, "fastsdm.memory", False)]
    assert found == expected


def test_the_check_allows_a_module_its_own_names():
    source = "import fastsdm.memory as m\nm._helper\n"
    assert private_uses(source, "fastsdm.memory", False) == []


def imported_modules(path: Path) -> set[str]:
    """The fastsdm modules a file imports, at any depth (lazy imports too), TYPE_CHECKING aside."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fastsdm."))
        elif isinstance(node, ast.ImportFrom):
            source = absolute(node, package)
            if not source or source.split(".")[0] != "fastsdm":
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                found.add(target if is_module(target) else source)
    # ``from . import _jit`` loads the package first but never depends on its face.
    found.discard("fastsdm")
    return found - {name}


def test_no_import_circle():
    """No module reaches itself through imports, lazy ones included (docs/architecture.rst)."""
    graph = {module_name(path): imported_modules(path) for path in package_files()}
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node] & graph.keys()):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_takes_a_name_from_the_package_face():
    """``from fastsdm import __version__`` would make a low module depend on the top one."""
    users = []
    for path in package_files():
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and absolute(node, package) == "fastsdm"
                    and any(not is_module(f"fastsdm.{a.name}") for a in node.names)):
                users.append(f"{name}:{node.lineno}")
    assert users == []


def test_one_address_block():
    """The seeded address blocks have one size; memory.py still spells it (rename pending)."""
    from fastsdm import _hyperplane, _layout, continuous, memory

    assert memory.ADDRESS_BLOCK == continuous.ADDRESS_BLOCK == _hyperplane.ADDRESS_BLOCK
    assert _layout.ADDRESS_BLOCK == 1 << 16 == memory.ADDRESS_BLOCK


def test_the_package_declares_its_type_hints():
    # PEP 561: without py.typed, type checkers treat the installed package as untyped.
    from importlib import resources

    assert resources.files("fastsdm").joinpath("py.typed").is_file()
