"""Where the operational state lives, and one way to talk to it: SQLite or PostgreSQL.

The state (ingest runs, quarantine, cases, approvals, the audit log, API keys, the
outbox, ...) is one SQLite file in the store's home by default (WAL, so a server and the
CLI share it), or a PostgreSQL database when ``database_url`` is set. Its SQL is written
once, for both: ``?`` (or ``:name``) placeholders, ``INSERT ... ON CONFLICT``,
``RETURNING``. :func:`connect` opens one transaction (committed on success, rolled back
on error) and yields a :class:`Connection` whose rows answer ``row[0]``, ``row["name"]``
and ``dict(row)`` on both.

The schema is versioned by Alembic migrations (``cxloop.store.migrations``):
:func:`migrate` applies them, :func:`current_revision` tells where a database is. The
embedded SQLite file upgrades itself when opened (:func:`ensure_current`); a PostgreSQL
database is never migrated implicitly: ``cxloop migrate`` does it.

Errors of either database reach callers as :class:`IntegrityError` (a constraint or an
append-only trigger refused the change), :class:`OperationalError` (busy, unreachable)
or :class:`DatabaseError`, the original chained as ``__cause__``.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from cxloop.errors import Busy, ConfigError, StoreError

if TYPE_CHECKING:
    import psycopg

#: The revisions of the state schema, oldest first; the last is the head.
REVISIONS: tuple[str, ...] = (
    "0001_baseline",
    "0002_event_log",
    "0003_attr_casts",
    "0004_web_sessions",
    "0005_corrections",
)
HEAD = REVISIONS[-1]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key taken while migrating (concurrent `cxloop migrate` take turns)
MIGRATE_LOCK = 0x63786D6967

Dialect = Literal["sqlite", "postgresql"]
Target = str | Path  # a SQLite file, or a postgresql:// URL
Params = Sequence[Any] | Mapping[str, Any]


class DatabaseError(StoreError):
    """An error of the database (SQLite or PostgreSQL): part of the one error tree, so an
    edge that reports :class:`~cxloop.errors.CxloopError` reports it too."""


class IntegrityError(DatabaseError):
    """A constraint or an append-only trigger refused the change."""


class OperationalError(DatabaseError):
    """The database is busy, unreachable, or not in the expected shape."""


class DatabaseBusy(OperationalError, Busy):
    """The database stayed locked by another writer past the wait (SQLite's busy timeout,
    PostgreSQL's lock timeout): retry."""


def _busy(message: str) -> bool:
    text = message.lower()
    return "database is locked" in text or "lock timeout" in text or "is busy" in text


class Row(Protocol):
    """A result row: ``row[0]``, ``row["name"]``, ``dict(row)`` (like :class:`sqlite3.Row`)."""

    def keys(self) -> list[str]: ...
    def __getitem__(self, key: int | str, /) -> Any: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...


def is_postgres(target: Target) -> bool:
    return isinstance(target, str) and target.lower().startswith(("postgresql://", "postgres://"))


def dialect_of(target: Target) -> Dialect:
    return "postgresql" if is_postgres(target) else "sqlite"


def redact(target: Target) -> str:
    """The target for messages: a URL without its password."""
    if not is_postgres(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


# ---------------------------------------------------------------- errors


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Either database's errors as this module's (the original as ``__cause__``)."""
    try:
        yield
    except sqlite3.Error as exc:
        if isinstance(exc, sqlite3.IntegrityError):
            raise IntegrityError(str(exc)) from exc
        if isinstance(exc, sqlite3.OperationalError):
            mapped: type[OperationalError] = DatabaseBusy if _busy(str(exc)) else OperationalError
            raise mapped(str(exc)) from exc
        raise DatabaseError(str(exc)) from exc
    except Exception as exc:
        kind = _pg_error_kind(exc)
        if kind is None:
            raise
        diag = getattr(exc, "diag", None)
        message = getattr(diag, "message_primary", None) or str(exc).strip()
        raise kind(message) from exc


def _pg_error_kind(exc: Exception) -> type[DatabaseError] | None:
    if not type(exc).__module__.startswith("psycopg"):
        return None
    import psycopg

    if isinstance(exc, psycopg.IntegrityError):
        return IntegrityError
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return DatabaseBusy
    if isinstance(exc, psycopg.OperationalError):
        return OperationalError
    if isinstance(exc, psycopg.Error):
        return DatabaseError
    return None


# ---------------------------------------------------------------- SQL once, for both

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*|%")


@lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """SQLite-style placeholders as psycopg's: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``;
    a literal ``%`` (psycopg reads it even inside quotes) -> ``%%``; ``::`` casts kept."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token[0] in "'\"":
            return token.replace("%", "%%")
        if token == "::":
            return token
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return f"%({token[1:]})s"

    return _TOKENS.sub(sub, sql)


class _PgRow:
    """A PostgreSQL row that reads like :class:`sqlite3.Row`."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def keys(self) -> list[str]:
        return list(self._index)

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _PgRow):
            return self._values == other._values and self._index == other._index
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _pg_rows(cursor: Any) -> Any:
    """psycopg row factory: :class:`_PgRow`."""
    desc = cursor.description
    index = {d.name: i for i, d in enumerate(desc)} if desc else {}

    def make(values: Sequence[Any]) -> _PgRow:
        return _PgRow(values, index)

    return make


class Cursor:
    """The result of one statement."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)

    def fetchone(self) -> Row | None:
        with _mapped():
            row: Row | None = self._raw.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        with _mapped():
            rows: list[Row] = self._raw.fetchall()
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Connection:
    """One open transaction on the state, SQLite or PostgreSQL; SQL with ``?`` or
    ``:name`` placeholders."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect: Dialect = dialect

    def _sql(self, sql: str) -> str:
        return pg_sql(sql) if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        with _mapped():
            if self.dialect == "sqlite":
                return Cursor(self.raw.execute(sql, params))
            cur = self.raw.cursor()
            cur.execute(self._sql(sql), params)
            return Cursor(cur)

    def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        with _mapped():
            if self.dialect == "sqlite":
                return Cursor(self.raw.executemany(sql, seq))
            cur = self.raw.cursor()
            cur.executemany(self._sql(sql), list(seq))
            return Cursor(cur)


# ---------------------------------------------------------------- connections

SQLITE_TIMEOUT = 30.0  # seconds a writer waits for another (busy_timeout)


def _sqlite(path: Path, same_thread: bool = True) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=SQLITE_TIMEOUT, check_same_thread=same_thread)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA busy_timeout={int(SQLITE_TIMEOUT * 1000)}")
    except sqlite3.Error:
        con.close()
        raise
    con.row_factory = sqlite3.Row
    return con


class _Pool:
    """A few idle PostgreSQL connections to one URL, reused by this process's threads
    (a connect on loopback costs ~5 ms, a pooled statement ~0.15 ms)."""

    SIZE = 8
    MAX_IDLE = 300.0  # seconds: older idle connections are closed, not reused

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.idle: list[tuple[float, psycopg.Connection[Any]]] = []
        self.pid = os.getpid()

    def _forked(self) -> None:
        """In a forked child the parent's connections are not ours: never touch them."""
        if self.pid != os.getpid():
            _ORPHANS.extend(c for _, c in self.idle)  # kept referenced: no close, no warning
            self.idle = []
            self.pid = os.getpid()

    def get(self) -> psycopg.Connection[Any]:
        import psycopg

        now = time.monotonic()
        with self.lock:
            self._forked()
            while self.idle:
                since, con = self.idle.pop()
                if con.closed or now - since > self.MAX_IDLE:
                    _close(con)
                    continue
                return con
        try:
            return psycopg.connect(self.url, row_factory=_pg_rows, connect_timeout=30)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL store {redact(self.url)}: {exc}".strip()
            ) from None

    def put(self, con: psycopg.Connection[Any]) -> None:
        from psycopg.pq import TransactionStatus

        with self.lock:
            self._forked()
            reusable = (
                not con.closed
                and not con.broken
                and con.info.transaction_status == TransactionStatus.IDLE
                and len(self.idle) < self.SIZE
            )
            if reusable:
                self.idle.append((time.monotonic(), con))
                return
        _close(con)

    def close(self) -> None:
        with self.lock:
            self._forked()
            idle, self.idle = self.idle, []
        for _, con in idle:
            _close(con)


_POOLS: dict[str, _Pool] = {}
_POOLS_LOCK = threading.Lock()
_ORPHANS: list[Any] = []


def _close(con: Any) -> None:
    with contextlib.suppress(Exception):  # a broken connection: nothing to release
        con.close()


def _pool(url: str) -> _Pool:
    with _POOLS_LOCK:
        pool = _POOLS.get(url)
        if pool is None:
            pool = _POOLS[url] = _Pool(url)
        return pool


def close_pools(url: str | None = None) -> None:
    """Close the idle PostgreSQL connections (of ``url``, or all)."""
    with _POOLS_LOCK:
        pools = [p for u, p in _POOLS.items() if url is None or u == url]
    for p in pools:
        p.close()


atexit.register(close_pools)


@contextlib.contextmanager
def connect(target: Target) -> Iterator[Connection]:
    """One transaction on the state at ``target``: committed when the block ends,
    rolled back if it raises."""
    if is_postgres(target):
        url = str(target)
        pool = _pool(url)
        pg = pool.get()
        try:
            yield Connection(pg, "postgresql")
            with _mapped():
                pg.commit()
        except BaseException:
            if not pg.closed:
                with contextlib.suppress(Exception):  # gone: the pool drops it
                    pg.rollback()
            raise
        finally:
            pool.put(pg)
        return
    with _mapped():
        lite = _sqlite(Path(target))
    try:
        with on_sqlite(lite) as con:
            yield con
    finally:
        lite.close()


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A SQLite connection to keep open (any one thread at a time may use it): for
    :func:`on_sqlite`, where opening one per transaction costs more than the work."""
    with _mapped():
        return _sqlite(path, same_thread=False)


@contextlib.contextmanager
def on_sqlite(lite: sqlite3.Connection) -> Iterator[Connection]:
    """One transaction on an open SQLite connection: committed when the block ends,
    rolled back if it raises."""
    try:
        with lite:  # commit on success, rollback on error
            yield Connection(lite, "sqlite")
    except sqlite3.Error as exc:  # the commit itself (e.g. busy)
        with _mapped():
            raise exc


# ---------------------------------------------------------------- revisions


def current_revision(target: Target) -> str | None:
    """The schema revision of the state at ``target`` (None: never migrated). One query."""
    if is_postgres(target):
        with connect(target) as con:
            found = con.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
            if not found or not found[0]:
                return None
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
    path = Path(target)
    if not path.exists():
        return None
    try:
        with connect(path) as con:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return str(row[0]) if row else None


def _known(target: Target, revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise ConfigError(
            f"the state at {redact(target)} is at schema revision {revision}, which this "
            f"version of cxloop does not know (its newest is {HEAD}): upgrade cxloop"
        )


def ensure_current(target: Target) -> None:
    """Make sure the state at ``target`` has the schema this code expects.

    The embedded SQLite file is upgraded to :data:`HEAD` when behind (an older store's
    tables are adopted); a PostgreSQL database is not touched: unless it is at the head,
    this raises :class:`~cxloop.errors.ConfigError` saying to run ``cxloop migrate``."""
    if is_postgres(target):
        revision = current_revision(target)
        if revision == HEAD:
            return
        _known(target, revision)
        where = f"revision {revision}" if revision else "no revision (not migrated)"
        raise ConfigError(
            f"the PostgreSQL store {redact(target)} is at {where}; this cxloop needs "
            f"{HEAD}: run `cxloop migrate`"
        )
    with _sqlite_first_open(Path(target)):
        revision = current_revision(target)
        if revision == HEAD:
            return
        _known(target, revision)
        _migrate(target, "head")


@contextlib.contextmanager
def _sqlite_first_open(path: Path) -> Iterator[None]:
    """Serialise the opening checks of one SQLite file across threads and processes.

    Two first opens of a new file race on its creation and on the switch to WAL, and
    SQLite answers the loser "database is locked" at once, without waiting. A ``flock``
    on a file beside it (released by the OS if the holder dies) orders them; where that
    file cannot be created (a read-only folder) the open goes on unserialised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path.with_name(path.name + ".open.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sa_url(target: Target) -> str:
    if is_postgres(target):
        rest = str(target).split("://", 1)[1]
        return "postgresql+psycopg://" + rest
    return "sqlite://"


def migrate(target: Target, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply the migrations to the state at ``target`` up to ``revision`` (default: the
    head); returns (from, to). Safe to run concurrently: a second migrator waits for the
    first (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), then finds nothing
    to do. The whole upgrade is one transaction on both."""
    if is_postgres(target):
        return _migrate(target, revision)
    with _sqlite_first_open(Path(target)):
        return _migrate(target, revision)


def _migrate(target: Target, revision: str) -> tuple[str | None, str | None]:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.pool import NullPool

    if is_postgres(target):
        engine = sa.create_engine(_sa_url(target), poolclass=NullPool)
    else:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)

        def creator() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=SQLITE_TIMEOUT, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            return con

        engine = sa.create_engine("sqlite://", creator=creator, poolclass=NullPool)

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:  # DDL in the transaction, writers locked out
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            _known(target, before)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            after = MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot migrate the state at {redact(target)}: {exc.orig}") from None
    finally:
        engine.dispose()
    return before, after
