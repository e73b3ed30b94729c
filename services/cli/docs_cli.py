"""genesis docs asyncapi | k8s-topics | config: write the documents generated from the code."""

from __future__ import annotations

from pathlib import Path

import typer

from configs.settings import CONFIG_DIR
from services.cli import contracts
from services.cli.console import console, fail

PROJECT = CONFIG_DIR.parent
app = typer.Typer(help="Documents generated from the code: AsyncAPI, Kubernetes topics, the configuration table.")
app.info.no_args_is_help = True

CHECK_OPTION = typer.Option(False, "--check", help="Write nothing; exit 1 when the file is out of date.")


@app.command()
def asyncapi(
    target: Path = typer.Argument(PROJECT / "docs" / "asyncapi.yaml", help="Where to write the document."),
    check: bool = CHECK_OPTION,
) -> None:
    """The AsyncAPI 3.0 document of every topic and event (FastStream's generator, msgspec's schemas)."""
    _write(target, contracts.asyncapi_yaml(), check)


@app.command("k8s-topics")
def k8s_topics(
    target: Path = typer.Argument(PROJECT / "deploy" / "k8s" / "topics.yaml", help="Where to write the resources."),
    check: bool = CHECK_OPTION,
) -> None:
    """Strimzi KafkaTopic resources for every topic of the catalogue (streams/catalogue.py)."""
    _write(target, contracts.kafka_topics_yaml(), check)


@app.command()
def config(
    readme: Path = typer.Argument(PROJECT / "README.md", help="The file whose configuration table to rewrite."),
    check: bool = CHECK_OPTION,
) -> None:
    """The table of configuration keys and environment variables in README.md, from the code and genesis.yaml."""
    try:
        text = contracts.with_config_table(readme.read_text(), contracts.config_table())
    except (OSError, ValueError) as error:
        fail(str(error), code=2)
    _write(readme, text, check)


def _write(target: Path, text: str, check: bool) -> None:
    current = target.read_text() if target.exists() else None
    if check:
        if current != text:
            fail(f"{target} is out of date", hint=f"regenerate it: genesis docs {_command_of(target)}")
        console.print(f"{target} is up to date", highlight=False)
        return
    if not target.parent.is_dir():
        fail(f"no folder {target.parent}", code=2, hint="create it first")
    target.write_text(text)
    console.print(f"{'unchanged' if current == text else 'wrote'} {target}", highlight=False)


def _command_of(target: Path) -> str:
    return {"asyncapi.yaml": "asyncapi", "topics.yaml": "k8s-topics", "README.md": "config"}.get(target.name, "")
