"""The audit log's filters: actor, action, subject and a time range; every one optional."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from identities.types import AuditRecord


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def matches(self, record: AuditRecord) -> bool:
        return (
            (not self.actor or record.actor == self.actor)
            and (not self.action or record.action == self.action)
            and (self.since is None or record.created_at >= self.since)
            and (self.until is None or record.created_at < self.until)
        )
