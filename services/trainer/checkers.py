"""The correctness checker named by ``reward.checker``: the built-in one, or a function from an importable module."""

from __future__ import annotations

import importlib

from configs.settings import ConfigError
from services.trainer.core.trajectory import Checker, succeeded

BUILT_IN = {"status": succeeded}


def load_checker(spec: str) -> Checker:
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"reward.checker: {spec!r} is neither {' nor '.join(BUILT_IN)} nor package.module:function")
    try:
        checker = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"reward.checker: cannot load {spec!r}: {error}") from None
    if not callable(checker):
        raise ConfigError(f"reward.checker: {spec!r} is not a function")
    return checker
