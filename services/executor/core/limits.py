"""How large a task's arguments and result may be, and what an executor says when one is larger."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskLimits:
    """From the ``tools`` section; the defaults keep every event well inside Kafka's default 1 MiB record."""

    max_argument_bytes: int = 524_288
    max_result_bytes: int = 524_288
    # An error message (a tool may raise with megabytes of text) is cut to this many characters.
    max_error_chars: int = 2_000
    # Larger results go to the blob store and travel by reference instead of failing their task.
    claim_check: bool = False


def arguments_too_large(size: int, limits: TaskLimits) -> str | None:
    if size > limits.max_argument_bytes:
        return f"arguments are {size} bytes, over tools.max_argument_bytes ({limits.max_argument_bytes})"
    return None


def result_too_large(size: int, limits: TaskLimits) -> str | None:
    if size > limits.max_result_bytes:
        return f"result is {size} bytes, over tools.max_result_bytes ({limits.max_result_bytes})"
    return None


def clip_error(message: str, limits: TaskLimits) -> str:
    if len(message) <= limits.max_error_chars:
        return message
    return f"{message[: limits.max_error_chars]}... ({len(message)} characters)"


def check_fits(limits: TaskLimits, max_message_bytes: int, *, headroom: int = 16_384) -> None:
    """Refuse at start-up a result limit that Kafka could not carry (the envelope needs some room too)."""
    checked = {"max_result_bytes": limits.max_result_bytes, "max_argument_bytes": limits.max_argument_bytes}
    for name, value in checked.items():
        if value + headroom > max_message_bytes:
            raise ValueError(
                f"tools.{name} ({value}) plus {headroom} bytes of envelope exceeds kafka.max_message_bytes "
                f"({max_message_bytes}): lower the first or raise the second"
            )
