from __future__ import annotations

from django.urls import path

from swarmsite.dashboard import (
    agents,
    audit,
    identity,
    identity_actions,
    outputs,
    overview,
    roster,
    roster_bulk,
    runtimes,
    sessions,
    storage,
    tokens,
)

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("roster/", roster.roster, name="roster"),
    path("roster/bulk/<str:action>/", roster_bulk.roster_bulk, name="roster-bulk"),
    path("identities/<str:name>/", identity.identity_detail, name="identity"),
    path("identities/<str:name>/diff/", identity.checkpoint_diff, name="identity-diff"),
    path("identities/<str:name>/send/", identity_actions.send_message, name="identity-send"),
    path("identities/<str:name>/inbox/<str:batch_id>/cancel/", identity_actions.cancel_batch, name="identity-cancel"),
    path("identities/<str:name>/actions/<str:action>/", identity_actions.recovery_action, name="identity-action"),
    path("audit/", audit.audit_log, name="audit"),
    path("agents/", agents.agents, name="agents"),
    path("outputs/", outputs.outputs, name="outputs"),
    path("outputs/<str:ref>/", outputs.output_detail, name="output"),
    path("runtimes/", runtimes.runtimes, name="runtimes"),
    path("runtimes/<str:runtime_id>/", runtimes.runtime_detail, name="runtime"),
    path("sessions/", sessions.sessions, name="sessions"),
    path("sessions/<str:session_id>/", sessions.session_detail, name="session"),
    path("sessions/<str:session_id>/queue/<str:batch_id>/cancel/", sessions.cancel_batch, name="session-cancel"),
    path("sessions/<str:session_id>/maintenance/<str:action>/", sessions.maintenance, name="session-maintenance"),
    path("storage/", storage.storage, name="storage"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/create/", tokens.create_token, name="token-create"),
    path("tokens/<int:token_id>/revoke/", tokens.revoke_token, name="token-revoke"),
]
