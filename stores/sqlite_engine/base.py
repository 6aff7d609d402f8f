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
    """A write in autocommit (outside any transaction) takes the writer lock for its statement."""

    wrapper: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.wrapper._holds_writer or not query.lstrip()[:6].upper().startswith(WRITES):
            return super().execute(query, params)
        self.wrapper._take_writer()
        try:
            return super().execute(query, params)
        finally:
            self.wrapper._drop_writer()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.wrapper._holds_writer:
            return super().executemany(query, param_list)
        self.wrapper._take_writer()
        try:
            return super().executemany(query, param_list)
        finally:
            self.wrapper._drop_writer()
