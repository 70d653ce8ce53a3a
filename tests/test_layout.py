"""The package's data flow: datasets -> data (the pipelines) -> models -> losses and evaluation
(metrics, TTA, scoring) -> training -> export -> benchmark -> commands. No module imports one
downstream of it (read from the source, so lazy imports inside functions count too); the
package root holds at most 8 modules, and every package's __init__.py is a lazy table."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_deconvnet"

# Top-level module or subpackage -> its place in the flow; equal places may import each other.
FLOW = {
    "__init__": 0, "errors": 0, "constants": 0, "files": 0, "process": 0, "lazy": 0,
    "datasets": 1,
    "data": 2,
    "models": 3,
    "losses": 4, "evaluation": 4,
    "training": 5,
    "export": 6,
    "benchmark": 8,
    "commands": 9, "__main__": 9,
}


def _is_part(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir()


def _homes(init: Path) -> dict[str, str]:
    """A package's lazily imported names -> the submodule each comes from (its `_HOMES` table)."""
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["_HOMES"]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{init} has no _HOMES table")


def _lazy_homes() -> dict[str, str]:
    """The package's lazily imported names -> the part each comes from."""
    return _homes(PACKAGE / "__init__.py")


LAZY_HOMES = _lazy_homes()


def _facade_part(name: str) -> str:
    """The part that `from keras_deconvnet import name` really imports."""
    if _is_part(name):
        return name
    return LAZY_HOMES.get(name, "__init__")


def imported_parts(path: Path) -> set[str]:
    """The top-level parts of keras_deconvnet that a source file imports; a name the package
    imports lazily (`from keras_deconvnet import build_model`) counts as the part it comes from."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "keras_deconvnet":
            parts.update(_facade_part(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_deconvnet."):
            parts.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            parts.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("keras_deconvnet."))
    return parts


def test_no_module_imports_against_the_data_flow():
    against = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        assert part in FLOW, f"{part}: give it a place in FLOW"
        for imported in imported_parts(path) - {part}:
            if FLOW[imported] > FLOW[part]:
                against.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert against == []


def test_an_import_against_the_flow_is_seen(tmp_path):
    source = tmp_path / "check.py"
    source.write_text("def f():\n    from keras_deconvnet.evaluation import segment\n")
    assert imported_parts(source) == {"evaluation"}
    source.write_text("from keras_deconvnet import losses, __version__\nimport keras_deconvnet.export.tflite\n")
    assert imported_parts(source) == {"losses", "__init__", "export"}
    source.write_text("from keras_deconvnet import build_model, UsageError\n")
    assert imported_parts(source) == {"models", "__init__"}


def test_every_package_init_is_a_lazy_table_of_its_submodules():
    for init in sorted(PACKAGE.rglob("__init__.py")):
        tree = ast.parse(init.read_text())
        code = [node for node in tree.body if not isinstance(node, (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign))]
        assert code == [], f"{init.relative_to(PACKAGE)} holds code; move it into a named module"
        homes = _homes(init)
        assert all((init.parent / f"{module}.py").is_file() or (init.parent / module).is_dir() for module in homes.values())


def test_the_package_root_holds_few_modules():
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(modules) <= 8, modules
