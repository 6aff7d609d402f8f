from __future__ import annotations

from django.urls import path

from identities import (
    views,
    views_audit,
    views_bulk,
    views_identity,
    views_outputs,
    views_overview,
    views_recovery,
    views_roster,
    views_runtimes,
    views_sessions,
    views_tokens,
)

urlpatterns = [
    path("", views_overview.overview, name="overview"),
    path("roster/", views_roster.roster, name="roster"),
    path("roster/bulk/<str:action>/", views_bulk.roster_bulk, name="roster-bulk"),
    path("identities/<str:name>/", views_identity.identity_detail, name="identity"),
    path("identities/<str:name>/diff/", views_identity.checkpoint_diff, name="identity-diff"),
    path("identities/<str:name>/send/", views_recovery.send_message, name="identity-send"),
    path("identities/<str:name>/inbox/<str:batch_id>/cancel/", views_recovery.cancel_batch, name="identity-cancel"),
    path("identities/<str:name>/actions/<str:action>/", views_recovery.recovery_action, name="identity-action"),
    path("audit/", views_audit.audit_log, name="audit"),
    path("agents/", views.agents, name="agents"),
    path("outputs/", views_outputs.outputs, name="outputs"),
    path("outputs/<str:ref>/", views_outputs.output_detail, name="output"),
    path("runtimes/", views_runtimes.runtimes, name="runtimes"),
    path("runtimes/<str:runtime_id>/", views_runtimes.runtime_detail, name="runtime"),
    path("sessions/", views_sessions.sessions, name="sessions"),
    path("sessions/<str:session_id>/", views_sessions.session_detail, name="session"),
    path("sessions/<str:session_id>/queue/<str:batch_id>/cancel/", views_sessions.cancel_batch, name="session-cancel"),
    path("sessions/<str:session_id>/maintenance/<str:action>/", views_sessions.maintenance, name="session-maintenance"),
    path("tokens/", views_tokens.tokens, name="tokens"),
    path("tokens/create/", views_tokens.create_token, name="token-create"),
    path("tokens/<int:token_id>/revoke/", views_tokens.revoke_token, name="token-revoke"),
]
