"""genesis blobs gc: sweep the claim-check store (tools.blob_store) of results written longer ago than a cutoff."""

from __future__ import annotations

import re
import time

import msgspec
import typer

from services.cli.console import console, fail, print_json
from services.executor.tools import load_tool_settings
from streams.blobs import LocalBlobStore, open_blob_store

app = typer.Typer(help="The claim-check store of results too large for an event.", no_args_is_help=True)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d`` as seconds; ValueError with the accepted forms otherwise."""
    found = _DURATION.fullmatch(text.strip())
    if not found:
        raise ValueError(f"--older-than {text!r} is not a duration: write a number and s, m, h or d, as in 7d")
    return float(found[1]) * _UNIT_S[found[2]]


@app.command("gc")
def gc(
    older_than: str = typer.Option(..., "--older-than", help="Delete blobs last written before this long ago (7d)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go, delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Delete stored results last written longer ago than --older-than. Nothing records which runs still need a
    blob, so pick a cutoff longer than any run lives and than readers of finished answers need them."""
    try:
        seconds = parse_duration(older_than)
    except ValueError as error:
        fail(str(error), code=2)
    settings = load_tool_settings()
    try:
        store = open_blob_store(settings.blob_store, endpoint_url=settings.blob_store_endpoint)
    except ValueError as error:
        fail(str(error), code=2)
    if not isinstance(store, LocalBlobStore):
        fail(
            f"tools.blob_store {settings.blob_store!r} is a bucket: genesis sweeps only folders",
            code=2,
            hint="give the bucket a lifecycle rule that expires objects by age",
        )
    if not store.root.is_dir():
        fail(f"tools.blob_store {store.root} does not exist: nothing was ever stored there", code=2)
    swept = store.sweep(seconds, now=time.time(), dry_run=dry_run)
    if as_json:
        print_json(msgspec.to_builtins(swept) | {"dry_run": dry_run, "store": str(store.root)})
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {swept.deleted} blobs ({swept.freed_bytes / 1e6:.1f} MB) last written before {older_than} ago; "
        f"kept {swept.kept} in {store.root}",
        soft_wrap=True,
    )
