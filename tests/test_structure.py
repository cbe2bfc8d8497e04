"""Structure checks: every module imports, no import circles, layers import one way.

The import graph is read from each module's *module-scope* import statements (``ast``):
function-local imports are lazy by design and ``if TYPE_CHECKING:`` blocks never run, so
neither makes an edge. Importing ``a.b.c`` also runs the ``__init__`` of package ``a.b``, so
an import adds edges to the packages enclosing its target too (except packages enclosing the
importer, which are already being imported): a circle through a subpackage ``__init__``'s
re-exports shows up like any other.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import clinflow

ROOT = "clinflow"
# ``python -m clinflow`` runs the CLI when imported, so it is parsed but not imported.
NOT_IMPORTED = {"clinflow.__main__": "importing it runs the CLI"}

# Capabilities and core modules never import the application layers above them.
LOWER_PACKAGES = (
    "clinflow.audit",
    "clinflow.consent",
    "clinflow.crypto",
    "clinflow.deid",
    "clinflow.ehr",
    "clinflow.scoring",
    "clinflow.sinks",
    "clinflow.synthetic",
)
UPPER = (
    "clinflow.api",
    "clinflow.cli",
    "clinflow.commands_registry",
    "clinflow.runtime",
    "clinflow.serve_commands",
)
# Only the CLI's entry points import command modules (``*commands`` / ``*cli``).
CLI_IMPORTERS = {"clinflow.__main__", "clinflow.cli", "clinflow.commands_registry"}


@dataclass(frozen=True, slots=True)
class Import:
    target: str
    line: int
    lazy: bool  # inside a function: runs on call, not at import

    def at(self, module: str) -> str:
        return f"{module}:{self.line} -> {self.target}"


@cache
def modules() -> dict[str, Path]:
    """Every module under src/clinflow: dotted name -> source file."""
    found = {ROOT: Path(clinflow.__file__)}
    for info in pkgutil.walk_packages(clinflow.__path__, prefix=f"{ROOT}."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None, info.name
        found[info.name] = Path(spec.origin)
    return found


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def enclosing(name: str) -> Iterator[str]:
    """``a.b.c`` -> ``a.b``, ``a``."""
    while "." in name:
        name = name.rpartition(".")[0]
        yield name


def is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def statements(body: list[ast.stmt], lazy: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Import statements with whether they are lazy (in a function); skips TYPE_CHECKING."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, lazy
        elif isinstance(node, ast.If):
            if not is_type_checking(node.test):
                yield from statements(node.body, lazy)
            yield from statements(node.orelse, lazy)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from statements(block, lazy)
            for handler in node.handlers:
                yield from statements(handler.body, lazy)
        elif isinstance(node, ast.With | ast.ClassDef):  # both run at import time
            yield from statements(node.body, lazy)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from statements(node.body, True)


def absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


@cache
def imports(module: str) -> tuple[Import, ...]:
    """The clinflow modules ``module`` imports, with enclosing packages made explicit."""
    known = modules()
    tree = ast.parse(known[module].read_text(encoding="utf-8"), str(known[module]))
    direct: list[tuple[str, int, bool]] = []
    for node, lazy in statements(tree.body):
        if isinstance(node, ast.Import):
            direct += [(alias.name, node.lineno, lazy) for alias in node.names]
        else:
            source = absolute(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"  # ``from pkg import submodule``
                direct.append((submodule if submodule in known else source, node.lineno, lazy))
    found: dict[tuple[str, bool], Import] = {}
    inside = set(enclosing(module))
    for target, line, lazy in direct:
        if target != ROOT and not target.startswith(f"{ROOT}."):
            continue
        while target not in known:  # ``import clinflow.x.name`` of a non-module name
            target = target.rpartition(".")[0]
        chain = [target, *(p for p in enclosing(target) if p not in inside)]
        for reached in chain:
            if reached != module:
                found.setdefault((reached, lazy), Import(reached, line, lazy))
    return tuple(found.values())


def graph() -> dict[str, dict[str, Import]]:
    """Module-scope edges: importer -> {imported: the import statement}."""
    return {name: {imp.target: imp for imp in imports(name) if not imp.lazy} for name in modules()}


def strongly_connected(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm: components of more than one module (each one a circle or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(f"{prefix}.")


def is_cli(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last.endswith("commands") or last.endswith("cli")


def is_lower(name: str) -> bool:
    """Capabilities, and the top-level core modules (envelope, errors, config, ...)."""
    if any(within(name, package) for package in LOWER_PACKAGES):
        return True
    top_level = name.count(".") == 1 and not is_package(name)
    return top_level and not is_cli(name) and name not in UPPER and name not in NOT_IMPORTED


def test_every_module_imports() -> None:
    failures = []
    for name in modules():
        if name in NOT_IMPORTED:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every failing module at once
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failures, "modules that fail to import:\n" + "\n".join(failures)


def test_every_source_file_is_a_listed_module() -> None:
    names = modules()
    assert {"clinflow.audit.store", "clinflow.scoring.service", "clinflow.cli"} <= set(names)
    on_disk = {
        path.resolve() for path in Path(clinflow.__file__).parent.rglob("*.py") if path.is_file()
    }
    assert on_disk <= {path.resolve() for path in names.values()}


def test_no_import_circles() -> None:
    edges = graph()
    circles = []
    for component in strongly_connected(edges):
        members = set(component)
        lines = [
            f"    {imp.at(name)}"
            for name in component
            for target, imp in sorted(edges[name].items())
            if target in members
        ]
        circles.append(" <-> ".join(component) + "\n" + "\n".join(lines))
    assert not circles, "module-scope import circles:\n" + "\n".join(circles)


def test_the_circle_finder_finds_circles() -> None:
    def edge(target: str) -> Import:
        return Import(target, 1, False)

    edges = {
        "a": {"b": edge("b")},
        "b": {"c": edge("c")},
        "c": {"a": edge("a")},
        "d": {"a": edge("a")},
    }
    assert strongly_connected(edges) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b": edge("b")}, "b": {}}) == []


def test_packages_enclosing_a_target_are_edges() -> None:
    # ``clinflow.runtime.pipeline`` imports ``clinflow.audit`` names: the audit package's
    # ``__init__`` is an edge, and ``from clinflow.audit import events`` reaches the module.
    targets = {imp.target for imp in imports("clinflow.runtime.pipeline") if not imp.lazy}
    assert {"clinflow.audit", "clinflow.audit.events", "clinflow.consent"} <= targets


def test_capabilities_and_core_do_not_import_the_application_layers() -> None:
    lower = [name for name in modules() if is_lower(name)]
    assert {"clinflow.errors", "clinflow.envelope", "clinflow.audit.store"} <= set(lower)
    upward = [
        imp.at(name)
        for name in lower
        for imp in imports(name)
        if not imp.lazy and any(within(imp.target, upper) for upper in UPPER)
    ]
    assert not upward, "module-scope imports of cli/registry/serve/runtime/api:\n" + "\n".join(
        upward
    )


def test_only_the_cli_entry_points_import_command_modules() -> None:
    # Lazy imports count too: a library module must not reach into a typer module at all.
    wrong = [
        imp.at(name)
        for name in modules()
        if name not in CLI_IMPORTERS
        for imp in imports(name)
        if is_cli(imp.target)
    ]
    assert not wrong, "command modules imported outside cli/commands_registry:\n" + "\n".join(wrong)


def test_no_private_names_imported_across_modules() -> None:
    private = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and absolute(name, node).startswith(ROOT):
                private += [
                    f"{name}:{node.lineno} imports {alias.name} from {absolute(name, node)}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert not private, "private names imported across modules:\n" + "\n".join(private)
