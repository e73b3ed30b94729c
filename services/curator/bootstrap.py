"""Builds the curator's detector and scrubbers from settings; module-level so worker processes can too."""

from __future__ import annotations

from services.curator import compiled
from services.curator.core.pii import PiiDetector
from services.curator.core.scrub import RecordScrubber
from services.curator.settings import CuratorSettings


def build_detector(settings: CuratorSettings) -> PiiDetector:
    """The mypyc-compiled detector when it is installed and current, else the pure-Python one (same findings)."""
    return compiled.detector_class()(settings.phone_regions)


def build_scrubber(settings: CuratorSettings) -> RecordScrubber:
    return RecordScrubber(build_detector(settings).scrub, settings.fields)


def build_scrubber_with_names(settings: CuratorSettings) -> RecordScrubber:
    """Also replaces names and locations through Presidio; only call when `presidio.unavailable_reason()` is None."""
    from services.curator.presidio import NAME_ADDRESS_ENTITIES, PresidioDetector, WithNamesAndAddresses

    combined = WithNamesAndAddresses(build_detector(settings), PresidioDetector(NAME_ADDRESS_ENTITIES))
    return RecordScrubber(combined.scrub, settings.fields)
