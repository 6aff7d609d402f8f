"""Single-row lookups whose SQL Django compiles once per database vendor instead of on every call.

Building a queryset's SQL costs about ten times the indexed lookup it runs (measured by
bench/outputs.py), and agents poll a few lookups constantly. The SQL is still Django's own, compiled
from a queryset built with sentinel values; each call only binds new parameters through .raw(),
which applies the same field converters as a normal query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


class PrecompiledLookup(Generic[M]):
    def __init__(self, build: Callable[..., QuerySet[M]], *sentinels: Any) -> None:
        """`build(*sentinels)` returns the queryset; the sentinels must be distinct values, so the
        compiled parameters can be mapped back to positions whatever order the SQL puts them in."""
        if len(set(sentinels)) != len(sentinels):
            raise ValueError("sentinel values must be distinct")
        self._build = build
        self._sentinels = sentinels
        self._compiled: dict[str, tuple[str, list[int], QuerySet[M]]] = {}

    def _compile(self) -> tuple[str, list[int], QuerySet[M]]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            queryset = self._build(*self._sentinels)
            sql, params = queryset.query.sql_with_params()
            order = [self._sentinels.index(p) for p in params]
            compiled = self._compiled[connection.vendor] = (sql, order, queryset)
        return compiled

    def first(self, *args: Any) -> M | None:
        sql, order, queryset = self._compile()
        rows = list(queryset.model._default_manager.raw(sql, [args[i] for i in order]))
        return rows[0] if rows else None
