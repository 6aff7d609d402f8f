"""HTTP under daphne: Django's synchronous handler on a fixed set of long-lived threads.

Django's own ASGI handler runs each request's synchronous code in a thread made for that request, so
the thread's database connection is opened and closed every time (on PostgreSQL a new backend; on
SQLite even the `-wal`/`-shm` files), and each request crosses between the event loop and threads
several times (signals, middleware, view, response close). Here daphne still speaks HTTP and owns the
websockets, but a request crosses once: the event loop reads the body, one pool thread runs Django's
WSGI handler to the finished response (with persistent, health-checked connections: CONN_MAX_AGE),
and the loop writes it back.

- API routes (except the docs pages, which log people in) run through a handler with the API's own
  middleware only: no sessions, CSRF, messages, htmx or CSP machinery (`API_SKIPS`).
- Long-polls run on a pool of their own, so waiting agents never take the threads quick requests
  need; those threads close their connection after each request (they are many and mostly asleep).
- A body above SWARM_MAX_BODY_BYTES is not kept: the handler sees its length and answers 413.
- A connection that answered a request without error less than SWARM_CONN_HEALTH_IDLE_S ago is not
  health-checked again before the next one (Django checks every reused connection with a round trip
  to the database at each request's first query: on PostgreSQL that doubled a heartbeat's round
  trips); one idle for longer, or after an error, is checked as before.

SWARM_HTTP_THREADS sets the pool (0: Django's own ASGI handler, for comparison)."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.wsgi import WsgiToAsgiInstance
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.utils.module_loading import import_string

from swarmsite.live import publish

log = logging.getLogger(__name__)

# Dashboard-only middleware the API's handler leaves out: API routes authenticate with bearer tokens
# (never cookies), so they need no session, user, CSRF check, messages, htmx details or page CSP.
API_SKIPS = frozenset({
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "swarmsite.dashboard.toasts.HtmxMessagesMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
})
# API pages for people: logged-in dashboard users may read them, so they keep the full chain.
API_PAGES = ("/api/v1/docs", "/api/v1/openapi.json")
# Long-polls: they hold their thread for up to SWARM_OUTPUT_WAIT_MAX_S.
LONG_POLL_SUFFIXES = ("/output",)
LONG_POLL_PATHS = ("/api/v1/outputs/wait",)


def is_api(path: str) -> bool:
    return (path.startswith("/api/") and not path.startswith(API_PAGES)) or path == "/metrics"


def is_long_poll(path: str) -> bool:
    return path.startswith(LONG_POLL_PATHS) or (path.startswith("/api/v1/identities/")
                                                  and path.endswith(LONG_POLL_SUFFIXES))


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with the API's middleware: settings.MIDDLEWARE less API_SKIPS, in order."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed([m for m in settings.MIDDLEWARE if m not in API_SKIPS]):
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def _mark_answered(**kwargs: Any) -> None:
    """After Django's own end-of-request check (connected before this): the connections that served
    this request without error, with the time."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            conn.swarm_answered_at = now  # type: ignore[attr-defined]


def _skip_fresh_health_checks(**kwargs: Any) -> None:
    """After Django's close_old_connections at request start: a connection that answered within
    SWARM_CONN_HEALTH_IDLE_S counts as checked (one round trip less per request)."""
    fresh_after = time.monotonic() - settings.SWARM_CONN_HEALTH_IDLE_S
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and getattr(conn, "swarm_answered_at", -1.0) > fresh_after:
            conn.health_check_done = True  # type: ignore[attr-defined]


def _run(handler: Callable[..., Iterable[bytes]], environ: dict[str, Any], close_after: bool) -> Response:
    """In a pool thread: the whole request, to the finished response (closing it sends request_finished,
    which keeps or recycles the thread's connection by CONN_MAX_AGE and its health check)."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]

    try:
        result = handler(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    finally:
        if close_after:
            connections.close_all()
    return started["status"], started["headers"], body


class ThreadedDjango:
    """The ASGI app for `http` scopes (websockets stay with Channels' router)."""

    def __init__(self, threads: int, wait_threads: int) -> None:
        self.api = ApiHandler()
        self.site = WSGIHandler()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="swarm-http")
        self.wait_pool = ThreadPoolExecutor(wait_threads, thread_name_prefix="swarm-wait")
        self.limit = settings.SWARM_MAX_BODY_BYTES
        request_finished.connect(_mark_answered, dispatch_uid="swarm-mark-answered")
        request_started.connect(_skip_fresh_health_checks, dispatch_uid="swarm-skip-fresh-health-checks")

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        body, size = await self._read_body(receive)
        instance = WsgiToAsgiInstance(None)
        instance.scope = scope
        try:
            environ = instance.build_environ(scope, io.BytesIO(body))
        except ValueError:  # too many duplicate headers
            await _answer(send, 400, [(b"content-type", b"text/plain")], b"Bad Request: too many duplicate headers")
            return
        if size or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(size)  # also for chunked bodies, and the true size of a refused one
        path = scope["path"]
        handler = self.api if is_api(path) else self.site
        long_poll = is_long_poll(path)
        loop = asyncio.get_running_loop()
        publish.bind_server_loop(loop)
        try:
            status, headers, content = await loop.run_in_executor(
                self.wait_pool if long_poll else self.pool, _run, handler, environ, long_poll
            )
        except Exception:  # Django answers its own errors; this is a failure outside any view
            log.exception("request to %s failed outside Django's handler", path)
            status, headers, content = 500, [(b"content-type", b"text/plain")], b"Internal Server Error"
        await _answer(send, status, headers, content)

    async def _read_body(self, receive: Callable[..., Any]) -> tuple[bytes, int]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.limit:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        return (b"".join(chunks) if size <= self.limit else b""), size


async def _answer(send: Callable[..., Any], status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]  # the whole body is here: no chunking
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
