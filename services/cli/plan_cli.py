"""genesis plan show: parse, validate and draw a plan's DAG without running anything."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.tree import Tree

from services.cli.console import console, fail, print_json
from services.executor.tools import build_registry, load_tool_settings
from services.llm.settings import load_llm_settings
from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.parse import ParsedPlan
from services.planner.core.validate import load_plan
from services.planner.settings import load_planner_settings

app = typer.Typer(help="Inspect plans: the DAG, its levels and its critical path.", no_args_is_help=True)


@app.command()
def show(
    source: str = typer.Argument(..., help="Plan file, or - for standard input."),
    as_json: bool = typer.Option(False, "--json", help="Print tasks, levels and critical path as JSON."),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the DAG as mermaid flowchart text."),
) -> None:
    """Show a plan's DAG; exit status 2 with the reason on stderr when the plan is invalid."""
    parsed = parse_file(source)
    plan, dag = parsed.plan, Dag.from_plan(parsed.plan)
    if as_json:
        print_json(
            {
                "tasks": [
                    {
                        "id": t.id,
                        "description": t.description,
                        "tool": t.tool,
                        "kind": "tool" if t.tool else "agent",
                        "args": t.args,
                        "deps": list(t.deps),
                    }
                    for t in plan.tasks
                ],
                "levels": dag.levels(),
                "critical_path": dag.critical_path(),
            }
        )
        return
    if mermaid:
        sys.stdout.write(to_mermaid(parsed) + "\n")
        return
    tree = Tree(f"[bold]{len(plan.tasks)} tasks[/] ({plan.format} format), {len(dag.levels())} levels")
    for number, level in enumerate(dag.levels()):
        branch = tree.add(f"level {number}")
        for task_id in level:
            task = plan.task(task_id)
            after = f"  [dim]after {', '.join(task.deps)}[/]" if task.deps else ""
            branch.add(f"[cyan]{task_id}[/] {task.tool or 'agent step:'} {task.description or ''}{after}")
    console.print(tree)
    console.print(f"critical path: {' -> '.join(dag.critical_path())}")


def parse_file(source: str) -> ParsedPlan:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        fail(f"cannot read plan {source}: {error.strerror}", code=2)
    settings = load_planner_settings()
    llm = load_llm_settings()
    registry = build_registry(load_tool_settings(), llm=llm)
    try:
        return load_plan(
            text,
            known_tools=registry.names(),
            signatures=registry.signatures(),
            max_tasks=settings.max_tasks,
            # Showing a DAG needs no model: free-text tasks are agent steps, run by a model only at run time.
            llm_available=True,
        )
    except PlanError as error:
        fail(f"{'stdin' if source == '-' else source}: {error}", code=2)


def to_mermaid(parsed: ParsedPlan) -> str:
    lines = ["flowchart LR"]
    for task in parsed.plan.tasks:
        label = (task.tool or "agent step") + (f": {task.description}" if task.description else "")
        lines.append(f'    {_node(task.id)}["{task.id}. {label.replace(chr(34), chr(39))[:60]}"]')
        lines += [f"    {_node(dep)} --> {_node(task.id)}" for dep in task.deps]
    return "\n".join(lines)


def _node(task_id: str) -> str:
    return "t_" + "".join(c if c.isalnum() else "_" for c in task_id)
