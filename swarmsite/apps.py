from __future__ import annotations

from django.apps import AppConfig


class SwarmsiteConfig(AppConfig):
    name = "swarmsite"
    verbose_name = "Swarmsite access"
