"""Shared pieces of the ORM backends."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, IntegrityError

from stores.errors import Backend, Conflict

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
