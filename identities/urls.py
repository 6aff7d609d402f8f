from __future__ import annotations

from django.urls import path

from identities import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("agents/", views.agents, name="agents"),
]
