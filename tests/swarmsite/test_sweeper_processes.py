"""With several workers on PostgreSQL, one sweep pass runs at a time; the others skip, and the agent
is expired once, by whoever sweeps next."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from swarmsite.composition import lifecycle_store
from swarmsite.sweeper import SWEEP_LOCK_KEY, sweep_once

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the sweep lock is PostgreSQL's (CI's second pass)"),
]


def test_a_sweep_skips_while_another_process_sweeps_then_expires_once() -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lifecycle_store().register(uuid.uuid4())
    params = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k not in {"cursor_factory", "context", "prepare_threshold"}}
    with psycopg.connect(autocommit=True, **params) as other:  # another worker, mid-sweep
        other.execute("SELECT pg_advisory_lock(%s)", [SWEEP_LOCK_KEY])
        with time_machine.travel(start + timedelta(seconds=31), tick=False):
            assert sweep_once() == 0
        other.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK_KEY])
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert sweep_once() == 1
        assert sweep_once() == 0
