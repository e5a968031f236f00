"""The architecture as a test: walks every module's imports (ast) and fails on an arrow that points the
wrong way. Pure domain modules are the ones pyproject.toml has mypy check strictly outside leadrelay/
(one list, two uses; the strict override is the one requiring annotations): neither they nor anything
of ours they import at run time imports grpc, asyncpg or aiohttp."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("ingest_service", "validation_service", "feedback_service", "reports_app", "sandbox")
OURS = ("leadrelay", "ops", *SERVICES)
IO_LIBRARIES = ("grpc", "asyncpg", "aiohttp")


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    runtime: bool  # False under `if TYPE_CHECKING:` (annotations only)
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for top in OURS:
        for path in (ROOT / top).rglob("*.py"):
            if "v1" not in path.relative_to(ROOT).parts:  # generated protobuf code
                found[module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path) -> Iterator[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(node: ast.AST, runtime: bool, in_function: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, runtime, in_function)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield Import(target, node.lineno, runtime, in_function)
            # `from pkg import module` imports a module too: count the arrow to it.
            for alias in node.names:
                yield Import(f"{target}.{alias.name}", node.lineno, runtime, in_function)
        else:
            if isinstance(node, ast.If) and _is_type_checking(node):
                runtime = False
            in_function = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for child in ast.iter_child_nodes(node):
                yield from walk(child, runtime, in_function)

    yield from walk(ast.parse(path.read_text(), str(path)), True, False)


def graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    known = modules()
    return {
        name: {
            i.target
            for i in imports(name, path)
            if i.target in known and i.target != name and (i.runtime or not runtime_only)
        }
        for name, path in known.items()
    }


def top(name: str) -> str:
    return name.split(".")[0]


def pure_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pure: list[str] = []
    for override in config["tool"]["mypy"].get("overrides", []):
        if override.get("disallow_untyped_defs"):
            names = override["module"]
            pure += [names] if isinstance(names, str) else names
    return [name for name in pure if top(name) != "leadrelay"]


def reached(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every module of ours that importing `start` runs (itself included)."""
    seen = {start}
    todo = [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_shared_library_never_imports_a_service_or_ops():
    wrong = {
        (a, b) for a, targets in graph().items() for b in targets if top(a) == "leadrelay" and top(b) != "leadrelay"
    }
    assert not wrong, sorted(wrong)


def test_no_service_imports_another_service():
    wrong = {
        (a, b)
        for a, targets in graph().items()
        for b in targets
        if top(a) in SERVICES and top(b) in SERVICES and top(a) != top(b)
    }
    assert not wrong, sorted(wrong)


def test_nothing_imports_ops():
    wrong = {(a, b) for a, targets in graph().items() for b in targets if top(b) == "ops" and top(a) != "ops"}
    assert not wrong, sorted(wrong)


def test_pure_domain_modules_import_no_io_library_even_through_our_modules():
    known = modules()
    edges = graph(runtime_only=True)
    listed = pure_modules()
    assert listed, "pyproject.toml lists the pure modules in a strict mypy override"
    wrong = []
    for name in listed:
        assert name in known, f"{name} is listed as pure but does not exist"
        for module in sorted(reached(name, edges)):
            bad = sorted(
                {i.target for i in imports(module, known[module]) if i.runtime and top(i.target) in IO_LIBRARIES}
            )
            if bad:
                wrong.append(f"{name} runs {module}, which imports {', '.join(bad)}")
    assert not wrong, wrong


def test_our_modules_import_each_other_at_the_top_of_the_module():
    # A function-local import of our own code hides an arrow (usually one dodging a circle) from a reader.
    known = modules()
    wrong = [
        f"{name}:{i.line} imports {i.target}"
        for name, path in known.items()
        for i in imports(name, path)
        if i.in_function and top(i.target) in OURS
    ]
    assert not wrong, wrong


def test_there_is_no_import_circle():
    edges = graph(runtime_only=True)
    # Tarjan's strongly connected components: any component of two or more modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert not circles, circles
