"""A service's HTTP endpoint for operators: Prometheus metrics on /metrics and its health on /healthz.

It runs on a thread of its own, so /healthz still answers (503) when the service's event loop is blocked: the
heartbeat, written by that loop, then stops moving. /healthz is 200 once the service consumes, while its
heartbeat is fresh and every loop it watches runs; otherwise 503 with the reasons as JSON.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import msgspec
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

from services.runtime.health import Heartbeat


class MetricsPortInUse(RuntimeError):
    pass


class HealthReport(msgspec.Struct, frozen=True, kw_only=True):
    healthy: bool
    reasons: list[str]


def health_report(heartbeat: Heartbeat, *, unhealthy_after_s: float) -> HealthReport:
    reasons = []
    if not heartbeat.ready:
        reasons.append("not consuming yet")
    else:
        age = heartbeat.beat_age_s()
        if age is None or age > unhealthy_after_s:
            reasons.append(f"event loop unresponsive: last heartbeat {age or 0:.1f} s ago")
    reasons.extend(f"loop stopped: {loop}" for loop in heartbeat.stopped_loops())
    return HealthReport(healthy=not reasons, reasons=reasons)


class MetricsServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        health: Callable[[], HealthReport],
        registry: CollectorRegistry = REGISTRY,
        setting: str = "metrics_port",
    ) -> None:
        self._host = host
        self._port = port
        self._setting = setting
        self._metrics = make_wsgi_app(registry)
        self._health = health
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one the system chose when configured as 0)."""
        assert self._server is not None, "start() first"
        return self._server.server_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "", "::") else self._host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        try:
            self._server = make_server(
                self._host, self._port, self._route, server_class=_ThreadingServer, handler_class=_QuietHandler
            )
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise MetricsPortInUse(
                    f"metrics port {self._port} on {self._host} is in use; set {self._setting} to a free port "
                    "(0: any free port)"
                ) from None
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            report = self._health()
            status = "200 OK" if report.healthy else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [msgspec.json.encode(report)]
        if path in ("/metrics", "/"):
            return self._metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds would flood the log
        pass
