from __future__ import annotations

from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = "Swarm stores"
