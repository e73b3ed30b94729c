"""Decoding and checking one JSONL line of chat training data, and a record's conversation fingerprint."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

DIFFICULTIES = ("easy", "medium", "hard")
_DECODER = msgspec.json.Decoder()
_WHITESPACE = re.compile(r"\s+")


class MalformedRecord(ValueError):
    """A line that is not a usable record; the message says why, the reader adds file and line."""


def decode_record(raw: bytes) -> dict[str, Any]:
    """One JSON object from one line, with `messages` (when present) a list of {role, content} objects."""
    try:
        record = _DECODER.decode(raw)
    except UnicodeDecodeError as error:
        raise MalformedRecord(f"not UTF-8 (byte {error.start})") from None
    except msgspec.DecodeError as error:
        raise MalformedRecord(f"not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise MalformedRecord(f"expected a JSON object, got {type(record).__name__}")
    messages = record.get("messages")
    if messages is None:
        return record
    if not isinstance(messages, list):
        raise MalformedRecord("`messages` must be a list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise MalformedRecord(f"`messages[{index}]` must be an object with a string `content`")
    return record


def fingerprint(record: dict[str, Any]) -> bytes:
    """Identity of a conversation: roles and contents, case and whitespace folded; other fields ignored."""
    digest = hashlib.blake2b(digest_size=16)
    for message in record.get("messages") or ():
        digest.update(str(message.get("role", "")).encode())
        digest.update(b"\x1f")
        digest.update(_WHITESPACE.sub(" ", message["content"]).strip().casefold().encode())
        digest.update(b"\x1e")
    return digest.digest()
