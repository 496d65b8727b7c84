"""The code's shape: layers import one way (schemas <- transforms <- pipeline) and no module
imports itself back through others, imports inside functions included."""
from __future__ import annotations

import ast
import pathlib

from tests.conftest import REPO

LAYERS = {"schemas": 0, "transforms": 1, "pipeline": 2}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for layer in LAYERS for p in sorted((REPO / layer).rglob("*.py"))}


def _imports(path: pathlib.Path, modules: set[str], package: str = "") -> set[str]:
    """Project modules a file imports, wherever the import is: statements (absolute or relative
    to ``package``) and ``importlib.import_module`` / ``__import__`` calls with a literal name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from transforms import faults` imports transforms.faults; `from x.y import name` imports x.y
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        elif isinstance(node, ast.Call) and _callee(node) in ("import_module", "__import__") and node.args:
            first = node.args[0]
            names = [first.value] if isinstance(first, ast.Constant) and isinstance(first.value, str) else []
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: _imports(path, set(modules), name if path.name == "__init__.py" else name.rpartition(".")[0]) - {name}
        for name, path in modules.items()
    }


def test_layers_import_only_downwards():
    wrong = [
        f"{module} imports {imported}"
        for module, imports in _graph().items()
        for imported in imports
        if LAYERS[imported.split(".")[0]] > LAYERS[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycles():
    graph = _graph()
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join(trail[trail.index(imported) :] + [module, imported]))
            elif imported not in state:
                visit(imported, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_checker_sees_imports_inside_functions_relative_and_dynamic(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "def f():\n    from transforms import faults\n    import schemas.article\n"
        "    from .clean import CleanArticles\n    from . import text\n"
        "    importlib.import_module('pipeline.ledger')\n"
    )
    modules = {"transforms.faults", "schemas.article", "transforms", "transforms.clean", "transforms.text", "pipeline.ledger"}
    assert _imports(path, modules, "transforms") == modules - {"transforms"}
