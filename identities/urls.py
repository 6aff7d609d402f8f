from __future__ import annotations

from django.urls import path

from identities import views, views_outputs, views_runtimes

urlpatterns = [
    path("", views.overview, name="overview"),
    path("agents/", views.agents, name="agents"),
    path("outputs/", views_outputs.outputs, name="outputs"),
    path("outputs/<str:ref>/", views_outputs.output_detail, name="output"),
    path("runtimes/", views_runtimes.runtimes, name="runtimes"),
    path("runtimes/<str:runtime_id>/", views_runtimes.runtime_detail, name="runtime"),
]
