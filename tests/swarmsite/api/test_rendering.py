"""API answers are written by orjson, as the same JSON ninja's own renderer writes: a client decodes
the same values, dates and times in Django's form, and what orjson cannot write still gets an answer."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from django.test import RequestFactory
from ninja.renderers import JSONRenderer

from stores.types import AgentState
from swarmsite.api.rendering import FastJSONRenderer


def both(data: Any) -> tuple[Any, Any]:
    request = RequestFactory().get("/")
    fast = FastJSONRenderer().render(request, data, response_status=200)
    plain = JSONRenderer().render(request, data, response_status=200)
    return json.loads(fast), json.loads(plain)


def test_an_agents_answer_decodes_to_the_same_values_with_djangos_time_form() -> None:
    at = dt.datetime(2026, 12, 3, 17, 16, 21, 294119, tzinfo=dt.UTC)
    data = {"agent_id": uuid.uuid4(), "name": "wörker", "state": AgentState.ONLINE, "registered_at": at,
            "ttl_s": 30.0, "metadata": {"nested": [1, 2.5, None, True], "when": dt.date(2026, 12, 3)},
            "price": Decimal("1.10"), "took": dt.timedelta(seconds=90), "at": dt.time(9, 30, 1, 500000), 7: "int key"}
    fast, plain = both(data)
    assert fast == plain
    assert fast["registered_at"] == "2026-12-03T17:16:21.294Z"
    for when in (at.replace(microsecond=0), at.astimezone(dt.timezone(dt.timedelta(hours=2))), at.replace(tzinfo=None)):
        assert both({"when": when})[0] == both({"when": when})[1]


def test_what_orjson_cannot_write_is_still_answered() -> None:
    for data in ({"big": 2**70}, {"text": "lone \ud800 surrogate"}):
        fast, plain = both(data)
        assert fast == plain
