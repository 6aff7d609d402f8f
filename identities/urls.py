from __future__ import annotations

from django.urls import path

from identities import views, views_outputs, views_runtimes, views_sessions

urlpatterns = [
    path("", views.overview, name="overview"),
    path("agents/", views.agents, name="agents"),
    path("outputs/", views_outputs.outputs, name="outputs"),
    path("outputs/<str:ref>/", views_outputs.output_detail, name="output"),
    path("runtimes/", views_runtimes.runtimes, name="runtimes"),
    path("runtimes/<str:runtime_id>/", views_runtimes.runtime_detail, name="runtime"),
    path("sessions/", views_sessions.sessions, name="sessions"),
    path("sessions/<str:session_id>/", views_sessions.session_detail, name="session"),
    path("sessions/<str:session_id>/queue/<str:batch_id>/cancel/", views_sessions.cancel_batch, name="session-cancel"),
    path("sessions/<str:session_id>/maintenance/<str:action>/", views_sessions.maintenance, name="session-maintenance"),
]
