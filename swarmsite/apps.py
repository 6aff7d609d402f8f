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
        from django.db.models.signals import post_delete, post_save

        from swarmsite.models import ApiToken
        from swarmsite.telemetry import configure_tracing
        from swarmsite.token_cache import token_changed

        post_save.connect(token_changed, sender=ApiToken, dispatch_uid="token-cache")
        post_delete.connect(token_changed, sender=ApiToken, dispatch_uid="token-cache")

        configure_tracing()  # off unless the standard OTEL_* variables ask for it
