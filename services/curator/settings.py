"""The curator's settings: the `curator` section of configs/genesis.yaml, overridable as GENESIS_CURATOR_<KEY>."""

from __future__ import annotations

import msgspec

from configs.settings import load_section
from services.curator.core.fields import DEFAULT_FIELDS
from services.curator.core.pii import DEFAULT_PHONE_REGIONS


class CuratorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # String values to scrub, as field paths (`messages[].content`, `metadata.notes`, `**` for all).
    fields: tuple[str, ...] = DEFAULT_FIELDS
    # Regions whose national-format numbers count as phone numbers; "+CC" numbers count from anywhere.
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    # Worker processes for large inputs; 0 means one per CPU core.
    workers: int = 0
    # Inputs smaller than this are scrubbed in the calling process: starting workers costs more.
    parallel_min_mb: float = 8.0
    # Lines are sent to workers in chunks of about this size; order is kept per chunk.
    chunk_mb: float = 1.0


def load_curator_settings() -> CuratorSettings:
    return load_section("curator", CuratorSettings)
