"""The shape of the code: tag keys in one module, no function in controller/ or cli/ longer than 80 lines, no import cycles
among fleetctl.controller and fleetctl.cli modules (module-level imports; an import inside a
function is deferred on purpose and cannot form a cycle at import time)."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.conftest import REPO

MAX_LINES = 80
PACKAGES = ("controller", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out["fleetctl." + ".".join(parts)] = path
    return out


MODULES = _modules()


@cache
def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text())


def test_the_scan_sees_the_code() -> None:
    assert "fleetctl.controller.apply" in MODULES and "fleetctl.cli.app" in MODULES
    assert len(MODULES) > 50


def _long_functions(tree: ast.AST, path: Path) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_LINES:
                out.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} is {length} lines")
    return out


def test_no_function_is_longer_than_80_lines() -> None:
    long = [line for name, path in MODULES.items() for line in _long_functions(_tree(name), path)]
    assert long == [], "\n".join(long)


def test_the_length_check_is_not_vacuous() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    assert _long_functions(ast.parse(f"def f():\n{body}\n"), REPO / "x.py")
    assert not _long_functions(ast.parse(f"def f():\n{body[:body.rindex(chr(10))]}\n"), REPO / "x.py")


def _imports(name: str, tree: ast.Module) -> set[str]:
    """fleetctl modules `name` imports at module level (`if TYPE_CHECKING:` blocks excluded)."""
    package = name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])

    visit(tree.body)
    # a module's own packages are imported before it anyway: not an edge that can close a cycle
    ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count("."))}
    return {m for m in found if m in MODULES and m != name and m not in ancestors}


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, _tree(name)) for name in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a path that comes back to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    assert sum(len(v) for v in graph.values()) > 100  # the scan found the imports
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_is_not_vacuous() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_tag_keys_are_spelled_only_in_the_tags_module() -> None:
    """Every `fleetctl.io/` key lives in controller/tags.py (docstrings may mention them)."""
    found = []
    for name, path in MODULES.items():
        if name == "fleetctl.controller.tags":
            continue
        tree = _tree(name)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(REPO)}:{n.lineno}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and "fleetctl.io/" in n.value
                  and id(n) not in docstrings]
    assert found == []


def _aws_calls(tree: ast.AST, path: Path) -> list[str]:
    """`x.call("service", "operation", ...)` and `x.paginate("service", ...)` calls: a request sent."""
    return [f"{path.relative_to(REPO)}:{n.lineno}" for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("call", "paginate")
            and len(n.args) >= 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in n.args[:2])]


def test_only_the_aws_seam_sends_requests() -> None:
    """Every AWS request is built and sent in controller/aws/; the rest of the code calls its functions."""
    found = []
    for name, path in MODULES.items():
        if not name.startswith("fleetctl.controller.aws"):
            found += _aws_calls(_tree(name), path)
    assert found == []


def test_the_request_check_is_not_vacuous() -> None:
    seam = [path for name, path in MODULES.items() if name == "fleetctl.controller.aws.lease_item"]
    assert seam and _aws_calls(_tree("fleetctl.controller.aws.lease_item"), seam[0])
