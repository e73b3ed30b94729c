"""The console's web app: four pages (one shell, drawn by static/console.js) and the JSON API they read.

Handlers translate: query parameters and bodies in, the core's view models and the warehouse's answers out.
Every failure a user can cause or meet (an unknown run, bad SQL, an invalid plan, Kafka or the warehouse away)
comes back as ``{"error": "..."}`` with a status code and is shown on the page as one line; nothing answers with
a stack trace.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.console.core import views
from services.console.core.board import Board, label_matches
from services.console.core.plans import PlanRules, check_plan
from services.console.core.sql_guard import RefusedQuery
from services.console.hub import Hub
from services.console.warehouse import WarehouseViews, examples
from services.warehouse.query import BadQuery, WarehouseUnavailable

log = logging.getLogger(__name__)
STATIC = files("services.console") / "static"
KEEPALIVE_S = 15.0
_encoder = msgspec.json.Encoder(enc_hook=str)

Submit = Callable[..., Awaitable[str]]


class SubmitFailed(RuntimeError):
    """The request could not be published (Kafka away); the message says so."""


@dataclass
class Console:
    """What the handlers read from: the live board, the warehouse, the planner's rules, and how to submit."""

    board: Board
    hub: Hub
    warehouse: WarehouseViews
    rules: PlanRules
    submit: Submit
    now: Callable[[], datetime]
    feed_status: Callable[[], str] = lambda: "not started"


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def error(message: str, status: int) -> JSON:
    return JSON({"error": message}, status_code=status)


def build_app(console: Console) -> Starlette:
    shell = (STATIC / "index.html").read_text()

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(shell)

    async def list_runs(request: Request) -> JSON:
        status = request.query_params.get("status") or None
        label = request.query_params.get("label") or None
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", "100"))))
        except ValueError:
            return error("limit must be a whole number", 400)
        now = console.now()
        live = [views.summary(run, now) for run in console.board.runs() if _matches(run, status, label)]
        stored, warehouse_note = [], None
        try:
            stored = await run_in_threadpool(console.warehouse.runs, status=status, label=label, limit=limit)
        except WarehouseUnavailable as problem:
            warehouse_note = str(problem)
        seen = {row["run_id"] for row in live}
        rows = live + [row for row in stored if row["run_id"] not in seen]
        rows.sort(key=lambda row: row["requested_at"] or "", reverse=True)
        return JSON({"runs": rows[:limit], "feed": console.feed_status(), "warehouse": warehouse_note})

    async def show_run(request: Request) -> JSON:
        run_id = request.path_params["run_id"]
        found = await _run_detail(console, run_id)
        if isinstance(found, str):
            return error(found, 404)
        return JSON(found)

    async def stream(request: Request) -> StreamingResponse:
        run_id = request.query_params.get("run_id") or None
        return StreamingResponse(_events(console, request, run_id), media_type="text/event-stream")

    async def sql(request: Request) -> Response:
        if request.method == "GET":
            query, as_csv = request.query_params.get("query", ""), True
        else:
            body = await _json_body(request)
            query, as_csv = str(body.get("query", "")), False
        try:
            result, truncated, source = await run_in_threadpool(console.warehouse.sql, query)
        except (RefusedQuery, BadQuery) as problem:
            return error(f"bad query: {problem}", 400)
        except WarehouseUnavailable as problem:
            return error(str(problem), 503)
        if as_csv:
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(result.columns)
            writer.writerows(result.rows)
            headers = {"Content-Disposition": 'attachment; filename="genesis-query.csv"'}
            return Response(text.getvalue(), media_type="text/csv", headers=headers)
        return JSON({"columns": result.columns, "rows": result.rows, "truncated": truncated, "source": source})

    async def list_examples(request: Request) -> JSON:
        return JSON([{"name": ex.name, "description": ex.description, "sql": ex.sql} for ex in examples()])

    async def charts(request: Request) -> JSON:
        try:
            return JSON(await run_in_threadpool(console.warehouse.charts))
        except WarehouseUnavailable as problem:
            return error(str(problem), 503)

    async def check(request: Request) -> JSON:
        body = await _json_body(request)
        return JSON(check_plan(str(body.get("text", "")), console.rules))

    async def submit(request: Request) -> JSON:
        body = await _json_body(request)
        plan_text = str(body.get("plan_text") or "") or None
        query = str(body.get("query") or "") or None
        labels = body.get("labels") or {}
        if plan_text is None and query is None:
            return error("paste a plan or write a question first", 400)
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            return error("labels must be an object of strings", 400)
        if plan_text is not None:
            checked = check_plan(plan_text, console.rules)
            if not checked["ok"]:
                where = f"line {checked['line']}: " if checked["line"] is not None else ""
                return JSON({"error": f"{where}{checked['reason']}", "check": checked}, status_code=400)
        try:
            run_id = await console.submit(plan_text=plan_text, query=query, labels=labels)
        except SubmitFailed as problem:
            return error(str(problem), 503)
        return JSON({"run_id": run_id})

    async def health(request: Request) -> JSON:
        return JSON(
            {"feed": console.feed_status(), "runs": len(console.board.runs()), "watchers": console.hub.watchers}
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        detail = exc.detail if isinstance(exc, HTTPException) else "not found"
        return error(f"{request.url.path}: {detail}", getattr(exc, "status_code", 404))

    async def failed(request: Request, exc: Exception) -> Response:
        log.exception("console: %s %s failed", request.method, request.url.path)
        return error(f"the console failed on {request.url.path}: {type(exc).__name__}: {exc}", 500)

    routes = [
        Route("/", page),
        Route("/runs/{run_id}", page),
        Route("/sql", page),
        Route("/submit", page),
        Route("/api/runs", list_runs),
        Route("/api/runs/{run_id}", show_run),
        Route("/api/stream", stream),
        Route("/api/sql", sql, methods=["GET", "POST"]),
        Route("/api/examples", list_examples),
        Route("/api/charts", charts),
        Route("/api/plans/check", check, methods=["POST"]),
        Route("/api/submit", submit, methods=["POST"]),
        Route("/api/health", health),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: failed})


async def _run_detail(console: Console, run_id: str) -> dict[str, Any] | str:
    """The run's page from the live board, else from the warehouse; a message when neither has it."""
    run = console.board.get(run_id)
    if run is not None:
        return views.detail(run, console.now())
    try:
        stored = await run_in_threadpool(console.warehouse.run, run_id)
    except WarehouseUnavailable as problem:
        return f"no run {run_id!r} on the live feed, and the warehouse cannot be read: {problem}"
    if stored is None:
        return f"no run {run_id!r}: not on the live feed and not in the warehouse"
    return views.detail(stored, console.now(), source="warehouse")


async def _events(console: Console, request: Request, run_id: str | None) -> AsyncIterator[str]:
    """Server-sent events: `run` (a run's whole page) when watching one run, `summary` rows for the list."""
    with console.hub.subscribe() as subscription:
        if run_id is not None:
            yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            changed = await subscription.changes(KEEPALIVE_S)
            if not changed:
                yield ": keep-alive\n\n"
                continue
            now = console.now()
            if run_id is not None:
                run = console.board.get(run_id)
                if run_id in changed and run is not None:
                    yield _sse("run", views.detail(run, now))
                continue
            for changed_id in changed:
                run = console.board.get(changed_id)
                if run is not None:
                    yield _sse("summary", views.summary(run, now))


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {_encoder.encode(data).decode()}\n\n"


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        raise HTTPException(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return body


def _matches(run: Any, status: str | None, label: str | None) -> bool:
    return (status is None or run.status == status) and (label is None or label_matches(run.labels, label))
