"""`genesis serve llm --name llm` (what `genesis up` starts when no endpoint is configured): the local model server
with a health file, so that `genesis status` and the supervisor see it like any other service."""

from __future__ import annotations

from dataclasses import dataclass

from services.llm.local import LocalModelServer
from services.llm.settings import LlmSettings, load_llm_settings
from services.runtime.health import Heartbeat
from services.runtime.settings import load_runtime_settings


@dataclass
class LocalModelService:
    settings: LlmSettings
    heartbeat: Heartbeat | None = None

    async def run(self) -> None:
        async def ready(port: int) -> None:
            if self.heartbeat is not None:
                self.heartbeat.detail.update(model=self.settings.local_model, url=f"http://127.0.0.1:{port}/v1")
                await self.heartbeat.start()

        try:
            await LocalModelServer(self.settings).serve(on_ready=ready)
        finally:
            if self.heartbeat is not None:
                await self.heartbeat.stop()


def build(name: str) -> LocalModelService:
    runtime = load_runtime_settings()
    return LocalModelService(load_llm_settings(), Heartbeat(runtime.run_dir, name, runtime.heartbeat_interval_s))
