"""A real PostgreSQL server for the test session, and a fresh database per test.

``pg_server`` starts Debian's PostgreSQL binaries (``pg_config --bindir``, else the
newest ``/usr/lib/postgresql/*/bin``) on 127.0.0.1 and a free port, with its data and
socket in a temporary directory (initdb ``-A trust``: no passwords), and stops it when
the session ends. As root, initdb and pg_ctl run as the ``postgres`` user (PostgreSQL
refuses to run as root). ``pg_url`` creates an empty database for one test and drops it
afterwards.

Without the binaries the tests that need them are skipped, or fail when
``CXLOOP_REQUIRE_POSTGRES=1`` (CI sets it so a missing server is not a silent skip).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE = "CXLOOP_REQUIRE_POSTGRES"


def _bindir() -> Path | None:
    """Where initdb and pg_ctl are, or None."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            candidates.append(Path(found))

    def version(p: Path) -> int:
        name = p.parent.name
        return int(name) if name.isdigit() else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 requires PostgreSQL")
    pytest.skip(f"{reason} (install Debian's postgresql package to run these tests)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One throw-away PostgreSQL cluster."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # not under pytest's tmp dirs: those are 0700 root, and the server runs as postgres
        self.root = Path(tempfile.mkdtemp(prefix="cxloop-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=self.root, timeout=120
        )

    def start(self) -> None:
        init = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        if started.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{log}")

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The base URL of a PostgreSQL server running for this test session
    (``postgresql://postgres@127.0.0.1:PORT``; add ``/dbname``)."""
    bindir = _bindir()
    if bindir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    server = PgServer(bindir)
    try:
        server.start()
    except Exception as exc:
        server.stop()
        _unavailable(f"could not start PostgreSQL from {bindir}: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test; its URL."""
    import psycopg

    from cxloop.store import db

    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_server}/{name}"
    try:
        yield url
    finally:
        db.close_pools(url)
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(f"{pg_server}/postgres", autocommit=True) as con,
        ):
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
