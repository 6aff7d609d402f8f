from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swarmsite.models import ApiToken


class Command(BaseCommand):
    help = ("Revoke the active API tokens with this name (or this secret prefix, `sws_…`). Every server "
            "process refuses them from the next request on. Audited like revocations from the dashboard.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name_or_prefix")

    def handle(self, *args: Any, name_or_prefix: str, **options: Any) -> None:
        from swarmsite.api.tokens import revoke_token

        active = ApiToken.objects.filter(revoked_at__isnull=True)
        tokens = list(active.filter(name=name_or_prefix)) or list(active.filter(prefix=name_or_prefix[:12]))
        if not tokens:
            raise CommandError(f"no active token is named {name_or_prefix!r} or starts with it")
        revoked = sum(revoke_token("manage.py revoke_api_token", token) for token in tokens)
        self.stdout.write(f"revoked {revoked} token(s)")
