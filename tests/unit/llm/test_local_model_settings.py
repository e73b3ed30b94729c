"""Which services `genesis up` points at the local model, and when it serves one at all."""

from __future__ import annotations

import socket

import pytest

from services.cli import stack_cli
from services.cli.stack_cli import with_local_model
from services.llm import local
from services.llm.local import LocalModelUnavailable, local_endpoint_env, model_path
from services.llm.settings import LlmSettings
from services.runtime.supervisor import Service

SERVICES = [Service("planner", "planner"), Service("executor-1", "executor"), Service("warehouse", "warehouse")]


def test_up_adds_the_local_model_and_points_model_users_at_it_when_no_endpoint_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local, "extra_installed", lambda: True)
    settings = LlmSettings(local_port=8123)
    started = with_local_model(SERVICES, settings)
    assert [service.name for service in started] == ["llm", "planner", "executor-1", "warehouse"]
    assert started[0].env == {"GENESIS_LLM_LOCAL_PORT": "8123"}
    env = local_endpoint_env(settings)
    assert env["GENESIS_LLM_BASE_URL"] == "http://127.0.0.1:8123/v1" and env["GENESIS_LLM_MODEL"] == "smollm2"
    assert started[1].env == env and started[2].env == env and started[3].env == {}


def test_up_serves_the_model_on_a_free_port_when_the_configured_one_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "extra_installed", lambda: True)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        started = with_local_model(SERVICES, LlmSettings(local_port=taken))
    port = started[0].env["GENESIS_LLM_LOCAL_PORT"]
    assert port != str(taken) and started[1].env["GENESIS_LLM_BASE_URL"] == f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    ("installed", "settings"),
    [(False, LlmSettings()), (True, LlmSettings(base_url="http://gpu:8000/v1", model="qwen"))],
    ids=["extra missing", "endpoint configured"],
)
def test_up_starts_no_local_model_when_the_extra_is_missing_or_an_endpoint_is_set(
    monkeypatch: pytest.MonkeyPatch, installed: bool, settings: LlmSettings
) -> None:
    monkeypatch.setattr(local, "extra_installed", lambda: installed)
    assert with_local_model(SERVICES, settings) == SERVICES
    assert "llm" in stack_cli.SERVICE_MODULES


def test_unknown_local_model_is_named_with_the_shipped_ones_when_asked_for() -> None:
    with pytest.raises(LocalModelUnavailable, match="unknown model 'llama-70b' \\(shipped: smollm2\\)"):
        model_path("llama-70b")


def test_up_picks_any_free_port_when_the_local_port_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "extra_installed", lambda: True)
    started = with_local_model(SERVICES, LlmSettings(local_port=0))
    port = int(started[0].env["GENESIS_LLM_LOCAL_PORT"])
    assert port > 0 and started[1].env["GENESIS_LLM_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
