from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from swarmsite.retention import prune


class Command(BaseCommand):
    help = (
        "Delete what the retention policies (SWARM_RETENTION_*) no longer keep, in small batches, and print "
        "the rows removed per table; --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        run = prune(dry_run=options["dry_run"])
        verb = "would delete" if run.dry_run else "deleted"
        width = max((len(t) for t in run.removed), default=0)
        for table, count in run.removed.items():
            self.stdout.write(f"{table:<{width}}  {verb} {count}")
        if not run.removed:
            self.stdout.write("every retention window is off: nothing to prune")
        self.stdout.write(f"total {verb} {sum(run.removed.values())}")
