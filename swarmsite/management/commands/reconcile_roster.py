"""manage.py reconcile_roster FILE [--apply]: what would make the stored roster match FILE (activate,
retire, hot_reload, respawn); a dry run unless --apply. Applied actions are audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from stores.errors import StorageError
from swarmsite.composition import identity_runtime
from swarmsite.management.commands.restore_roster import load_roster


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="desired roster (.json, .yaml or .yml)")
        parser.add_argument("--apply", action="store_true", help="apply the actions (default: dry run)")
        parser.add_argument("--actor", default="manage.py", help="who the audit log names")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            roster = load_roster(options["file"])
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        except (ValueError, yaml.YAMLError, ValidationError) as exc:
            raise CommandError(f"{options['file']} is not a valid roster: {exc}") from exc
        runtime = identity_runtime()
        try:
            actions = runtime.compute_reconcile_actions(roster.specs())
            for action in actions:
                profile = f" (profile {action.spec.profile})" if action.spec is not None else ""
                self.stdout.write(f"{action.kind.value}: {action.identity}{profile}")
            if options["apply"]:
                runtime.apply_reconcile_actions(actions, actor=options["actor"], reason="reconcile_roster")
        except StorageError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        verb = "applied" if options["apply"] else "to apply (dry run; pass --apply)"
        self.stdout.write(f"{len(actions)} actions {verb}")
