"""Facts of the ORM metrics rollup that the contract does not name: it lives in the write's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from stores.backends.orm.events import OrmEventLog
from stores.backends.orm.metrics import OrmMetricsRollup
from stores.metrics import count_event
from stores.metrics_types import ALL, OUTPUTS, epoch_minute

T0 = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_takes_its_count_back() -> None:
    rollup = OrmMetricsRollup()
    log = OrmEventLog(on_append=lambda e: count_event(rollup, e))
    with pytest.raises(Boom), transaction.atomic():
        log.emit("output.appended", "output", "ref-1", {}, T0)
        raise Boom
    log.emit("output.appended", "output", "ref-2", {}, T0)
    m = epoch_minute(T0)
    assert [p.value for p in rollup.series([OUTPUTS], ALL, "", start_minute=m, end_minute=m + 1)[OUTPUTS]] == [1]
