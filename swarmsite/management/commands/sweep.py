from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from swarmsite.sweeper import sweep_once


class Command(BaseCommand):
    help = "Expire agents silent past SWARM_AGENT_TTL_S now (the server also does this periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"expired {sweep_once()} agent(s)")
