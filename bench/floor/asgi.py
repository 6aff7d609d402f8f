"""ASGI entry point of the floor app: `python -m daphne bench.floor.asgi:application`."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
application = get_asgi_application()
