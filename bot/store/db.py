"""One small database layer under every store table: SQLite by default, PostgreSQL by URL.

SQL is written once with ``?`` placeholders and portable types (TEXT, BIGINT, DOUBLE PRECISION,
``INSERT … ON CONFLICT``); the PostgreSQL dialect rewrites the placeholders. Each feature
(questions and feedback, audit, digest outbox) owns its tables in its own module and calls
``ensure_schema`` with them.

Example:
    >>> db = Database.sqlite(":memory:")
    >>> db.ensure_schema("demo", ["CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v BIGINT)"])
    >>> db.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1))
    1
    >>> db.fetchall("SELECT k, v FROM t")
    [('a', 1)]
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.errors import UserError
from bot.settings.store import StoreSettings


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class StoreUnavailable(UserError):
    """The database cannot be opened or reached."""


_PLACEHOLDER = re.compile(r"\?")


class Database:
    """Thread-safe access to one database; one connection per thread."""

    def __init__(self, *, dialect: Literal["sqlite", "postgres"], target: str, label: str) -> None:
        self.dialect = dialect
        self._target = target
        self.label = label  # safe to log: never contains a password
        self._local = threading.local()
        self._schemas: set[str] = set()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        if dialect == "sqlite":
            self.integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
        else:
            import psycopg

            self.integrity_errors = (psycopg.errors.IntegrityError,)

    @classmethod
    def sqlite(cls, path: str | Path) -> Database:
        """SQLite at ``path``; ':memory:' gives each thread its own private database (doctests only)."""
        target = str(path)
        if target != ":memory:":
            parent = Path(target).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"{parent}: cannot create the data folder: {exc.strerror}") from exc
        return cls(dialect="sqlite", target=target, label=f"sqlite:{target}")

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Database:
        """SQLite under ``data_dir`` unless a PostgreSQL URL is configured."""
        if settings.url is not None:
            url = settings.url.get_secret_value()
            if not url.startswith(("postgresql://", "postgres://")):
                raise StoreUnavailable("store.url must be a postgresql:// URL (or unset for SQLite)")
            host = url.split("@")[-1].split("/")[0]
            return cls(dialect="postgres", target=url, label=f"postgresql://…@{host}")
        return cls.sqlite(settings.data_dir / "firstmate.db")

    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.dialect == "sqlite":
            try:
                conn = sqlite3.connect(self._target, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"{self.label}: cannot open the database: {exc}") from exc
        else:
            import psycopg

            try:
                conn = psycopg.connect(self._target, autocommit=True, connect_timeout=5)
            except psycopg.Error as exc:
                raise StoreUnavailable(f"{self.label}: cannot connect: {str(exc).splitlines()[0]}") from exc
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql) if self.dialect == "postgres" else sql

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """A transaction; commits on success, rolls back on any exception."""
        conn = self._connect()
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self, conn.cursor())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        else:
            with conn.transaction():
                yield _Tx(self, conn.cursor())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the row count."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query."""
        cur = self._connect().cursor()
        cur.execute(self._sql(sql), tuple(params))
        return [tuple(row) for row in cur.fetchall()]

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """First row of one query, or None."""
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def ensure_schema(self, name: str, statements: Sequence[str]) -> None:
        """Create a feature's tables once per process (statements use IF NOT EXISTS)."""
        if name in self._schemas:
            return
        with self.transaction() as tx:
            if self.dialect == "postgres":
                # Serialise concurrent CREATE TABLE IF NOT EXISTS from several replicas.
                tx.execute("SELECT pg_advisory_xact_lock(?)", (0x6669727374,))
            for statement in statements:
                tx.execute(statement)
        self._schemas.add(name)

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return self.fetchone("SELECT 1") == (1,)
        except Exception:
            return False

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):  # closing is best effort at shutdown
                conn.close()
        self._local = threading.local()


class _Tx:
    """A cursor inside a transaction, with the dialect's placeholders."""

    def __init__(self, db: Database, cursor: Cursor) -> None:
        self._db = db
        self._cur = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(self._db._sql(sql), tuple(params))
        return self._cur.rowcount

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(self._db._sql(sql), tuple(params))
        return [tuple(row) for row in self._cur.fetchall()]

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None
