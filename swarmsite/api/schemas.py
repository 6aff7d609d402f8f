"""Input types shared by every router: limits at the API edge so PostgreSQL never sees bad input."""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from ninja import Schema
from pydantic import AfterValidator, Field

T = TypeVar("T")

NO_NUL = r"^[^\x00]*$"


# Deeper JSON makes json.dumps hit Python's recursion limit (a 500) when the row is saved.
MAX_JSON_DEPTH = 64


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character, which is not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not Unicode text), which is not allowed"
    return None


def unstorable_text(value: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str] | None:
    """The first string (key or value) in a parsed JSON document that no database can store, with its
    path and why; None when every string is storable."""
    stack: list[tuple[tuple[str, ...], Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            why = _text_problem(item)
            if why is not None:
                return where, why
        elif isinstance(item, dict):
            for key, child in item.items():
                why = _text_problem(str(key))
                if why is not None:
                    return (*where, str(key).encode("utf-8", "backslashreplace").decode()), f"a key {why}"
                stack.append(((*where, str(key)), child))
        elif isinstance(item, list):
            stack.extend(((*where, str(i)), child) for i, child in enumerate(item))
    return None


def _reject_nul(value: Any, path: str = "$", depth: int = 0) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{path} contains a NUL character, which is not allowed")
    # PostgreSQL's json type has no NaN or Infinity (Python's json module accepts them).
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} is not a finite number")
    if depth > MAX_JSON_DEPTH and isinstance(value, dict | list):
        raise ValueError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, path, depth + 1)
            _reject_nul(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _reject_nul(item, f"{path}[{i}]", depth + 1)


def _clean_json(value: Any) -> Any:
    _reject_nul(value)
    return value


def ShortText(max_length: int = 200) -> Any:  # noqa: N802 - reads as a type in schemas
    return Annotated[str, Field(max_length=max_length, pattern=NO_NUL)]


JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
JsonValue = Annotated[Any, AfterValidator(_clean_json)]


class PageOut(Schema, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class PageParams(Schema):
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(50, ge=1, le=500)
