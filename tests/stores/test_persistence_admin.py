"""The admin for RuntimePersistence rows: every list renders, secrets stay hidden, actions use the store."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stores.models import QueuedWorkBatchRecord
from stores.persistence_types import Append, HydratedSessionCheckpoint, RuntimeCommit, SessionNodeRecord
from stores.queue_types import QueuedWorkBatchDraft, QueuedWorkClaimBoundary, QueuedWorkPayload
from swarmsite.composition import runtime_persistence

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(client: Client) -> tuple[Client, str]:
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-1"))
    store = runtime_persistence().open("s1")
    store.commit_runtime_state(RuntimeCommit("s1", graph=Append((SessionNodeRecord("n1"),), "n1"),
                                             checkpoint=HydratedSessionCheckpoint(tool_state=b"tools")))
    for text in ("held", "loose"):
        store.enqueue_queued_work(QueuedWorkBatchDraft("s1", (QueuedWorkPayload.turn_input(text),)))
    claim = store.claim_ready_queued_work("s1", "agent-1", QueuedWorkClaimBoundary.IDLE, 60_000, 1)
    assert claim is not None
    return client, claim.lease_token


@pytest.mark.parametrize(
    "model", ["persistedsession", "queuedworkbatchrecord", "sessionnode", "sessionblob", "sessionturncommit",
              "attachmentmanifestrecord"],
)
def test_every_persistence_admin_list_renders_without_secrets(
    admin_client_with_data: tuple[Client, str], model: str
) -> None:
    client, lease_token = admin_client_with_data
    response = client.get(f"/admin/stores/{model}/")
    assert response.status_code == 200
    assert lease_token not in response.content.decode()


def test_cancel_action_cancels_only_batches_nobody_holds(admin_client_with_data: tuple[Client, str]) -> None:
    client, _ = admin_client_with_data
    ids = list(QueuedWorkBatchRecord.objects.values_list("pk", flat=True))
    client.post("/admin/stores/queuedworkbatchrecord/", {"action": "cancel_unclaimed", "_selected_action": ids})
    [left] = runtime_persistence().open("s1").list_queued_work("s1")
    assert left.claim is not None and left.claim.owner_id == "agent-1"
