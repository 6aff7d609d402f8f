"""One clock read per operation, through an injectable clock (tests travel with time_machine)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return timezone.now()


system_clock = SystemClock()
