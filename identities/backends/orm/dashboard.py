"""OrmDashboardReads: the dashboard's aggregate reads, each one query whatever the swarm's size.

The stores' contracts answer per-object questions; the overview needs counts across every store and
the roster needs a lease-status filter, which only a join can do in a fixed number of queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from identities.dashboard_reads import LEASE_FILTERS, OverviewCounts
from identities.models import CheckpointRow, Identity, LeaseRow, StaleWriteRejection
from identities.types import IdentityState, LeaseState
from stores.backends.orm.base import translate_db_errors
from stores.backends.orm.persistence_rows import held
from stores.models.outputs import Output
from stores.models.persistence import QueuedWorkBatchRecord
from stores.types import Page


def _live_lease(now: datetime) -> Q:
    return Q(state=LeaseState.HELD, expires_at__gt=now)


def _lost_lease(now: datetime) -> Q:
    # A held lease past its expiry reads as lost before the sweep persists it (Lease.effective).
    return Q(state=LeaseState.LOST) | Q(state=LeaseState.HELD, expires_at__lte=now)


class OrmDashboardReads:
    @translate_db_errors
    def overview_counts(self, now: datetime) -> OverviewCounts:
        identities = {s.value: 0 for s in IdentityState}
        for state, n in Identity.objects.values_list("state").annotate(n=Count("name")).order_by():
            identities[state] = n
        leases = LeaseRow.objects.aggregate(
            held=Count("identity", filter=_live_lease(now)), lost=Count("identity", filter=_lost_lease(now))
        )
        now_ms = int(now.timestamp() * 1000)
        claimed = held(now_ms)
        inbox = QueuedWorkBatchRecord.objects.filter(outcome__isnull=True).aggregate(
            pending=Count("enqueue_seq", filter=~claimed), claimed=Count("enqueue_seq", filter=claimed)
        )
        hour_ago = now - timedelta(hours=1)
        rejections = StaleWriteRejection.objects.aggregate(
            total=Count("id"), last_hour=Count("id", filter=Q(created_at__gte=hour_ago))
        )
        return OverviewCounts(
            identities=identities,
            leases_held=leases["held"],
            leases_lost=leases["lost"],
            inbox_pending=inbox["pending"],
            inbox_claimed=inbox["claimed"],
            outputs_last_hour=Output.objects.filter(created_at__gte=hour_ago).count(),
            rejections_total=rejections["total"],
            rejections_last_hour=rejections["last_hour"],
        )

    @translate_db_errors
    def roster_names(
        self,
        now: datetime,
        *,
        state: IdentityState | None = None,
        lease: str = "",
        search: str = "",
        label: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[str]:
        """One page of identity names matching the roster's filters, by name (two queries)."""
        rows = self._filtered(now, state=state, lease=lease, search=search, label=label)
        total = rows.count()
        names = list(rows.order_by("name").values_list("name", flat=True)[offset : offset + limit])
        return Page(items=names, total=total, offset=offset, limit=limit)

    def _filtered(
        self, now: datetime, *, state: IdentityState | None, lease: str, search: str, label: tuple[str, str] | None
    ) -> QuerySet[Identity]:
        rows: QuerySet[Identity] = Identity.objects.all()
        if state is not None:
            rows = rows.filter(state=state.value)
        if search:
            rows = rows.filter(Q(name__icontains=search) | Q(display_name__icontains=search))
        if label is not None:
            key, value = label
            # A JSON key lookup takes the key as a path segment: anything but a plain name matches nothing.
            rows = rows.filter(**{f"labels__{key}": value}) if key.isidentifier() else rows.none()
        if lease in LEASE_FILTERS:
            # IN (subquery) rather than a correlated EXISTS: the lease table's (state, expires_at) index
            # then picks the few held or lost leases instead of probing once per identity.
            live, lost = LeaseRow.objects.filter(_live_lease(now)), LeaseRow.objects.filter(_lost_lease(now))
            if lease == "held":
                rows = rows.filter(name__in=live.values("identity"))
            elif lease == "lost":
                rows = rows.filter(name__in=lost.values("identity"))
            else:
                rows = rows.exclude(name__in=(live | lost).values("identity"))
        return rows

    @translate_db_errors
    def checkpoint_data(self, identity: str, generation: int, version: int) -> bytes | None:
        """The bytes of one kept checkpoint (the contract loads only the newest), or None."""
        data = (
            CheckpointRow.objects.filter(identity=identity, generation=generation, version=version)
            .values_list("data", flat=True)
            .first()
        )
        return bytes(data) if data is not None else None
