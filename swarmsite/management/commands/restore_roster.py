"""manage.py restore_roster FILE: create or resume every identity of a JSON or YAML roster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from stores.errors import StorageError
from swarmsite.api.identities_schemas import RosterIn
from swarmsite.composition import identity_runtime


def load_roster(path: Path) -> RosterIn:
    """A roster file: a list of specs, or {"identities": [...], "topology": "full_mesh" | {"edges": [...]}}."""
    text = path.read_text(encoding="utf-8")
    data: Any = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    if isinstance(data, list):
        data = {"identities": data}
    return RosterIn.model_validate(data)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="roster file (.json, .yaml or .yml)")
        parser.add_argument("--fail-on-broken", action="store_true", help="exit 1 if any identity is broken")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            roster = load_roster(path)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        except (ValueError, yaml.YAMLError, ValidationError) as exc:
            raise CommandError(f"{path} is not a valid roster: {exc}") from exc
        try:
            result = identity_runtime().restore_flow(roster.specs(), roster.provider())
        except StorageError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        broken = 0
        for outcome in result.outcomes.values():
            record = outcome.record
            if outcome.failure is not None:
                broken += 1
                self.stdout.write(self.style.ERROR(
                    f"{outcome.identity}: broken ({outcome.failure.kind.value}): {outcome.failure.detail}"
                ))
            elif outcome.snapshot is not None and record is not None:
                self.stdout.write(self.style.SUCCESS(
                    f"{outcome.identity}: resumed generation {record.generation} at checkpoint "
                    f"{record.checkpoint_version} ({len(outcome.snapshot)} bytes)"
                ))
            elif record is not None:
                self.stdout.write(self.style.SUCCESS(
                    f"{outcome.identity}: created generation {record.generation}, session {record.session_id}"
                ))
        edges = ", ".join(f"{e.a}–{e.b}" for e in result.managed_edges) or "none"
        self.stdout.write(f"{len(result.outcomes)} identities ({broken} broken); managed peer edges: {edges}")
        if broken and options["fail_on_broken"]:
            raise CommandError(f"{broken} broken identities")
