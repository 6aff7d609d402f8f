"""Runs every benchmark in bench/ one after the other (make bench).

bench/heartbeat.py and bench/ops.py default to SQLite; when a PostgreSQL server is configured
(BENCH_PG_URL, or a PostgreSQL DATABASE_URL: bench/common.py pg_server_url) they run again with --pg."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/queue.py shadows queue
sys.path.insert(0, str(HERE.parent))
from bench.common import pg_server_url  # noqa: E402

ALSO_ON_POSTGRES = {"heartbeat", "ops"}

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in {"common.py", "run_all.py", "__init__.py"})
    runs: list[tuple[str, list[str]]] = [(script.stem, []) for script in scripts]
    if pg_server_url():
        runs += [(name, ["--pg"]) for name in sorted(ALSO_ON_POSTGRES)]
    failed = []
    for name, extra in runs:
        title = " ".join([f"{name}.py", *extra])
        print(f"\n=== {title} ===", flush=True)
        # As modules (python -m bench.x) so bench/queue.py never shadows the standard library's queue.
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=HERE.parent).returncode != 0:
            failed.append(title)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
