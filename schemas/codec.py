"""Bytes <-> events. A consumer learns three outcomes: a known event, an event type it does not know
(a newer producer: skip it and log), or bytes that are no event at all (send them to the dead-letter topic)."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.events import EVENT_TYPES, AnyEvent, Event

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)
_KNOWN_TAGS = frozenset(event_type.__struct_config__.tag for event_type in EVENT_TYPES)


class UndecodableEvent(ValueError):
    """The bytes are not an event this or any producer could have written; ``reason`` says why."""


class UnknownEvent(msgspec.Struct, frozen=True):
    """A well-formed event of a type this consumer does not know (for example from a newer producer)."""

    type: str
    raw: dict[str, Any]


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> AnyEvent | UnknownEvent:
    try:
        return _decode_event(data)
    except RecursionError:
        # msgspec decodes nested JSON recursively: a poison record of 100k "[" must fail alone, not its consumer.
        raise UndecodableEvent("nested too deeply to decode") from None
    except UnicodeDecodeError as error:
        # JSON is UTF-8; msgspec raises this (not a DecodeError) for a string that is not, e.g. b'"\x80"'.
        raise UndecodableEvent(f"not JSON: not UTF-8: {error}") from None


def _decode_event(data: bytes) -> AnyEvent | UnknownEvent:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as typed_error:
        try:
            document = msgspec.json.decode(data)
        except msgspec.DecodeError as json_error:
            raise UndecodableEvent(f"not JSON: {json_error}") from None
        tag = document.get("type") if isinstance(document, dict) else None
        if isinstance(tag, str) and tag not in _KNOWN_TAGS:
            return UnknownEvent(type=tag, raw=document)
        raise UndecodableEvent(str(typed_error)) from None


def event_type_name(event: Event) -> str:
    return event.__struct_config__.tag  # type: ignore[return-value]
