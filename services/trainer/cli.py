"""genesis trainer: learn the planner's policy with Agent Lightning (run), and turn warehouse history into
rollouts (backfill). Agent Lightning is imported inside the commands: it takes seconds, and no other command
should pay for it."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import shutil
import statistics
from pathlib import Path

import msgspec
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from configs.settings import project_path
from schemas.policy import Policy
from services.cli.console import console, errors, fail, print_json
from services.llm.settings import load_llm_settings
from services.planner.intake import read_prompt_template
from services.planner.settings import load_planner_settings
from services.trainer.checkers import load_checker
from services.trainer.settings import DEFAULT_TRAINER_CONFIG, load_trainer_config

app = typer.Typer(
    help="Agent Lightning: learn the planner's policy from rewards; turn past runs into rollouts.", no_args_is_help=True
)

CONFIG_OPTION = typer.Option(DEFAULT_TRAINER_CONFIG, "--config", help="The trainer's configuration file.")


@app.command()
def run(
    episodes: int | None = typer.Option(
        None, "--episodes", min=1, help="Search episodes (default: algorithm.episodes)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the result as JSON."),
    publish: bool = typer.Option(False, "--publish", help="Send the learned policy to the planners over Kafka."),
    config_file: Path = CONFIG_OPTION,
) -> None:
    """Train the planner's policy on the rate-limited environment; save the reward curve; report the policy."""
    config = load_trainer_config(config_file)
    if config.algorithm.name != "policy_search":
        fail(_not_runnable_here(config.algorithm.name), code=2)
    planner = load_planner_settings()
    starting = Policy(
        max_parallelism=planner.max_parallelism, gap_threshold=planner.gap_threshold, max_attempts=planner.max_attempts
    )
    prompt = read_prompt_template(project_path(planner.prompt_file))
    checker = load_checker(config.reward.checker)
    total = episodes or config.algorithm.episodes
    _quiet_agent_lightning()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=as_json) as progress:
        bar = progress.add_task("loading Agent Lightning", total=total)
        from services.trainer.lightning.algorithm import RolloutsFailed
        from services.trainer.lightning.experiment import run_experiment

        progress.update(bar, description="training")
        try:
            result = run_experiment(
                config,
                starting=starting,
                prompt=prompt,
                episodes=total,
                checker=checker,
                on_episode=lambda stats: progress.update(
                    bar, advance=1, description=f"episode {stats.episode}: mean reward {stats.mean_reward:+.3f}"
                ),
            )
        except (RolloutsFailed, ValueError) as error:
            fail(f"training stopped: {error}")
    from services.trainer.plot import save_reward_curve

    picture = save_reward_curve(
        project_path(config.output.reward_curve),
        result.curve,
        initial=result.initial_mean_reward,
        final=result.final_mean_reward,
        rate_limit=config.environment.rate_limit,
    )
    policy = result.policy
    if publish:
        policy = _publish(policy, result.final_mean_reward).policy
    if as_json:
        print_json(
            {
                "traces": result.traces,
                "initial_mean_reward": round(result.initial_mean_reward, 6),
                "final_mean_reward": round(result.final_mean_reward, 6),
                "policy": msgspec.to_builtins(policy),
            }
        )
        return
    table = Table("", "starting policy", "learned policy", title=f"{result.traces} traces")
    table.add_row("mean reward (held out)", f"{result.initial_mean_reward:+.3f}", f"{result.final_mean_reward:+.3f}")
    for knob in ("max_parallelism", "gap_threshold", "max_attempts"):
        table.add_row(knob, str(getattr(starting, knob)), str(getattr(policy, knob)))
    console.print(table)
    console.print(f"reward curve: {picture}")
    if publish:
        console.print(f"published policy v{policy.version} on the policy topic")


@app.command()
def backfill(
    database: Path | None = typer.Option(
        None, help="A warehouse DuckDB file no writer holds (default: warehouse.dir, or its snapshots while it runs)."
    ),
    out: Path | None = typer.Option(None, help="Also write every rollout with its spans here, one JSON per line."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    config_file: Path = CONFIG_OPTION,
) -> None:
    """Score every finished run in the warehouse and log it as an Agent Lightning rollout with its spans."""
    # Imported here: only this command needs the warehouse's settings.
    from services.warehouse.settings import load_warehouse_settings

    config = load_trainer_config(config_file)
    checker = load_checker(config.reward.checker)
    _quiet_agent_lightning()
    from services.trainer.backfill import WarehouseUnavailable
    from services.trainer.lightning.history import record_history
    from services.warehouse import query

    try:
        if database is not None:
            rewards, exported = asyncio.run(record_history(database, config, checker, out))
        else:
            # The reader analysts use: the file read-only, or its Parquet snapshots while the warehouse writes it.
            with query.open_reader(load_warehouse_settings()) as reader:
                rewards, exported = asyncio.run(record_history(reader.connection, config, checker, out))
    except (WarehouseUnavailable, query.WarehouseUnavailable) as error:
        fail(str(error), hint="start the warehouse (genesis up), or pass --database FILE")
    summary = {
        "traces": len(rewards),
        "mean_reward": round(statistics.fmean(rewards), 6) if rewards else None,
        "exported": exported,
    }
    if as_json:
        print_json(summary)
        return
    console.print(f"{summary['traces']} finished runs logged as rollouts; mean reward {summary['mean_reward']}")
    if out is not None:
        console.print(f"rollouts and spans written to {out}")


def _publish(policy: Policy, mean_reward: float):
    from deploy.local_kafka import load_local_kafka_settings
    from services.trainer.publish import publish_policy
    from streams.catalogue import Catalogue
    from streams.connection import bootstrap_servers
    from streams.settings import load_kafka_settings

    kafka = load_kafka_settings()
    bootstrap = bootstrap_servers(kafka, load_local_kafka_settings())
    reason = "genesis trainer run: policy search on the rate-limited environment"
    return asyncio.run(
        publish_policy(bootstrap, Catalogue(kafka.topic_prefix), kafka, policy, reason=reason, mean_reward=mean_reward)
    )


def _not_runnable_here(algorithm: str) -> str:
    """What the chosen algorithm needs, what of it is missing here, and what this build runs instead."""
    if algorithm == "apo":
        needs = {
            "an OpenAI-compatible endpoint (llm.base_url and llm.model in configs/genesis.yaml)": load_llm_settings().enabled,
            "the poml package that agentlightning's APO imports (the agentlightning[apo] extra)": importlib.util.find_spec(
                "poml"
            )
            is not None,
        }
    else:
        needs = {
            "a CUDA GPU": shutil.which("nvidia-smi") is not None,
            "PyTorch and verl (the agentlightning[verl] extra)": all(
                importlib.util.find_spec(name) is not None for name in ("torch", "verl")
            ),
            "an LLM to train that serves token ids (vLLM)": importlib.util.find_spec("vllm") is not None,
        }
    missing = [need for need, present in needs.items() if not present]
    return (
        f"algorithm {algorithm} needs {'; '.join(needs)}. "
        + (f"Missing here: {'; '.join(missing)}. " if missing else "")
        + "This build trains with policy_search; the steps to run "
        + f"{algorithm} are in docs/AGENT_LIGHTNING_RESEARCH.md (set algorithm.name: policy_search to train now)."
    )


def _quiet_agent_lightning() -> None:
    # Its runner logs every rollout at INFO; the progress bar says the same, once.
    logging.getLogger("agentlightning").setLevel(logging.WARNING)
