from __future__ import annotations

from django.db import models


class EventRecord(models.Model):
    """The durable event log. The id is the resume cursor for websocket clients."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=32)
    subject_id = models.CharField(max_length=255)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        verbose_name = "event"
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "id"], name="event_subject_idx"),
            # Pruning picks the oldest rows by age, and the overview counts recent ones, by created_at.
            models.Index(fields=["created_at"], name="event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind} {self.subject_type}:{self.subject_id}"
