from __future__ import annotations

from django.urls import path

from identities import views, views_runtimes

urlpatterns = [
    path("", views.overview, name="overview"),
    path("agents/", views.agents, name="agents"),
    path("runtimes/", views_runtimes.runtimes, name="runtimes"),
    path("runtimes/<str:runtime_id>/", views_runtimes.runtime_detail, name="runtime"),
]
