"""The overview's event feed: its filter (kind prefix, subject text) and the newest events matching it.
The page applies the same filter to the events that arrive live (swarm.js)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from stores.types import Event
from swarmsite.composition import event_log

RECENT_EVENTS = 25
SCANNED = 500  # a filtered feed looks this far back; the newest matches are shown
FEED_KINDS = (("", "all kinds"), ("agent.", "agents"), ("identity.", "identities"), ("output.", "outputs"),
              ("queue.", "inbox queue"), ("session.", "sessions"), ("runtime.", "runtimes"))
SUBJECT_TYPES = ("identity", "agent", "session", "output", "runtime")


@dataclass(frozen=True)
class FeedFilter:
    kind: str = ""
    subject: str = ""

    @property
    def active(self) -> bool:
        return bool(self.kind or self.subject)

    def matches(self, event: Event) -> bool:
        text = self.subject.lower()
        return event.kind.startswith(self.kind) and (
            not text or text in f"{event.subject_type}:{event.subject_id}".lower()
            or text in str(event.payload.get("name", "")).lower()
        )


def feed_filter(request: HttpRequest) -> FeedFilter:
    kind = request.GET.get("kind", "")
    return FeedFilter(kind if kind in dict(FEED_KINDS) else "", request.GET.get("subject", "").strip()[:200])


def recent_events(feed: FeedFilter) -> list[Event]:
    if not feed.active:
        return event_log().recent(limit=RECENT_EVENTS)
    # "identity:alpha" names one subject exactly: read it from the subject index.
    kind_of, _, key = feed.subject.partition(":")
    if kind_of in SUBJECT_TYPES and key:
        events = event_log().recent(limit=SCANNED, subject_type=kind_of, subject_id=key)
        return [e for e in events if e.kind.startswith(feed.kind)][:RECENT_EVENTS]
    return [e for e in event_log().recent(limit=SCANNED) if feed.matches(e)][:RECENT_EVENTS]
