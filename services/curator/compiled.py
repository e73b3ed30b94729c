"""The detector compiled with mypyc (native/pii-compiled), used only when it was built from the current sources.

The compiled package is the same source files as services/curator/core, so it finds exactly what the pure
detector finds (tests/unit/curator/test_compiled_detector.py compares them); it is only faster. It ships the
SHA-256 of the sources it was compiled from: after an edit to the detector and before the next `uv sync`, or
where it could not be built, the pure-Python detector runs.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
from functools import cache
from importlib import import_module
from pathlib import Path

from services.curator.core import pii

PACKAGE = "genesis_pii_compiled"
# The modules compiled, in the order their sources are hashed; keep in step with native/pii-compiled/setup.py.
MODULES = ("claims", "validators", "emails", "patterns", "plan_patterns", "phones", "placeholders", "pii")
_SOURCES = Path(pii.__file__).parent


def source_digest() -> str:
    digest = hashlib.sha256()
    for name in MODULES:
        digest.update(name.encode() + b"\0" + (_SOURCES / f"{name}.py").read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def unavailable_reason() -> str | None:
    """Why the compiled detector cannot be used, or None when it can."""
    try:
        package = import_module(PACKAGE)
    except ImportError:
        return "genesis-pii-compiled is not installed"
    if tuple(getattr(package, "MODULES", ())) != MODULES or package.SOURCE_SHA256 != source_digest():
        return "genesis-pii-compiled was built from other sources than services/curator/core (run `uv sync`)"
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in MODULES:
        try:
            module = import_module(f"{PACKAGE}.{name}")
        except ImportError as error:  # a partial build: its shared runtime library is missing
            return f"genesis-pii-compiled.{name} does not load: {error}"
        if not str(module.__file__).endswith(suffixes):
            return f"genesis-pii-compiled was installed without compiling {name} (no C compiler?)"
    return None


def detector_class() -> type[pii.PiiDetector]:
    """The compiled `PiiDetector` when usable, else the pure-Python one; both find the same spans."""
    if unavailable_reason() is None:
        return import_module(f"{PACKAGE}.pii").PiiDetector  # type: ignore[no-any-return]
    return pii.PiiDetector
