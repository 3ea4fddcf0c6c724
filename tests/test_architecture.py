"""The rooms keep their arrows (docs/architecture.md), read from every module's imports with `ast`.

bot/ (the runtime core) imports neither the business (actions/), the channels (connectors/) nor
operations (ops/), except bot/__main__.py, the old name of the command line; connectors keep no
SQL of their own; actions never reach into a channel. And no function is longer than a reader can
hold in their head (60 lines), outside tests and migrations.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 60


def _modules(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if "__pycache__" not in p.parts)


def _package_of(path: Path, root: Path) -> list[str]:
    """The dotted package a module file belongs to, as parts: what `from .` means there."""
    return list(path.relative_to(root).parent.parts)


def imported(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, top-level or inside functions, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path, root)
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def violations(room: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """`path: module` for each import in `room` of a package in `forbidden`."""
    found = []
    for path in _modules(room):
        relative = str(path.relative_to(ROOT))
        if relative in allowed:
            continue
        for name in sorted(imported(path)):
            if name.split(".")[0] in forbidden:
                found.append(f"{relative}: {name}")
    return found


def long_functions() -> list[str]:
    """`path:function (lines)` for each function over the limit, outside tests and migrations."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("tests", ".venv") or "migrations" in parts or "__pycache__" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{'/'.join(parts)}:{node.name} ({lines})")
    return found


def test_the_reader_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    """The checks below are only as good as `imported`: it must not miss the sneaky forms."""
    (tmp_path / "bot" / "nlu").mkdir(parents=True)
    module = tmp_path / "bot" / "nlu" / "probe.py"
    module.write_text("from ..store import models\ndef f():\n    import actions.backend\n    from . import entities\n")
    package = tmp_path / "bot" / "nlu" / "__init__.py"
    package.write_text("from .probe import f\n")
    assert {"bot.store", "bot.store.models", "actions.backend", "bot.nlu", "bot.nlu.entities"} <= imported(module, tmp_path)
    assert "bot.nlu.probe" in imported(package, tmp_path)


def test_the_core_imports_neither_business_nor_channels_nor_operations() -> None:
    assert violations("bot", ("actions", "connectors", "ops"), allowed=("bot/__main__.py",)) == []


def test_the_alias_is_the_only_core_module_that_reaches_operations() -> None:
    assert violations("bot", ("ops",)) == ["bot/__main__.py: ops.cli", "bot/__main__.py: ops.cli.main"]


def test_connectors_run_no_sql_of_their_own() -> None:
    assert violations("connectors", ("sqlalchemy",)) == []


def test_the_business_does_not_reach_into_channels() -> None:
    assert violations("actions", ("connectors", "ops")) == []


def test_no_function_is_longer_than_a_reader_can_hold() -> None:
    assert long_functions() == []
