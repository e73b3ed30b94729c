"""genesis llm serve: the local model (extra local-llm) as an OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import asyncio

import msgspec
import typer

from services.cli.console import console, fail
from services.llm.local import LocalModelServer, LocalModelUnavailable, model_path
from services.llm.settings import load_llm_settings

app = typer.Typer(help="The local language model (extra local-llm): serve it on 127.0.0.1.", no_args_is_help=True)


@app.command()
def serve(
    port: int | None = typer.Option(None, "--port", help="Port on 127.0.0.1 (default llm.local_port; 0: any free)."),
) -> None:
    """Serve llm.local_model at http://127.0.0.1:PORT/v1 in the foreground until Ctrl-C."""
    settings = load_llm_settings()
    if port is not None:
        settings = msgspec.structs.replace(settings, local_port=port)
    try:
        path = model_path(settings.local_model)
    except LocalModelUnavailable as error:
        fail(str(error), code=2)

    async def ready(bound: int) -> None:
        console.print(f"{settings.local_model} ({path.name}) at http://127.0.0.1:{bound}/v1", soft_wrap=True)
        console.print(
            f"use it: GENESIS_LLM_BASE_URL=http://127.0.0.1:{bound}/v1 GENESIS_LLM_MODEL={settings.local_model}"
        )

    try:
        asyncio.run(LocalModelServer(settings, port=settings.local_port).serve(on_ready=ready))
    except KeyboardInterrupt:
        pass
