"""Store models. Only stores/backends/orm, admin and migrations touch them; one module per concept."""

from stores.models.events import EventRecord
from stores.models.lifecycle import Agent

__all__ = ["Agent", "EventRecord"]
