"""The tool registry: what a task's ``tool`` name means, and how one call runs under a timeout.

A tool is an async function taking keyword arguments (the task's ``args``, references already resolved by the
planner). User code declares tools with ``@tool`` and publishes them as Python entry points in the
``genesis.tools`` group; the entry point's name is the name plans use.

Errors say whether another attempt can help: ``ToolError.retryable`` becomes ``TaskFinished.retryable``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, overload

ENTRY_POINT_GROUP = "genesis.tools"
DEFAULT_TIMEOUT_S = 30.0

ToolFunction = Callable[..., Awaitable[Any]]


class ToolError(Exception):
    """A tool call failed. Retryable unless said otherwise: the planner's attempt budget bounds the retries."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ToolArgumentsError(ToolError):
    """The arguments are wrong (missing, unexpected, or a bad value); the message names the argument."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class UnknownToolError(ToolError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown tool {name!r}; known tools: {', '.join(sorted(known)) or 'none'}", retryable=False)


class ToolTimeoutError(ToolError):
    """The call ran past its timeout and was cancelled; a later attempt may be faster."""


@dataclass(frozen=True)
class Step:
    """One model call or tool call inside a tool that makes several (an agent step); each becomes a TurnRecorded."""

    operation: Literal["chat", "execute_tool"]
    tool_name: str
    arguments: str
    output: str
    started_at: datetime
    latency_s: float
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What a call returned; tools that call a model also report its tokens, and the steps when they made several
    calls (their tokens add up to the totals)."""

    value: Any
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: ToolFunction
    description: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    # Computed once: every call binds its arguments against it.
    signature: inspect.Signature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tool needs a non-empty name")
        if not inspect.iscoroutinefunction(self.fn):
            # A blocking function would stall every other task in flight on this executor.
            raise TypeError(f"tool {self.name!r} must be an async function (async def)")
        if self.timeout_s <= 0:
            raise ValueError(f"tool {self.name!r}: timeout_s must be positive, got {self.timeout_s}")
        signature = inspect.signature(self.fn)
        if any(parameter.kind is parameter.POSITIONAL_ONLY for parameter in signature.parameters.values()):
            # Calls pass the task's args by name; a positional-only parameter could never be filled.
            raise TypeError(f"tool {self.name!r} must not have positional-only parameters")
        object.__setattr__(self, "signature", signature)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters a plan's positional arguments fill, in order: ``kb_search("France")`` -> ``query``."""
        return tuple(
            name
            for name, parameter in self.signature.parameters.items()
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
        )


# The attribute ``@tool`` sets on the function it decorates; the function itself stays directly callable.
SPEC_ATTRIBUTE = "__genesis_tool__"


@overload
def tool(name: ToolFunction) -> ToolFunction: ...


@overload
def tool(
    name: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S, description: str | None = None
) -> Callable[[ToolFunction], ToolFunction]: ...


def tool(
    name: str | ToolFunction | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    description: str | None = None,
) -> ToolFunction | Callable[[ToolFunction], ToolFunction]:
    """Mark an async function as a tool: ``@tool``, ``@tool("name")``, ``@tool(name="name", timeout_s=5)``.

    The name defaults to the function's name, the description to the first line of its docstring.
    """

    if callable(name):
        return tool(timeout_s=timeout_s, description=description)(name)

    def decorate(fn: ToolFunction) -> ToolFunction:
        summary = description if description is not None else (inspect.getdoc(fn) or "").split("\n", 1)[0]
        spec = ToolSpec(name=name or fn.__name__, fn=fn, description=summary, timeout_s=timeout_s)
        setattr(fn, SPEC_ATTRIBUTE, spec)
        return fn

    return decorate


def spec_of(candidate: object) -> ToolSpec:
    """The ToolSpec behind a ToolSpec or a ``@tool``-decorated function."""
    if isinstance(candidate, ToolSpec):
        return candidate
    spec = getattr(candidate, SPEC_ATTRIBUTE, None)
    if isinstance(spec, ToolSpec):
        return spec
    raise TypeError(f"{candidate!r} is neither a ToolSpec nor a function decorated with @tool")


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, candidate: ToolSpec | ToolFunction, *, name: str | None = None) -> ToolSpec:
        """Add a tool; ``name`` renames it. A second tool under a taken name is refused, never silently swapped."""
        spec = spec_of(candidate)
        if name is not None and name != spec.name:
            spec = replace(spec, name=name)
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name!r} is already registered")
        self._tools[spec.name] = spec
        return spec

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(name, self._tools) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tools))

    def signatures(self) -> dict[str, tuple[str, ...]]:
        """Parameter names per tool, for the planner to name positional arguments and check calls at plan time."""
        return {name: spec.parameter_names for name, spec in sorted(self._tools.items())}

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def load_entry_points(
        self, group: str = ENTRY_POINT_GROUP, *, found: Iterable[EntryPoint] | None = None
    ) -> list[str]:
        """Register the user tools declared as entry points of ``group``; returns their names.

        ``found`` replaces discovery in the installed distributions (tests, or a caller that filters them).
        A broken entry point raises: a missing tool is better found at start-up than by the first plan using it.
        """
        loaded = []
        for entry_point in entry_points(group=group) if found is None else found:
            try:
                spec = spec_of(entry_point.load())
            except TypeError as error:
                raise TypeError(f"entry point {entry_point.name!r} ({entry_point.value}): {error}") from None
            loaded.append(self.register(spec, name=entry_point.name).name)
        return loaded


async def run_tool(
    registry: ToolRegistry, name: str, args: dict[str, Any], timeout_s: float | None = None
) -> ToolResult:
    """Run one call of tool ``name``: bind the arguments, enforce the timeout, normalise the outcome.

    Returns a ToolResult; raises ToolError (or a subclass) for every failure, so callers handle one type.
    """
    spec = registry.get(name)
    try:
        spec.signature.bind(**args)
    except TypeError as error:
        raise ToolArgumentsError(f"{name}: {error}") from None
    limit = spec.timeout_s if timeout_s is None else timeout_s
    try:
        async with asyncio.timeout(limit) as deadline:
            value = await spec.fn(**args)
    except TimeoutError:
        # Only our deadline counts as a timeout; a TimeoutError raised inside the tool is its own failure.
        if deadline.expired():
            raise ToolTimeoutError(f"{name} timed out after {limit:g} s") from None
        raise ToolError(f"{name} failed: timed out inside the tool") from None
    except ToolError:
        raise
    except Exception as error:
        raise ToolError(f"{name} failed: {type(error).__name__}: {error}") from error
    return value if isinstance(value, ToolResult) else ToolResult(value=value)
