"""genesis trainer: learn the planner's policy with Agent Lightning (run), and turn warehouse history into
rollouts (backfill). Agent Lightning is imported inside the commands: it takes seconds, and no other command
should pay for it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
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
from services.trainer.settings import DEFAULT_TRAINER_CONFIG, TrainerConfig, load_trainer_config

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
    algorithm: str | None = typer.Option(
        None, "--algorithm", help="policy_search (the knobs) or apo (the planning prompt); default: algorithm.name."
    ),
    rounds: int | None = typer.Option(None, "--rounds", min=1, help="apo: beam rounds (default: apo.beam_rounds)."),
    local: bool = typer.Option(False, "--local", help="apo: serve the local model here (extra local-llm) and use it."),
    config_file: Path = CONFIG_OPTION,
) -> None:
    """Train the planner's policy: policy_search learns the knobs on the rate-limited environment (reward curve
    saved); apo tunes the planning prompt with Agent Lightning's APO against the llm endpoint (or --local)."""
    config = load_trainer_config(config_file)
    name = algorithm or config.algorithm.name
    if name not in ("policy_search", "apo", "verl"):
        fail(f"--algorithm: {name!r} is not one of policy_search, apo, verl", code=2)
    if name == "apo":
        _run_apo(config, rounds=rounds, local=local, publish=publish, as_json=as_json)
        return
    if name != "policy_search":
        fail(_not_runnable_here(name), code=2)
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
    from services.trainer.publish import publish_policy

    bootstrap, catalogue, kafka = _kafka()
    reason = "genesis trainer run: policy search on the rate-limited environment"
    return asyncio.run(publish_policy(bootstrap, catalogue, kafka, policy, reason=reason, mean_reward=mean_reward))


def _kafka():
    from deploy.local_kafka import load_local_kafka_settings
    from streams.catalogue import Catalogue
    from streams.connection import bootstrap_servers
    from streams.settings import load_kafka_settings

    kafka = load_kafka_settings()
    return bootstrap_servers(kafka, load_local_kafka_settings()), Catalogue(kafka.topic_prefix), kafka


def _run_apo(config: TrainerConfig, *, rounds: int | None, local: bool, publish: bool, as_json: bool) -> None:
    """APO over the planning prompt: rollouts are knowledge-base questions planned under each candidate prompt,
    scored by the reward function; every proposal and score is saved to output.apo_record."""
    # Imported here: only this command needs the eval questions, the tools and the local model's server.
    from services.executor.tools import build_registry, load_tool_settings
    from services.executor.tools.knowledge_base import KnowledgeBase
    from services.llm.chat import ChatClient
    from services.llm.local import LocalModelUnavailable, served_in_thread
    from services.planner.settings import intake_limits
    from services.trainer.question_rollouts import QuestionRollouts, tuning_questions

    settings = config.apo if rounds is None else msgspec.structs.replace(config.apo, beam_rounds=rounds)
    llm_settings = load_llm_settings()
    if not local and not llm_settings.enabled:
        fail("apo needs a model: set llm.base_url and llm.model, or pass --local (needs the local-llm extra)", code=2)
    planner = load_planner_settings()
    seed_prompt = read_prompt_template(project_path(planner.prompt_file))
    try:
        train, validation = tuning_questions(
            KnowledgeBase.load(),
            kinds=settings.question_kinds,
            train=settings.train_questions,
            validation=settings.validation_questions,
            seed=settings.question_seed,
        )
    except ValueError as error:
        fail(str(error), code=2)
    _quiet_agent_lightning()
    with contextlib.ExitStack() as stack:
        try:
            llm = stack.enter_context(served_in_thread(llm_settings)) if local else llm_settings
        except (LocalModelUnavailable, RuntimeError) as error:
            fail(str(error), code=2)
        status = stack.enter_context(errors.status("loading Agent Lightning"))
        from services.trainer.lightning.prompt_tuning import RolloutsIncomplete, record_document, run_prompt_tuning

        rollouts = QuestionRollouts(
            chat=ChatClient(llm),
            registry=build_registry(msgspec.structs.replace(load_tool_settings(), kb_latency_s=0.0), llm=None),
            reward=config.reward,
            limits=intake_limits(planner),
            agent_max_tool_calls=settings.agent_max_tool_calls,
        )
        try:
            result = run_prompt_tuning(
                settings,
                llm,
                rollouts,
                seed_prompt=seed_prompt,
                train=train,
                validation=validation,
                on_step=lambda step: status.update(f"apo: {step}"),
            )
        except (RolloutsIncomplete, ValueError, RuntimeError) as error:
            fail(f"prompt tuning stopped: {error}")
    document = record_document(result, seed_prompt)
    record_path = project_path(config.output.apo_record)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    if publish:
        from services.trainer.publish import publish_prompt

        starting = Policy(
            max_parallelism=planner.max_parallelism,
            gap_threshold=planner.gap_threshold,
            max_attempts=planner.max_attempts,
        )
        bootstrap, catalogue, kafka = _kafka()
        reason = f"genesis trainer run --algorithm apo: prompt {result.best_version} of {result.rollouts} rollouts"
        update = asyncio.run(
            publish_prompt(
                bootstrap,
                catalogue,
                kafka,
                result.policy(starting).prompt_template,
                starting=starting,
                reason=reason,
                mean_reward=result.best_score,
            )
        )
        document["published_version"] = update.policy.version
    if as_json:
        print_json({key: value for key, value in document.items() if key != "rollout_outcomes"})
        return
    _print_apo(document, record_path)


def _print_apo(document: dict, record_path: Path) -> None:
    scores: dict[str, list[float]] = {}
    for evaluation in document["evaluations"]:
        if evaluation["mode"] == "val":
            scores.setdefault(evaluation["version"], []).append(evaluation["mean"])
    table = Table("prompt", "from", "validation mean reward", "note", title=f"APO: {document['rollouts']} rollouts")
    table.add_row("v0", "starting prompt", ", ".join(f"{score:+.3f}" for score in scores.get("v0", [])), "")
    for proposal in document["proposals"]:
        version = proposal["version"] or "-"
        shown = ", ".join(f"{score:+.3f}" for score in scores.get(version, [])) or "not a candidate"
        table.add_row(version, proposal["parent"], shown, proposal["note"])
    console.print(table)
    verdict = "better than" if document["improved"] else "no better than"
    console.print(
        f"best: {document['best_version']} ({document['best_score']:+.3f}), {verdict} the starting prompt "
        f"({document['seed_score']:+.3f}); {document['wall_s']:.0f} s"
    )
    console.print(f"every proposal, critique, score and rollout: {record_path}")
    if "published_version" in document:
        console.print(f"published policy v{document['published_version']} on the policy topic")


def _not_runnable_here(algorithm: str) -> str:
    """What the chosen algorithm needs, what of it is missing here, and what this build runs instead."""
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
        + "This build trains with policy_search and apo; the steps to run "
        + f"{algorithm} are in docs/AGENT_LIGHTNING_RESEARCH.md (set algorithm.name: policy_search to train now)."
    )


def _quiet_agent_lightning() -> None:
    # Its runner logs every rollout at INFO; the progress bar says the same, once.
    logging.getLogger("agentlightning").setLevel(logging.WARNING)
