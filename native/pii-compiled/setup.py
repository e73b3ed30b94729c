"""Compiles the curator's detector modules with mypyc, from the project's own source files.

The modules listed in `MODULES` are copied from services/curator/core into the package
`genesis_pii_compiled` (only their imports of each other are renamed), compiled, and shipped with the
SHA-256 of the sources they came from, so the project uses them only while its sources are unchanged.
When mypyc rejects the sources (they must stay mypy-clean) or no C compiler is available, the package
installs without the compiled modules and the project runs the pure-Python detector.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SOURCES = HERE.parent.parent / "services" / "curator" / "core"
PACKAGE = "genesis_pii_compiled"
GENERATED = HERE / "build" / "gen" / PACKAGE
# Keep in step with services/curator/compiled.py.
MODULES = ("claims", "validators", "emails", "patterns", "plan_patterns", "phones", "placeholders", "pii")


def source_digest() -> str:
    digest = hashlib.sha256()
    for name in MODULES:
        digest.update(name.encode() + b"\0" + (SOURCES / f"{name}.py").read_bytes() + b"\0")
    return digest.hexdigest()


def generate() -> list[str]:
    """Writes the package: the modules with their imports of each other renamed, and the sources' digest."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    own = "|".join(MODULES)
    for name in MODULES:
        text = (SOURCES / f"{name}.py").read_text()
        text = re.sub(rf"\bservices\.curator\.core\.({own})\b", rf"{PACKAGE}.\1", text)
        text = re.sub(rf"\bfrom services\.curator\.core import ({own})\b", rf"from {PACKAGE} import \1", text)
        (GENERATED / f"{name}.py").write_text(text)
    (GENERATED / "__init__.py").write_text(
        f'"""mypyc build of services/curator/core ({", ".join(MODULES)})."""\n\n'
        f"MODULES = {MODULES!r}\nSOURCE_SHA256 = {source_digest()!r}\n"
    )
    return [str(GENERATED / f"{name}.py") for name in MODULES]


class OptionalBuildExt(build_ext):
    """Without a working C compiler the package installs without its compiled modules."""

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # any compiler failure: the module stays pure Python, the project notices
            print(f"genesis-pii-compiled: {ext.name} not compiled ({error})", file=sys.stderr)


def extensions() -> list:
    paths = generate()
    try:
        from mypyc.build import mypycify
    except ImportError:  # pragma: no cover - mypy is a build requirement
        return []
    # The project's other modules (spans, phonenumbers) are not on the build's path: typed as Any, called as such.
    try:
        return mypycify(["--ignore-missing-imports", *paths], opt_level="3")
    except (Exception, SystemExit) as error:  # mypyc rejects the sources (a type error): install them uncompiled
        print(f"genesis-pii-compiled: not compiled, mypyc stopped ({error})", file=sys.stderr)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
