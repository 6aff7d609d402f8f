from __future__ import annotations

from django.apps import AppConfig


class SwarmsiteConfig(AppConfig):
    name = "swarmsite"
    verbose_name = "Swarmsite access"

    def ready(self) -> None:
        # The composition root hands what it builds to the rooms below, whose admin actions need it.
        from identities import wiring as identity_wiring
        from stores import wiring as store_wiring
        from swarmsite import composition

        store_wiring.install(composition.runtime_persistence)
        identity_wiring.install(composition.identity_runtime)
        from swarmsite.telemetry import configure_tracing

        configure_tracing()  # off unless the standard OTEL_* variables ask for it
