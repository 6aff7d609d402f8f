from __future__ import annotations

from django.db import models


class Agent(models.Model):
    """One agent process's liveness. Rows are kept after deregister (state offline) as history."""

    class State(models.TextChoices):
        ONLINE = "online"
        OFFLINE = "offline"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices)
    registered_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    state_changed_at = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)
    # When a heartbeat was last written to the event log (heartbeats are coalesced there).
    heartbeat_logged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "stores"
        indexes = [
            # The sweep and the state filters read (state, last_heartbeat).
            models.Index(fields=["state", "last_heartbeat"], name="agent_state_hb_idx"),
            models.Index(fields=["-last_heartbeat"], name="agent_recent_idx"),
            # Pruning removes offline and expired agents by how long they have been so.
            models.Index(fields=["state", "state_changed_at"], name="agent_state_changed_idx"),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)
