"""Publishing events to channel groups (after commit; see stores/backends/orm/events.py)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from stores.events import event_groups
from stores.types import Event

log = logging.getLogger(__name__)

MESSAGE_TYPE = "swarm.event"


def event_message(event: Event) -> dict[str, Any]:
    return {
        "type": MESSAGE_TYPE,
        "id": event.id,
        "kind": event.kind,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


def publish(event: Event) -> None:
    """Fan an event out to the dashboard group and its subject's group. Delivery is best effort:
    the durable log is the source of truth and clients resume from it after a gap."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = event_message(event)
    try:
        for group in event_groups(event):
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a broken channel layer must not fail a committed write
        log.exception("could not publish event %s", event.kind)
