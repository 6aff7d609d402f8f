"""One server process, one core: `manage.py serve` gives each daphne worker a core of its own (round robin
over the cores it may use) in SWARM_WORKER_CPU, and the worker pins itself to it at start.

A Python process runs one thread at a time (the GIL), so spreading one worker's threads over several
cores buys no parallelism; it only makes every hand-off of the GIL (the event loop and the request
threads pass it back and forth several times per request, at each database call) a hand-off between
cores. Pinned, the same worker serves 1.3 to 1.8 times the requests on 2 cores (docs/benchmarks.md).
SWARM_PIN_WORKERS=0 leaves scheduling to the kernel."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

CPU_ENV = "SWARM_WORKER_CPU"


def worker_cpu(number: int) -> int | None:
    """The core for worker `number` (from 1), or None where pinning is off or not supported. Workers take
    consecutive cores from one chosen by this process's id, so several `serve` on one host (or test
    runs side by side) spread over the cores instead of all starting on the first."""
    if os.environ.get("SWARM_PIN_WORKERS", "1").lower() in {"0", "false", "no", "off"}:
        return None
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[(os.getpid() + number - 1) % len(cpus)] if cpus else None


def pin_this_process() -> None:
    """Pin every thread of this process (and so every thread it starts later) to SWARM_WORKER_CPU."""
    cpu = os.environ.get(CPU_ENV)
    if not cpu or not hasattr(os, "sched_setaffinity"):
        return
    try:
        for task in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(task), {int(cpu)})
    except (OSError, ValueError) as exc:  # a core taken away, or no /proc: run unpinned
        log.warning("could not pin this worker to core %s: %s", cpu, exc)
