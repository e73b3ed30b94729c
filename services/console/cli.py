"""genesis console: the web console in the foreground (`genesis up` also starts it in the background)."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import typer

from services.cli.console import console as terminal

app = typer.Typer()


@app.command("console")
def serve_console(
    port: int | None = typer.Option(None, "--port", "-p", min=0, help="Port to serve on (console.port, 8080)."),
    host: str | None = typer.Option(None, "--host", help="Address to bind (console.host, 127.0.0.1)."),
) -> None:
    """Serve the web console: runs live as DAGs, their timelines, SQL over the warehouse, plan submission."""
    from services.console.bootstrap import build_console
    from services.console.settings import load_console_settings

    settings = load_console_settings()
    overrides = {key: value for key, value in {"port": port, "host": host}.items() if value is not None}
    service = build_console(msgspec.structs.replace(settings, **overrides))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(service.run(on_ready=lambda url: terminal.print(f"console on {url} (Ctrl-C stops it)")))
