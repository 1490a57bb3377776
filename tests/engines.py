"""The engine contract's stores, built once per test process and shared by every
``tests/test_backends*.py`` module (they run on one xdist worker: tests/scheduling.py).

Each backend's store is a copy of the demo store (PostgreSQL: its log imported into a
database of its own) and :data:`reference` the embedded copy whose answers they must give.
A module used to get its own copies (a fixture imported into a module is that module's own):
every module then paid the PostgreSQL import and a ledger build on each engine again. The
contract tests only read these stores, but for the state the reports contract writes (cases,
incidents) and ``compact`` (the same rows, rewritten): a test that changes a store's log or
ledger makes its own (``tmp_path``), as the ingest contract does.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

import cxloop
from cxloop.errors import Unsupported
from cxloop.services.log.transfer import export_log, import_log
from cxloop.store import db
from cxloop.workspace.workspace import Workspace

ENGINES = ("embedded", "postgres", "spark")  # the three the issue names
BACKENDS = (*ENGINES, "spark-export")  # + Spark reading an export, as on an object store

#: what each backend cannot do, and the exception it raises instead
UNSUPPORTED: dict[str, dict[str, type[Exception]]] = {
    "embedded": {},
    "postgres": {},
    "spark": {},
    # Spark reading an external Parquet export: cxloop does not write that log
    "spark-export": {"ingest": Unsupported, "import": Unsupported, "compact": Unsupported},
}


def new_database(base: str, name: str) -> str:
    """A new, migrated PostgreSQL database on the session's server; its URL."""
    with psycopg.connect(base + "/postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    db.migrate(url)
    return url


_DATABASES = itertools.count(1)


@dataclass
class Backend:
    name: str
    home: Path
    settings: dict[str, str] = field(default_factory=dict)

    def open(self, home: Path | None = None, **extra: str) -> Workspace:
        return Workspace.open(home or self.home, **{**self.settings, **extra})

    def cx(self) -> cxloop.Cxloop:
        return cxloop.Cxloop(self.open())

    def does(self, op: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; where the backend declares ``op`` unsupported, check it raises."""
        exc = UNSUPPORTED[self.name].get(op)
        if exc is None:
            return action()
        with pytest.raises(exc):
            action()
        return None


@pytest.fixture(scope="session")
def demo_export(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "demo"
    ws = Workspace.open(demo_store)
    try:
        export_log(ws, out)
    finally:
        ws.close()
    return out


@pytest.fixture(scope="session")
def reference(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo store on the embedded backend: the answers to match."""
    home = tmp_path_factory.mktemp("reference") / "store"
    shutil.copytree(demo_store, home)
    return home


def _make(
    name: str, demo_store: Path, demo_export: Path, home: Path, pg: Callable[[], str]
) -> Backend:
    if name == "postgres":
        b = Backend(
            name, home, {"database_url": new_database(pg(), f"contract_{next(_DATABASES)}")}
        )
        # the texts' embeddings (cached by text) travel too: the text models are not what
        # this suite tests, and embedding them again would cost a minute
        shutil.copytree(demo_store / "voice", home / "voice")
        ws = b.open()
        try:
            report = import_log(ws, demo_export)  # an embedded store's log moves to PostgreSQL
            assert report["verified"] and report["events_new"] > 0
        finally:
            ws.close()
        return b
    shutil.copytree(demo_store, home)
    settings = {"engine": "spark"} if name.startswith("spark") else {}
    if name == "spark-export":
        settings["spark_events"] = str(demo_export / "events.parquet")
    return Backend(name, home, settings)


@pytest.fixture(scope="session")
def _backends() -> dict[str, Backend]:
    """The backends built so far: ``backend`` may be set up again for a name (pytest
    tears a parametrised fixture down when the next test asks for another parameter)."""
    return {}


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    demo_store: Path,
    demo_export: Path,
    _backends: dict[str, Backend],
    tmp_path_factory: pytest.TempPathFactory,
) -> Backend:
    name = request.param
    if name not in _backends:
        home = tmp_path_factory.mktemp(name) / "store"
        pg = lambda: str(request.getfixturevalue("pg_server"))  # noqa: E731
        _backends[name] = _make(name, demo_store, demo_export, home, pg)
    return _backends[name]
