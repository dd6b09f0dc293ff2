"""Architecture rules of issue 12, checked on the source of ``simkit/``.

Each rule finds its violations as (line, what) in every module and fails with
``path:line [rule] what``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simkit"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

# Tolerated violations ("path:rule"); keep it empty.
KNOWN: set[str] = set()


def _modules() -> list[tuple[str, ast.Module, int]]:
    """(relative path, syntax tree, line count) of every module in simkit/."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found.append((path.relative_to(ROOT).as_posix(), ast.parse(text), len(text.splitlines())))
    return found


MODULES = _modules()


def _module_name(path: str) -> str:
    name = path[: -len(".py")].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _under(path: str, *folders: str) -> bool:
    return any(path == folder or path.startswith(folder + "/") for folder in folders)


def _private_reaches(path: str, tree: ast.Module) -> list[tuple[int, str]]:
    """Private names imported from, or read off, another simkit module."""
    own = _module_name(path)
    package = own if path.endswith("__init__.py") else own.rpartition(".")[0]
    aliases: dict[str, str] = {}  # local name -> imported simkit module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if not base.startswith("simkit"):
                continue
            for alias in node.names:
                if _is_private(alias.name) and base != own:
                    found.append((node.lineno, f"imports {base}.{alias.name}"))
                else:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("simkit") and alias.name != own:
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append((node.lineno, f"reads {aliases[node.value.id]}.{node.attr}"))
    return found


def _long_functions(tree: ast.Module) -> list[tuple[int, str]]:
    """Functions and methods longer than the limit, from ``def`` to their last line."""
    return [
        (node.lineno, f"{node.name} has {node.end_lineno - node.lineno + 1} lines")
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def _imports_of(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """Imports of ``module`` or one of its submodules."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(name == module or name.startswith(module + ".") for name in names):
            found.append((node.lineno, f"imports {module}"))
    return found


def _environment_uses(tree: ast.Module) -> list[tuple[int, str]]:
    """Reads or writes of the process environment."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"}:
            found.append((node.lineno, f"uses os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [(node.lineno, f"imports os.{a.name}") for a in node.names
                      if a.name in {"environ", "getenv", "putenv"}]
    return found


def _prints(tree: ast.Module) -> list[tuple[int, str]]:
    return [
        (node.lineno, "calls print")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]


def _check(rule: str, found_in) -> None:
    """Fail on violations of ``rule`` that ``KNOWN`` does not list."""
    new = [
        f"{path}:{line} [{rule}] {what}"
        for path, tree, lines in MODULES
        for line, what in found_in(path, tree, lines)
        if f"{path}:{rule}" not in KNOWN
    ]
    assert not new, "\n".join(new)


def test_no_private_reaches() -> None:
    _check("private", lambda path, tree, lines: _private_reaches(path, tree))


def test_module_length() -> None:
    _check("module-lines",
           lambda path, tree, lines: [(1, f"{lines} lines")] if lines > MAX_MODULE_LINES else [])


def test_function_length() -> None:
    _check("function-lines", lambda path, tree, lines: _long_functions(tree))


def test_argparse_only_in_cli() -> None:
    _check("argparse", lambda path, tree, lines:
           [] if _under(path, "simkit/cli") else _imports_of(tree, "argparse"))


def test_environment_only_in_config_and_cli() -> None:
    # Writes count too (os.environ.setdefault): they belong in config, beside the reads.
    allowed = ("simkit/config.py", "simkit/cli")
    _check("environ", lambda path, tree, lines:
           [] if _under(path, *allowed) else _environment_uses(tree))


def test_print_only_in_cli_and_widgets() -> None:
    _check("print", lambda path, tree, lines:
           [] if _under(path, "simkit/cli", "simkit/widgets") else _prints(tree))


@pytest.mark.parametrize("path", ["simkit/a/b.py", "simkit/a/__init__.py"])
def test_private_reach_detection(path: str) -> None:
    source = ("from simkit.x import _y, z\nimport simkit.w as w\nfrom . import m\n"
              "w._v; z._u; m._t; w.__doc__; _y\n")
    found = {what for _, what in _private_reaches(path, ast.parse(source))}
    assert found == {"imports simkit.x._y", "reads simkit.w._v", "reads simkit.x.z._u",
                     "reads simkit.a.m._t"}
