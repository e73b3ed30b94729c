"""The trainer's configuration: configs/lightning_trainer.yaml, decoded strictly (an unknown key is an error that
names it), read once by the command or service that needs it and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import yaml

from configs.settings import CONFIG_DIR, ConfigError, load_section
from services.trainer.core.environment import EnvironmentConfig
from services.trainer.core.reward import RewardConfig

DEFAULT_TRAINER_CONFIG = CONFIG_DIR / "lightning_trainer.yaml"


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class AlgorithmConfig(_Section):
    # policy_search: the cross-entropy search over the policy knobs, on CPU. apo: Agent Lightning's APO tunes the
    # planning prompt against the llm endpoint (the `apo` section). verl is described in
    # docs/AGENT_LIGHTNING_RESEARCH.md; `genesis trainer run` says what it needs when it is chosen.
    name: Literal["policy_search", "apo", "verl"] = "policy_search"
    episodes: int = 12
    # Candidate policies per episode.
    population: int = 8
    # Environment episodes every candidate runs per search episode (the same ones for every candidate).
    batch_size: int = 4
    elite_fraction: float = 0.25
    smoothing: float = 0.7
    # Held-out environment episodes on which the starting and the learned policy are compared.
    validation_episodes: int = 8
    seed: int = 7
    # A batch of rollouts that has not finished by then is an error, not a silent gap in the curve.
    rollout_timeout_s: float = 60.0


Positive = Annotated[int, msgspec.Meta(ge=1)]
QuestionKind = Literal["comparison", "bridge", "aggregation", "parallel"]


class ApoConfig(_Section):
    """algorithm.name: apo. Agent Lightning's APO (beam search with textual gradients) over the planning prompt,
    on knowledge-base questions with known answers; the critique and edit calls go to the llm endpoint."""

    beam_rounds: Positive = 1
    beam_width: Positive = 1
    # Edits asked for per parent prompt per round.
    branch_factor: Positive = 1
    # Rollouts (questions answered under the parent prompt) the critique reads.
    gradient_batch_size: Positive = 2
    train_questions: Positive = 2
    # Questions every candidate is scored on (APO ranks by their mean reward).
    validation_questions: Positive = 2
    question_kinds: tuple[QuestionKind, ...] = ("bridge", "comparison")
    # Which questions: a seed of its own, so they are not the ones `genesis eval qa` reports on.
    question_seed: int = 11
    # null: llm.model.
    gradient_model: str | None = None
    apply_edit_model: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.7
    # Per critique or edit call (APO sets none; a llama.cpp server would write until its context is full).
    max_tokens: Positive = 384
    # An agent step inside a rollout may call at most this many tools.
    agent_max_tool_calls: Annotated[int, msgspec.Meta(ge=0)] = 1
    # A batch of rollouts still unfinished by then fails the run (APO would count the missing ones as 0).
    rollout_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0


class SearchSpace(_Section):
    """The planner policy knobs the search may change, with the values it may try; an empty or missing knob
    keeps the starting policy's value (the planner section of configs/genesis.yaml)."""

    max_parallelism: tuple[int, ...] = ()
    gap_threshold: tuple[int, ...] = ()
    max_attempts: tuple[int, ...] = ()

    def knobs(self) -> dict[str, tuple[int, ...]]:
        return {knob: values for knob, values in msgspec.structs.asdict(self).items() if values}


class StoreConfig(_Section):
    # The in-memory LightningStore, shared by one runner thread (the shm strategy). It is the backend that keeps
    # the policy resource's knobs as they are (docs/adr/0002-agent-lightning-0.3.md).
    backend: Literal["memory"] = "memory"


class CollectorConfig(_Section):
    """The trainer service: finished runs from Kafka become rollouts."""

    group_id: str = "genesis-trainer"
    # The durable LightningStore (SQLite) the service records rollouts, waiting turns and rewards in.
    store_path: str = ".genesis/trainer/rollouts.sqlite"
    # Run ids remembered, so a redelivered RunFinished does not become a second rollout.
    remember_runs: int = 100_000
    # Runs whose turns are held while their RunFinished has not arrived; the oldest are dropped beyond this.
    max_open_runs: int = 10_000
    # Records (turns and finished runs) read and written to the store in one batch: one SQLite commit each.
    batch_max_records: Positive = 500


class OutputConfig(_Section):
    reward_curve: str = ".genesis/trainer/reward_curve.png"
    # algorithm apo: every prompt APO proposed, with the critique, the scores and each rollout (JSON).
    apo_record: str = ".genesis/trainer/apo.json"


class TrainerConfig(_Section):
    algorithm: AlgorithmConfig = AlgorithmConfig()
    apo: ApoConfig = ApoConfig()
    optimise: SearchSpace = SearchSpace()
    reward: RewardConfig = RewardConfig()
    environment: EnvironmentConfig = EnvironmentConfig()
    store: StoreConfig = StoreConfig()
    collector: CollectorConfig = CollectorConfig()
    output: OutputConfig = OutputConfig()


def load_trainer_config(path: Path = DEFAULT_TRAINER_CONFIG) -> TrainerConfig:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"trainer config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        return msgspec.convert(document, TrainerConfig)
    except (msgspec.ValidationError, ValueError) as error:
        # msgspec says "... - at `$.algorithm.episodes`"; name the key as it is written in the file.
        raise ConfigError(f"{path}: {str(error).replace('`$.', '`').replace('`$`', 'the top level')}") from None


class TrainerServiceSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The `trainer` section of configs/genesis.yaml (GENESIS_TRAINER_<KEY>): how the running service is reached."""

    # Prometheus metrics on /metrics and health on /healthz (0: any free port, shown by `genesis status`).
    metrics_port: int = 9404


def load_trainer_service_settings() -> TrainerServiceSettings:
    return load_section("trainer", TrainerServiceSettings)
