"""One NinjaAPI with an async no-op at POST /api/v1/noop (the same path as the product's)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Schema

api = NinjaAPI(title="floor", urls_namespace="floor", docs_url=None, openapi_url=None)


class NoopOut(Schema):
    ok: bool


@api.post("/noop", response=NoopOut)
async def noop(request: HttpRequest) -> dict[str, bool]:
    return {"ok": True}


urlpatterns = [path("api/v1/", api.urls)]
