"""genesis data: scrub PII, generate labelled data, audit, rebalance difficulty, evaluate detectors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from services.cli.console import console, errors, fail, print_json
from services.curator import datafog_peer, presidio
from services.curator.bootstrap import build_detector, build_scrubber, build_scrubber_with_names
from services.curator.core.audit import Auditor, render_markdown
from services.curator.core.compose import Composer
from services.curator.core.evaluate import Evaluation, Scores, evaluate_detailed
from services.curator.core.generator import AGENTS, generate_records
from services.curator.core.independent import IndependentSet
from services.curator.core.rebalance import RebalanceError, parse_target
from services.curator.core.rebalance import rebalance as rebalance_records
from services.curator.core.records import DIFFICULTIES
from services.curator.core.seed_baseline import seed_detect
from services.curator.core.spans import CORE_TYPES, PiiType
from services.curator.evolve_llm import LlmHardExampleMaker
from services.curator.jsonl import InputError, Rejected, read_records, write_jsonl
from services.curator.scrub_files import scrub_paths
from services.curator.settings import load_curator_settings
from services.llm.chat import ChatClient
from services.llm.settings import load_llm_settings

app = typer.Typer(
    help="Training-data hygiene: PII scrubbing, labelled synthetic data, audit, rebalancing.", no_args_is_help=True
)


AUDIT_REPORT_NAME = "training_quality_audit_v2.md"


@app.command()
def scrub(
    source: Path = typer.Argument(..., help="A .jsonl file, or a folder whose .jsonl files are all scrubbed."),
    target: Path = typer.Argument(..., help="Output file, or output folder mirroring the input folder."),
    rejects: Path | None = typer.Option(None, help="Where malformed lines go (default: TARGET.rejects.jsonl)."),
    field: list[str] | None = typer.Option(
        None,
        help="String field to scrub, e.g. metadata.notes (repeatable; "
        "default: the curator.fields setting, messages[].content).",
    ),
    workers: int | None = typer.Option(None, min=0, help="Worker processes for large inputs; 0 = all cores."),
    names_addresses: bool = typer.Option(False, help="Also replace names and locations (needs Presidio)."),
) -> None:
    """Replace e-mails, phones, SSNs, cards, IBANs and IPs with [EMAIL], [PHONE], ... placeholders."""
    overrides = {"fields": tuple(field) if field else None, "workers": workers}
    settings = msgspec.structs.replace(load_curator_settings(), **{k: v for k, v in overrides.items() if v is not None})
    if names_addresses and (reason := presidio.unavailable_reason()):
        fail(f"--names-addresses needs Presidio: {reason}", code=2)
    try:
        build_scrubber(settings)  # bad field paths or phone regions fail here, before any output is written
    except ValueError as error:
        fail(f"curator settings: {error}", code=2)
    make_scrubber = build_scrubber_with_names if names_addresses else build_scrubber
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    try:
        with Progress(*columns, console=errors, transient=True) as progress:
            task = progress.add_task("scrubbing", total=None)
            summary = scrub_paths(
                source,
                target,
                settings,
                make_scrubber,
                rejects,
                progress=lambda done, total: progress.update(task, advance=done, total=total),
            )
    except InputError as error:
        fail(str(error), code=2)
    except OSError as error:
        fail(f"{error.filename}: {error.strerror}")
    elapsed = time.perf_counter() - started
    for line in summary.first_rejects:
        errors.print(f"[yellow]rejected[/] {line}", highlight=False)
    if summary.rejected > len(summary.first_rejects):
        errors.print(f"... and {summary.rejected - len(summary.first_rejects)} more", highlight=False)
    table = Table(title=f"scrubbed {summary.files} file(s) into {target}")
    table.add_column("replaced")
    table.add_column("values", justify="right")
    for kind, count in sorted(summary.replaced.items()):
        table.add_row(kind.value, str(count))
    table.add_row("total", str(sum(summary.replaced.values())), style="bold")
    console.print(table)
    console.print(
        f"{summary.lines} lines: {summary.records} records written, {summary.rejected} rejected, "
        f"{summary.blank} blank; {summary.size / 1e6:.1f} MB in {elapsed:.1f} s with {summary.workers} process(es)"
    )
    if summary.rejects_path:
        console.print(f"malformed lines with file and line number: {summary.rejects_path}")


@app.command()
def generate(
    target: Path = typer.Argument(..., help="A .jsonl file, or a folder for one <agent>_agent_examples.jsonl each."),
    count: int = typer.Option(5000, min=1, help="Records to generate."),
    seed: int = typer.Option(0, help="Same seed, same records."),
    agents: str = typer.Option(",".join(AGENTS), help="Comma-separated agents."),
) -> None:
    """Synthetic chat data with PII in many formats, look-alikes and labelled spans (58% easy, 42% medium)."""
    chosen = tuple(a.strip() for a in agents.split(",") if a.strip())
    if unknown := sorted(set(chosen) - set(AGENTS)):
        fail(f"unknown agent(s) {', '.join(unknown)}; choose from {', '.join(AGENTS)}", code=2)
    records = generate_records(count, seed, chosen)
    if target.suffix == ".jsonl":
        write_jsonl(target, records)
        console.print(f"wrote {count} records to {target}")
        return
    by_agent: dict[str, list[dict[str, Any]]] = {agent: [] for agent in chosen}
    for record in records:
        by_agent[record["agent"]].append(record)
    for agent, agent_records in by_agent.items():
        write_jsonl(target / f"{agent}_agent_examples.jsonl", agent_records)
    console.print(f"wrote {count} records to {target}/<agent>_agent_examples.jsonl")


@app.command()
def audit(
    source: Path = typer.Argument(..., help="A .jsonl file or a folder of them."),
    as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON instead of tables."),
    report: Path | None = typer.Option(
        None, help="Markdown report to write (default: training_quality_audit_v2.md in curator.reports_dir)."
    ),
) -> None:
    """PII left per type, difficulty distribution and duplicates; writes the markdown audit report."""
    settings = load_curator_settings()
    report = report or settings.reports_path / AUDIT_REPORT_NAME
    auditor = Auditor(build_detector(settings).detect)
    malformed: list[str] = []
    for item in _records(source):
        if isinstance(item, Rejected):
            auditor.add_malformed()
            malformed.append(item.describe())
        else:
            auditor.add(item)
    result = auditor.result
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_markdown(result, str(source), stamp, malformed))
    if as_json:
        print_json({**result.to_builtins(), "report": str(report)})
        return
    for line in malformed:
        errors.print(f"[yellow]malformed[/] {line}", highlight=False)
    checks = Table(title=f"audit of {source}: {result.records} records")
    for column in ("check", "result", "measured"):
        checks.add_column(column)
    for name, ok, measured in result.checks():
        checks.add_row(name, "[green]pass[/]" if ok else "[red]fail[/]", measured)
    console.print(checks)
    console.print("PII: " + ", ".join(f"{k.value} {result.pii[k]}" for k in CORE_TYPES))
    console.print(f"report: {report}")


@app.command()
def rebalance(
    source: Path = typer.Argument(..., help="A .jsonl file or a folder of them."),
    target: Path = typer.Argument(..., help="Output .jsonl file."),
    mix: str = typer.Option("easy=0.30,medium=0.45,hard=0.25", "--target", help="Difficulty shares, summing to 1."),
    seed: int = typer.Option(0, help="Same seed and input, same output (without an LLM)."),
    use_llm: bool = typer.Option(True, "--llm/--no-llm", help="Evolve hard examples with the configured llm."),
    as_json: bool = typer.Option(False, "--json", help="Print the before/after report as JSON."),
) -> None:
    """Stratified down-sampling plus new hard examples until the mix is within 1 point of the target."""
    try:
        shares = parse_target(mix)
    except ValueError as error:
        fail(f"--target: {error}", code=2)
    records = []
    for item in _records(source):
        if isinstance(item, Rejected):
            fail(f"{item.describe()} (fix or scrub the input first; scrub writes a rejects file)", code=2)
        records.append(item)
    llm = load_llm_settings()
    maker = LlmHardExampleMaker(ChatClient(llm)) if use_llm and llm.enabled else Composer()
    try:
        result = rebalance_records(records, shares, seed, maker)
    except RebalanceError as error:
        fail(str(error))
    write_jsonl(target, result.records)
    total_before, total_after = sum(result.before.values()), len(result.records)
    report = {
        "input": len(records),
        "duplicates_dropped": result.duplicates_dropped,
        "estimated": result.estimated,
        "created": result.created,
        "output": total_after,
        "before": {d: result.before[d] for d in DIFFICULTIES},
        "after": {d: result.after[d] for d in DIFFICULTIES},
        "target": shares,
        "maker": "llm" if isinstance(maker, LlmHardExampleMaker) else "compose",
    }
    if as_json:
        print_json(report)
        return
    table = Table(title=f"rebalanced {source} -> {target} (seed {seed}, new hard examples by {report['maker']})")
    for column in ("difficulty", "before", "share", "after", "share", "target"):
        table.add_column(column, justify="right")
    for d in DIFFICULTIES:
        table.add_row(
            d,
            str(result.before[d]),
            _share(result.before[d], total_before),
            str(result.after[d]),
            _share(result.after[d], total_after),
            f"{shares[d]:.0%}",
        )
    console.print(table)
    console.print(
        f"{len(records)} records read, {result.duplicates_dropped} duplicates dropped, "
        f"{result.estimated} difficulties estimated, {result.created} hard examples created"
    )


@app.command()
def evaluate(
    labelled: Path | None = typer.Option(None, help="Labelled .jsonl (with pii_spans); default: build one."),
    corpus: str = typer.Option(
        "independent",
        "--set",
        help="Built set when no file is given: 'independent' (libphonenumber examples, Faker in 24 locales, "
        "real-world layouts, look-alikes) or 'generated' (our own generator).",
    ),
    count: int = typer.Option(2000, min=1, help="Records to build when no file is given."),
    seed: int = typer.Option(1, help="Seed of the built set."),
    peers: bool = typer.Option(True, "--peers/--no-peers", help="Also score DataFog and Presidio when installed."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Precision and recall per PII type and per locale, and look-alikes kept: ours vs the seed's regexes (vs
    DataFog and Presidio when installed)."""
    if labelled is not None:
        records = [r for r in _records(labelled) if not isinstance(r, Rejected)]
    elif corpus == "independent":
        records = list(IndependentSet(seed).records(count))
    elif corpus == "generated":
        records = list(generate_records(count, seed))
    else:
        fail(f"--set must be 'independent' or 'generated', not {corpus!r}", code=2)
    detectors, skipped = _detectors(peers)
    kinds = (*CORE_TYPES, PiiType.NAME, PiiType.ADDRESS)
    results: dict[str, Evaluation] = {}
    for name, detect in detectors.items():
        with errors.status(f"scoring {name} on {len(records)} records"):
            started = time.perf_counter()
            results[name] = evaluate_detailed(records, {name: detect}, kinds)[name]
        if not as_json:
            errors.print(f"{name}: {time.perf_counter() - started:.1f} s", highlight=False)
    if as_json:
        print_json({name: _evaluation_json(evaluation) for name, evaluation in results.items()})
        return
    title = f"{len(records)} labelled records ({labelled or corpus + ' set, seed ' + str(seed)})"
    console.print(_score_table(results, title, kinds))
    if any(e.locales for e in results.values()):
        console.print(_locale_table(results["ours"]))
    if any(e.lookalikes for e in results.values()):
        console.print(_lookalike_table(results))
    for line in skipped:
        console.print(line)


def _detectors(peers: bool) -> tuple[dict[str, Any], list[str]]:
    detectors: dict[str, Any] = {"ours": build_detector(load_curator_settings()).detect, "seed regexes": seed_detect}
    skipped = []
    if peers and (reason := datafog_peer.unavailable_reason()) is None:
        detectors[f"datafog ({datafog_peer.backend()})"] = datafog_peer.DataFogDetector().detect
    elif peers:
        skipped.append(f"DataFog not compared: {reason}")
    if peers and (reason := presidio.unavailable_reason()) is None:
        entities = presidio.CORE_ENTITIES + presidio.NAME_ADDRESS_ENTITIES
        detectors["presidio"] = presidio.PresidioDetector(entities, score_threshold=0.0).detect
    elif peers:
        skipped.append(f"Presidio not compared: {reason}")
    return detectors, skipped


def _evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    def scores(table: Scores) -> dict[str, Any]:
        return {
            k.value: {"precision": s.precision, "recall": s.recall, "labelled": s.labelled, "detected": s.detected}
            for k, s in table.items()
        }

    return {
        **scores(evaluation.types),
        "locales": {locale: scores(table) for locale, table in sorted(evaluation.locales.items())},
        "lookalikes": {kind: {"total": k.total, "kept": k.rate} for kind, k in sorted(evaluation.lookalikes.items())},
    }


def _score_table(results: dict[str, Evaluation], title: str, kinds: tuple[PiiType, ...]) -> Table:
    table = Table(title=title)
    table.add_column("type")
    table.add_column("labelled", justify="right")
    for name in results:
        table.add_column(f"{name} P", justify="right")
        table.add_column(f"{name} R", justify="right")
    for kind in kinds:
        labelled = next(iter(results.values())).types[kind].labelled
        if not labelled:
            continue
        row = [kind.value, str(labelled)]
        for evaluation in results.values():
            score = evaluation.types[kind]
            # Precision of a detector that found nothing is undefined, not perfect.
            row += [f"{score.precision:.3f}" if score.detected else "-", f"{score.recall:.3f}"]
        table.add_row(*row)
    return table


def _locale_table(evaluation: Evaluation) -> Table:
    table = Table(title="ours per locale (e-mail, phone, SSN, card, IBAN, IP together; phone alone)")
    for column in ("locale", "labelled", "P", "R", "phone P", "phone R", "below 0.97"):
        table.add_column(column, justify="left" if column in ("locale", "below 0.97") else "right")
    for locale, scores in sorted(evaluation.locales.items()):
        core = [scores[k] for k in CORE_TYPES]
        labelled, found = sum(s.labelled for s in core), sum(s.found for s in core)
        detected, correct = sum(s.detected for s in core), sum(s.correct for s in core)
        phone = scores[PiiType.PHONE]
        weak = [
            f"{k.value} {scores[k].precision:.2f}/{scores[k].recall:.2f}"
            for k in CORE_TYPES
            if scores[k].labelled and min(scores[k].precision, scores[k].recall) < 0.97
        ]
        table.add_row(
            locale,
            str(labelled),
            f"{correct / detected:.3f}" if detected else "-",
            f"{found / labelled:.3f}" if labelled else "-",
            f"{phone.precision:.3f}" if phone.detected else "-",
            f"{phone.recall:.3f}",
            ", ".join(weak),
        )
    return table


def _lookalike_table(results: dict[str, Evaluation]) -> Table:
    table = Table(title="look-alikes kept (not redacted)")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for name in results:
        table.add_column(name, justify="right")
    first = next(iter(results.values()))
    for kind in sorted(first.lookalikes):
        table.add_row(
            kind, str(first.lookalikes[kind].total), *(f"{e.lookalikes[kind].rate:.3f}" for e in results.values())
        )
    table.add_row(
        "all",
        str(first.lookalikes_kept.total),
        *(f"{e.lookalikes_kept.rate:.3f}" for e in results.values()),
        style="bold",
    )
    return table


def _records(source: Path):
    try:
        yield from read_records(source)
    except InputError as error:
        fail(str(error), code=2)


def _share(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else "-"
