"""API answers written as JSON by orjson (in C): the same JSON as ninja's own renderer, with Django's
date and time forms (milliseconds, `Z`), faster. ninja's renderer hands every datetime, UUID and model
to a Python hook one by one; on an agent's answer that took most of the serialisation time. Whatever
orjson cannot write (an integer beyond 64 bits, a lone surrogate) falls back to ninja's renderer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

# Dates and times go through Django's encoder (orjson would write microseconds and +00:00); dict keys
# that are not strings are written as json.dumps writes them.
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_ninja = NinjaJSONEncoder()


def _default(value: Any) -> Any:
    if type(value) is datetime:  # the common case, written as DjangoJSONEncoder writes it
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _ninja.default(value)


def dumps(data: Any) -> bytes | str:
    try:
        return orjson.dumps(data, default=_default, option=OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(data, cls=NinjaJSONEncoder)


def json_answer(data: Any) -> HttpResponse:
    """A 200 answer written at once, for a hot route whose data already has its schema's types (ninja
    passes an HttpResponse through as it is)."""
    return HttpResponse(dumps(data), content_type="application/json; charset=utf-8")


class FastJSONRenderer(JSONRenderer):
    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return dumps(data)
