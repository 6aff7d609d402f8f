"""Shared pieces of the ORM backends."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, IntegrityError, transaction

from stores.errors import Backend, Conflict
from stores.fencing import in_whole_write

P = ParamSpec("P")
R = TypeVar("R")


def translate_db_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Never let a django.db exception escape a store: map it to the contract's error."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except IntegrityError as exc:
            raise Conflict(f"conflicting write: {exc}") from exc
        except DatabaseError as exc:
            raise Backend(f"database error: {exc}") from exc

    return wrapper


def step() -> transaction.Atomic:
    """A store operation's transaction. Nested in a whole write (stores.fencing.whole_write), whose
    every error rolls everything back, it needs no savepoint (two statements saved); anywhere else it
    keeps one, so a refused write leaves the caller's transaction as it was and usable."""
    return transaction.atomic(savepoint=not in_whole_write())
