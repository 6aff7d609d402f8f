"""ASGI entry point: HTTP through Django on a thread pool (swarmsite/http_bridge.py), websockets through
Channels, plus the liveness sweeper."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from swarmsite.affinity import pin_this_process

pin_this_process()  # a worker started by `manage.py serve` runs on a core of its own
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "swarmsite.settings")
django_asgi_app = get_asgi_application()  # must run before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from swarmsite.http_bridge import ThreadedDjango  # noqa: E402
from swarmsite.live.identity_stream import OriginCheckExceptTokenStreams  # noqa: E402
from swarmsite.live.routing import websocket_urlpatterns  # noqa: E402
from swarmsite.sweeper import SweeperMiddleware  # noqa: E402

application = SweeperMiddleware(
    ProtocolTypeRouter(
        {
            # Django on long-lived threads with persistent connections (SWARM_HTTP_THREADS=0: Django's own).
            "http": ThreadedDjango(settings.SWARM_HTTP_THREADS, settings.SWARM_HTTP_WAIT_THREADS)
            if settings.SWARM_HTTP_THREADS > 0 else django_asgi_app,
            "websocket": OriginCheckExceptTokenStreams(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),  # type: ignore[arg-type]
        }
    )
)
