from __future__ import annotations

from django.urls import path, register_converter

from swarmsite.dashboard import (
    agent,
    agents,
    audit,
    audit_filters,
    charts,
    identity,
    identity_actions,
    outputs,
    overview,
    roster,
    roster_bulk,
    runtimes,
    search,
    sessions,
    storage,
    task,
    tokens,
)


class PrintableId:
    """A path segment that can name a stored object: 1 to 255 characters, no NUL or other control
    character (PostgreSQL refuses NUL in text). Anything else is a 404 before a view runs."""

    regex = r"[^/\x00-\x1f\x7f]{1,255}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TaskId(PrintableId):
    """A task id as the outputs API takes it: 1 to 200 characters, any but control characters, so
    slashes too (the task page is the rest of the path)."""

    regex = r"[^\x00-\x1f\x7f]{1,200}"


register_converter(PrintableId, "id")
register_converter(TaskId, "task")


urlpatterns = [
    path("", overview.overview, name="overview"),
    path("roster/", roster.roster, name="roster"),
    path("roster/bulk/<id:action>/", roster_bulk.roster_bulk, name="roster-bulk"),
    path("identities/<id:name>/", identity.identity_detail, name="identity"),
    path("identities/<id:name>/diff/", identity.checkpoint_diff, name="identity-diff"),
    path("identities/<id:name>/send/", identity_actions.send_message, name="identity-send"),
    path("identities/<id:name>/inbox/<id:batch_id>/cancel/", identity_actions.cancel_batch, name="identity-cancel"),
    path("identities/<id:name>/actions/<id:action>/", identity_actions.recovery_action, name="identity-action"),
    path("audit/", audit.audit_log, name="audit"),
    path("agents/", agents.agents, name="agents"),
    path("agents/<str:agent_id>/", agent.agent_detail, name="agent"),
    path("audit/export.csv", audit_filters.audit_csv, name="audit-csv"),
    path("charts/", charts.chart_data, name="chart-data"),
    path("search/", search.search, name="search"),
    path("tasks/<task:task_id>/", task.task_detail, name="task"),
    path("outputs/", outputs.outputs, name="outputs"),
    path("outputs/<id:ref>/", outputs.output_detail, name="output"),
    path("runtimes/", runtimes.runtimes, name="runtimes"),
    path("runtimes/<id:runtime_id>/", runtimes.runtime_detail, name="runtime"),
    path("sessions/", sessions.sessions, name="sessions"),
    path("sessions/<id:session_id>/", sessions.session_detail, name="session"),
    path("sessions/<id:session_id>/queue/<id:batch_id>/cancel/", sessions.cancel_batch, name="session-cancel"),
    path("sessions/<id:session_id>/maintenance/<id:action>/", sessions.maintenance, name="session-maintenance"),
    path("storage/", storage.storage, name="storage"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/create/", tokens.create_token, name="token-create"),
    path("tokens/<int:token_id>/revoke/", tokens.revoke_token, name="token-revoke"),
]
