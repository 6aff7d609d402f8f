"""The identity page's threads panel: the identity's checkpoint threads and each one's latest checkpoint."""

from __future__ import annotations

import pytest
from django.test import Client

from stores.thread_types import Blob, CheckpointPut
from stores.types import Fence
from swarmsite.composition import thread_store
from tests.swarmsite.dashboard.helpers import create, hold

pytestmark = pytest.mark.django_db


def put(thread: str, cid: str, fence: Fence | None, step: int) -> None:
    thread_store().put_checkpoint(
        CheckpointPut(thread, "", cid, None, Blob("json", b"{}"), {"source": "loop", "step": step}), fence=fence
    )


def test_threads_panel_lists_owned_threads_with_their_latest_checkpoint(viewer_client: Client) -> None:
    create("planner-1")
    grant = hold("planner-1")
    fence = Fence("planner-1", grant.fencing_token)
    put("research-7", "0001", fence, 0)
    put("research-7", "0002", fence, 1)
    put("someone-elses", "0003", None, 5)
    body = viewer_client.get("/identities/planner-1/").content.decode()
    assert '<section id="identity-threads"' in body
    assert 'data-thread="research-7"' in body and "someone-elses" not in body
    assert "<code class=\"small\">0002</code>" in body
    assert "thread:research-7" in body  # the panel refreshes when that thread is written


def test_threads_panel_empty_state_says_how_to_fill_it(viewer_client: Client) -> None:
    create("alpha")
    headers = {"HX-Request": "true", "HX-Target": "identity-threads"}
    body = viewer_client.get("/identities/alpha/", headers=headers).content.decode()
    assert body.lstrip().startswith('<section id="identity-threads"')
    assert "SwarmsiteSaver" in body
