"""The audit page's filters (actor, action, subject, time range) read from a query string, and its CSV
export with the same filters."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from identities.audit_filter import AuditFilter
from swarmsite.composition import identity_runtime
from swarmsite.dashboard.common import role_required
from swarmsite.dashboard.forms import clean_text
from swarmsite.roles import VIEWER

SUBJECT_MAX = 220  # AuditEntry.identity: a session id behind its "session:" prefix
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
KNOWN_ACTIONS = ("created", "respawned", "retired", "reset", "deleted", "message_sent", "inbox_cancelled",
                 "batch_cancelled", "session_vacuumed", "session_gc", "token_created", "token_revoked")
EXPORT_MAX = 100_000
EXPORT_PAGE = 1000


@dataclass(frozen=True)
class AuditQuery:
    subject: str
    where: AuditFilter
    range_name: str
    since_text: str
    until_text: str
    zone_name: str = ""

    def params(self) -> dict[str, str]:
        return {"identity": self.subject, "actor": self.where.actor, "action": self.where.action,
                "range": self.range_name, "since": self.since_text, "until": self.until_text, "tz": self.zone_name}


def _zone(name: str) -> tuple[tzinfo, str]:
    """The time zone the From/to fields are in: the browser's (the page sends its IANA name), else UTC."""
    try:
        return (ZoneInfo(name), name) if name and len(name) <= 64 and "\x00" not in name else (UTC, "")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, ""


def _moment(text: str, zone: tzinfo = UTC) -> datetime | None:
    """A <input type=datetime-local> value, read in `zone`; None if empty or malformed."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone) if text else None
    except ValueError:
        return None


def audit_query(request: HttpRequest) -> AuditQuery:
    subject, _ = clean_text(request.GET.get("identity", ""), SUBJECT_MAX, "subject")
    actor, _ = clean_text(request.GET.get("actor", ""), 200, "actor")
    # "act", not "action": a field named action would shadow the form's own action in the DOM.
    action, _ = clean_text(request.GET.get("act", ""), 32, "action")
    range_name = request.GET.get("range", "")
    range_name = range_name if range_name in RANGES else ""
    since_text, until_text = request.GET.get("since", "")[:32], request.GET.get("until", "")[:32]
    zone, zone_name = _zone(request.GET.get("tz", ""))
    since, until = _moment(since_text, zone), _moment(until_text, zone)
    if range_name:
        since = timezone.now() - RANGES[range_name]
    where = AuditFilter(actor=actor, action=action, since=since, until=until)
    return AuditQuery(subject, where, range_name, since_text if since_text and _moment(since_text) else "",
                      until_text if until_text and _moment(until_text) else "", zone_name)


def _rows(query: AuditQuery) -> Iterator[list[str]]:
    registry = identity_runtime().registry()
    yield ["created_at", "actor", "action", "subject", "ok", "reason", "result"]
    for offset in range(0, EXPORT_MAX, EXPORT_PAGE):
        page = registry.list_audit(identity=query.subject or None, where=query.where, offset=offset,
                                   limit=EXPORT_PAGE)
        for r in page.items:
            yield [r.created_at.astimezone(UTC).isoformat(), r.actor, r.action, r.identity, "yes" if r.ok else "no",
                   r.reason, json.dumps(r.result, sort_keys=True)]
        if offset + EXPORT_PAGE >= page.total:
            return


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(VIEWER)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in _rows(audit_query(request))),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="swarmsite-audit-{stamp}.csv"'
    return response
