from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from swarmsite.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token and print its secret once (only a hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--scope", choices=[s.value for s in ApiToken.Scope], default=ApiToken.Scope.AGENT)

    def handle(self, *args: Any, name: str, scope: str, **options: Any) -> None:
        from swarmsite.api.tokens import issue_token

        _, secret = issue_token("manage.py create_api_token", name, scope)
        self.stdout.write(secret)
