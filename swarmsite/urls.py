from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from swarmsite.api.assembly import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("swarmsite.dashboard.urls")),
]
