"""Loads a service's configuration once, at start-up: defaults from the YAML file, then environment overrides.

Each section of ``configs/genesis.yaml`` is decoded into a strict msgspec Struct (unknown keys are typos and
fail with the key's path). An environment variable ``GENESIS_<SECTION>_<KEY>`` overrides a top-level key of a
section (``GENESIS_EXECUTOR_CONCURRENCY=32``); ``KAFKA_BOOTSTRAP_SERVERS`` overrides ``kafka.bootstrap_servers``.
This module is the only place that reads ``os.environ`` for settings; the table of variables is in README.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args

import msgspec
import yaml

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = CONFIG_DIR / "genesis.yaml"
CONFIG_FILE_VARIABLE = "GENESIS_CONFIG"

SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the file and the key."""


class Secret:
    """A password or key from the configuration: its repr and str never show it; ``reveal()`` hands it to a client."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _decode_custom(kind: type, value: Any) -> Any:
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    raise NotImplementedError


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CONFIG_FILE_VARIABLE) or DEFAULT_CONFIG_FILE)


def load_section(
    section: str,
    settings_type: type[SettingsT],
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SettingsT:
    """Build ``settings_type`` from ``section`` of the config file, the environment, then explicit overrides."""
    environ = os.environ if environ is None else environ
    path = config_file(environ)
    values = dict(_read_yaml(path).get(section) or {})
    values.update(_environment_overrides(section, settings_type, environ))
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})
    try:
        return msgspec.convert(values, settings_type, strict=False, dec_hook=_decode_custom)
    except msgspec.ValidationError as error:
        # msgspec says "... - at `$.port`"; name the key as a user writes it.
        message = str(error).replace("`$.", f"`{section}.").replace("`$`", f"`{section}`")
        raise ConfigError(f"{path}: {message}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (set {CONFIG_FILE_VARIABLE} or restore it)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return document


def _environment_overrides(section: str, settings_type: type, environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in msgspec.structs.fields(settings_type):
        variable = f"GENESIS_{section}_{field.name}".upper()
        if variable in environ:
            # A secret is taken as typed: "0123" or "true" must not turn into a number or a bool.
            is_secret = field.type is Secret or Secret in get_args(field.type)
            overrides[field.name] = environ[variable] if is_secret else _parse_env_value(environ[variable])
    if "bootstrap_servers" in {f.name for f in msgspec.structs.fields(settings_type)}:
        if environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            overrides["bootstrap_servers"] = environ["KAFKA_BOOTSTRAP_SERVERS"]
    return overrides


def _parse_env_value(text: str) -> Any:
    # YAML scalars give "32" -> 32, "true" -> True, "[a, b]" -> list, which is what people type in a shell.
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def project_path(value: str) -> Path:
    """A path from the config file: absolute as written, else relative to the project (the folder above configs/)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else CONFIG_DIR.parent / path
