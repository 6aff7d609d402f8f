"""Runs every benchmark in bench/ one after the other (make bench)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in {"common.py", "run_all.py", "__init__.py"})
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        # As modules (python -m bench.x) so bench/queue.py never shadows the standard library's queue.
        if subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
