"""Django's SQLite backend with one writer at a time per process, queued on a lock.

SQLite lets one connection write at a time. Django's threads (each with its own connection) that meet
a busy database sleep in SQLite's busy handler (1, 2, 5, 10 ... ms) and retry, so under concurrent
writes they spend their time asleep while the database is free. Here a writer takes a process-wide
lock first (a transaction from BEGIN IMMEDIATE to COMMIT/ROLLBACK, or a single write in autocommit):
the next writer wakes the moment the lock is free. Other processes on the same file still meet the
busy handler, as before. A writer that cannot get the lock within the connection's `timeout` gets
"database is locked", as SQLite would answer."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from django.db.backends.sqlite3 import base
from django.db.utils import OperationalError

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def _writer_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    def _take_writer(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not _writer_lock(str(self.settings_dict["NAME"])).acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_writer = True

    def _drop_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            _writer_lock(str(self.settings_dict["NAME"])).release()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._drop_writer()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._drop_writer()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._drop_writer()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._drop_writer()

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=WriterLockCursor)
        cursor.wrapper = self
        return cursor


class WriterLockCursor(base.SQLiteCursorWrapper):
    """A write in autocommit (outside any transaction) takes the writer lock for its statement.

    A write with RETURNING (the heartbeat's one UPDATE) commits only when its statement is reset, after
    its last row is read: its rows are read under the lock and handed out from here, so the next writer
    never finds the database still busy (and asleep in SQLite's busy handler) once the lock is free."""

    wrapper: DatabaseWrapper
    _returned: deque[Any] | None = None

    def execute(self, query: str, params: Any = None) -> Any:
        self._returned = None
        if self.wrapper._holds_writer or not query.lstrip()[:6].upper().startswith(WRITES):
            return super().execute(query, params)
        self.wrapper._take_writer()
        try:
            super().execute(query, params)
            if self.description is not None:
                self._returned = deque(super().fetchall())
            return self
        finally:
            self.wrapper._drop_writer()

    def executemany(self, query: str, param_list: Any) -> Any:
        self._returned = None
        if self.wrapper._holds_writer:
            return super().executemany(query, param_list)
        self.wrapper._take_writer()
        try:
            return super().executemany(query, param_list)
        finally:
            self.wrapper._drop_writer()

    def fetchone(self) -> Any:
        if self._returned is None:
            return super().fetchone()
        return self._returned.popleft() if self._returned else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._returned is None:
            return super().fetchmany(self.arraysize if size is None else size)
        count = min(self.arraysize if size is None else size, len(self._returned))
        return [self._returned.popleft() for _ in range(count)]

    def fetchall(self) -> list[Any]:
        if self._returned is None:
            return super().fetchall()
        rows, self._returned = list(self._returned), deque()
        return rows

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        if self._returned is None:
            return super().__next__()
        if not self._returned:
            raise StopIteration
        return self._returned.popleft()
