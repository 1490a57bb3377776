"""The layering the docs promise, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src" / "cxloop"
IO_MODULES = {
    "os",
    "io",
    "pathlib",
    "sqlite3",
    "duckdb",
    "ibis",
    "pandas",
    "pyarrow",
    "socket",
    "subprocess",
    "shutil",
    "tempfile",
    "http",
    "urllib",
    "requests",
    "httpx",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_has_no_io_imports() -> None:
    for path in (SRC / "domain").glob("*.py"):
        found = imports(path) & IO_MODULES
        assert not found, f"{path.name} imports {sorted(found)}"
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("cxloop")
            ):
                assert node.module.startswith(("cxloop.domain", "cxloop.errors")), node.module


def test_analytics_are_expressions_not_sql_strings() -> None:
    for path in (SRC / "analytics").glob("*.py"):
        text = path.read_text()  # SQL keywords in capitals; prose ("one join") is fine
        for keyword in ("SELECT ", "GROUP BY", "CREATE ", " JOIN ", "read_parquet("):
            assert keyword not in text, f"{path.name} contains SQL ({keyword.strip()})"
        assert "duckdb" not in imports(path), path.name


def test_every_engine_implements_the_protocol_and_the_settings_know_it() -> None:
    """A new engine is one module and one registry entry: the settings accept exactly the
    registered names, and each adapter has every method of the protocol."""
    import inspect

    from cxloop import engines, settings
    from cxloop.engines.base import Engine
    from cxloop.engines.spark import SparkEngine

    assert set(settings.ENGINES) - {""} == set(engines.ENGINES)
    wanted = {n for n, _ in inspect.getmembers(Engine) if not n.startswith("_")}
    assert {"backend", "events", "cache", "save", "saved", "drop_saved"} <= wanted
    for cls in (engines.DuckDBEngine, engines.PostgresEngine, SparkEngine):
        missing = {n for n in wanted if not hasattr(cls, n)}
        assert not missing, f"{cls.__name__} lacks {sorted(missing)}"
