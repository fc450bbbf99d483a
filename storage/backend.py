"""What every catalog backend provides: a connection with one SQL dialect, transactions with
commit hooks, the write lock, and the few statements that differ between databases.

SQL handed to :meth:`Backend.execute` is portable (``?`` placeholders, ``ON CONFLICT`` upserts,
``RETURNING``); each backend translates what it must. Stores (:mod:`storage.stores`) are written
once over this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator, Sequence

Digest = Callable[[str], "str | None"]  # a row group ('work:<id>', 'upload:<id>') -> its digest (None: no rows)
# the same over a given statement runner ``execute(sql, args)`` (another connection's)
DigestVia = Callable[[str, Callable], "str | None"]


class Backend(ABC):
    """One catalog database. ``dialect``: 'sqlite' or 'postgresql'; ``target``: where it is, for messages
    (a path, or a URL without its password). Used from one thread."""

    dialect: str
    target: str
    db: object  # the driver's connection (sqlite3.Connection, psycopg.Connection)

    def __init__(self) -> None:
        # called inside every write transaction just before COMMIT (an exception rolls it back), and
        # after a ROLLBACK: the audit chain writes its records and forgets them there
        self.before_commit: list[Callable[[], object]] = []
        self.after_rollback: list[Callable[[], object]] = []

    # -- statements -------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, args: Sequence = ()):
        """Run one statement; returns a cursor (fetchone, fetchall, iteration, rowcount) whose rows
        can be read by column name and by position, and turned into dicts with ``dict(row)``."""

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        for args in rows:
            self.execute(sql, args)

    def insert(self, sql: str, args: Sequence, key: str) -> int:
        """Run an INSERT and return the new row's ``key`` column (its generated id)."""
        return int(self.execute(f"{sql} RETURNING {key}", args).fetchone()[0])

    def scalar(self, sql: str, args: Sequence = ()):
        row = self.execute(sql, args).fetchone()
        return None if row is None else row[0]

    # -- transactions -----------------------------------------------------
    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def _begin(self) -> None:
        """Start a write transaction that holds the database's write lock until it ends."""

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator["Backend"]:
        """A write transaction (``before_commit`` hooks run just before COMMIT), rolled back on any
        exception; inside an open one it joins it."""
        if self.in_transaction:
            yield self
            return
        try:
            self._begin()
        except BaseException:  # (say the lock was not granted in time: the transaction is over)
            if self.in_transaction:
                self._rollback()
            raise
        try:
            yield self
            for hook in self.before_commit:
                hook()
        except BaseException:
            if self.in_transaction:
                self._rollback()
            for hook in self.after_rollback:
                hook()
            raise
        self._commit()

    @abstractmethod
    def snapshot(self) -> AbstractContextManager:
        """A read-only view of one moment (a commit by another process half-way through is not seen)."""

    def write_lock(self, timeout: float) -> AbstractContextManager:
        """The lock a registration or removal holds over its checks and writes (several transactions),
        beyond the data folder's file lock: the database's own where it is shared by several machines."""
        return _no_lock()

    # -- dialect ----------------------------------------------------------
    @abstractmethod
    def row_order(self, table: str) -> str:
        """ORDER BY clause that lists a tracked table's rows in the order its digests are made in."""

    @abstractmethod
    def integrity_problems(self) -> list[str]:
        """The database's own consistency checks (foreign keys, damaged pages), in words."""

    def guard_problems(self) -> list[str]:
        """The database objects the audit chain relies on (triggers) that were removed, disabled or changed,
        in words: while any is, nothing may be written (SQLite's are made by each connection itself)."""
        return []

    @abstractmethod
    def install_audit_tracking(self, digest: Digest) -> None:
        """Track, per connection, the row groups (``schema.TRACKED``) the open transaction changes, and
        each one's digest as it was before this transaction changed it (``digest`` computes one)."""

    @abstractmethod
    def take_touched(self, digest: DigestVia) -> tuple[list[str], dict[str, str | None]]:
        """(groups the open transaction changed, sorted; their digests before it) and forget them."""

    @abstractmethod
    def describe_error(self, exc: BaseException) -> str:
        """What a database error means for the operator, in words."""

    def close(self) -> None:
        self.db.close()


@contextmanager
def _no_lock() -> Iterator[None]:
    yield
