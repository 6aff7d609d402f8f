"""LangGraph's own checkpointer conformance suite (langgraph-checkpoint-conformance) against
SwarmsiteSaver talking to a live server over HTTP, on whichever database this run uses. Every one of the
8 capabilities must be detected and pass; the capability table is printed in the test output."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from swarmclient.langgraph import SwarmsiteSaver
from swarmsite.models import ApiToken


@pytest.mark.timeout(600)
def test_swarmsite_saver_passes_all_eight_capabilities(live_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from django.db import connection

    token = ApiToken.issue("langgraph-conformance", ApiToken.Scope.ADMIN)[1]
    savers: list[SwarmsiteSaver] = []

    @checkpointer_test(name=f"SwarmsiteSaver ({connection.vendor})")
    async def swarmsite_saver() -> AsyncGenerator[SwarmsiteSaver, None]:
        # A fresh identity (and so a fresh lease) per capability suite, as the suite asks.
        saver = await asyncio.to_thread(SwarmsiteSaver, live_server.url + "/api/v1", token,
                                        f"lg-conformance-{uuid.uuid4().hex[:8]}", retries=0)
        savers.append(saver)
        yield saver
        await asyncio.to_thread(saver.close)

    report = asyncio.run(validate(swarmsite_saver))
    with capsys.disabled():
        report.print_report()
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert failures == {}
    passed = {name for name, r in report.results.items() if r.detected and r.passed}
    assert passed == {c.value for c in ALL_CAPABILITIES}
    assert report.conformance_level() == "FULL"
    assert all(s.lease.token > 0 for s in savers)
