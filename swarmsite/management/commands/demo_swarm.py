from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from swarmsite.demo.swarm import DemoConfig, DemoSwarm
from swarmsite.models import ApiToken
from swarmsite.token_cache import revoked as forget_revoked

TOKEN_NAME = "demo-swarm"


class Command(BaseCommand):
    help = (
        "Run the demo swarm against a Swarmsite server: seed a roster of 12 identities in 3 teams, run "
        "simulated agents that take leases, answer inbox messages, append outputs and checkpoint, and "
        "misbehave now and then (hang past the TTL, crash, write with a stale token). Runs until "
        "SIGINT/SIGTERM (or --duration); exits 1 if any unexpected error answer was seen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: %(default)s)")
        parser.add_argument("--token", help="an admin-scope API token (default: issue one, revoking earlier ones)")
        parser.add_argument("--agent-token", help="an agent-scope API token for the simulated agents "
                            "(default: issue one alongside the admin token)")
        parser.add_argument("--agents", type=int, default=10, help="simulated agents (default: %(default)s)")
        parser.add_argument("--duration", type=float, help="stop after this many seconds (default: never)")
        parser.add_argument("--message-every", type=float, default=1.5, help="seconds between new tasks")
        parser.add_argument("--chaos-every", type=float, default=25.0, help="seconds between misbehaviours")
        parser.add_argument("--status-every", type=float, default=30.0, help="seconds between status lines")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--verbose", action="store_true", help="log every answer and checkpoint too")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                            stream=sys.stdout, force=True)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        config = DemoConfig(
            url=options["url"], token=options["token"] or self.issue_token(),
            agent_token=options["agent_token"] or self.issue_token(ApiToken.Scope.AGENT), agents=options["agents"],
            duration_s=options["duration"], message_every_s=options["message_every"],
            chaos_every_s=options["chaos_every"], status_every_s=options["status_every"], seed=options["seed"],
            verbose=options["verbose"],
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stats = DemoSwarm(config, stop).run()
        self.stdout.write(stats.summary())
        if stats.unexpected:
            sys.exit(1)

    def issue_token(self, scope: str = ApiToken.Scope.ADMIN) -> str:
        """A token of `scope` for this run; earlier demo tokens of that scope are revoked so they do not pile up."""
        name = TOKEN_NAME if scope == ApiToken.Scope.ADMIN else f"{TOKEN_NAME}-{scope}s"
        earlier = ApiToken.objects.filter(name=name, revoked_at__isnull=True)
        hashes = list(earlier.values_list("secret_hash", flat=True))
        earlier.update(revoked_at=timezone.now())
        forget_revoked(hashes)
        return ApiToken.issue(name, ApiToken.Scope(scope))[1]
