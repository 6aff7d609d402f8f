from __future__ import annotations

from django.urls import path

from swarmsite.live.dashboard import DashboardConsumer
from swarmsite.live.identity_stream import IdentityEventsConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),  # type: ignore[arg-type]
    # Agents' JSON stream of one identity's events (API-token auth, resume with ?after=<event id>).
    path("ws/identities/<str:name>/events/", IdentityEventsConsumer.as_asgi()),  # type: ignore[arg-type]
]
