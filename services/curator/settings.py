"""The curator's settings: the `curator` section of configs/genesis.yaml, overridable as GENESIS_CURATOR_<KEY>."""

from __future__ import annotations

from pathlib import Path

import msgspec

from configs.settings import load_section
from services.curator.core.fields import DEFAULT_FIELDS
from services.curator.core.pii import DEFAULT_PHONE_REGIONS


class CuratorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # String values to scrub, as field paths (`messages[].content`, `metadata.notes`, `**` for all).
    fields: tuple[str, ...] = DEFAULT_FIELDS
    # Home regions: their grouped national numbers need no phone word (["all"]: every region). Numbers of any
    # region count when written "+CC" or next to a phone word.
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    # Worker processes for large inputs; 0 means one per CPU core.
    workers: int = 0
    # Inputs smaller than this are scrubbed in the calling process: starting workers costs more.
    parallel_min_mb: float = 8.0
    # Lines are sent to workers in chunks of about this size; order is kept per chunk.
    chunk_mb: float = 1.0
    # `genesis data audit` writes its markdown report here (relative: to the current folder; git ignores .genesis/).
    reports_dir: str = ".genesis/reports"

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir).expanduser()


def load_curator_settings() -> CuratorSettings:
    return load_section("curator", CuratorSettings)
