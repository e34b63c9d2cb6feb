"""What every event is, and how it crosses the wire.

The ``Event`` envelope (idempotency key, time, origin) with its inlined value
checks, the table of known event types and the wire conversion of any of them
(``event_from_dict`` / ``event_to_dict``, ``event_digest``). The concrete event
types live in ``router.events`` (and ``router.events_escalation``), which add
themselves with ``register_event_types``; import them from there.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self

from router._checks import (
    _ID_MATCH,
    _SUSPECT_SEARCH,
    _WORD_MATCH,
    _check_id,
    _check_not_identity,
    _check_word,
)
from router._fast import digest_function, from_fields_unchecked, unchecked_constructor
from router.errors import InvalidEvent

__all__ = [
    "EVENT_TYPES",
    "Event",
    "event_digest",
    "event_from_dict",
    "event_to_dict",
    "register_event_types",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common envelope: idempotency key, time and origin."""

    type: ClassVar[str] = ""
    # False for a type whose checks also rebuild a value (``contact.registered``'s
    # answers become tuples): its trusted decode would not be the event it was.
    _trusted_decode: ClassVar[bool] = True
    _ids: ClassVar[tuple[str, ...]] = ()
    _words: ClassVar[tuple[str, ...]] = ()

    event_id: str
    at: float
    source: str

    def __post_init__(self) -> None:
        # Hot path: every event passes here, so the checks are inlined.
        match, suspect = _ID_MATCH, _SUSPECT_SEARCH
        for f in ("event_id", "source", *self._ids):
            v = getattr(self, f)
            if v.__class__ is not str or match(v) is None:
                _check_id(type(self).__name__, f, v)
            if suspect(v) is not None:  # an @, a colon or a long number: look closer
                _check_not_identity(type(self).__name__, f, v)
        at = self.at
        if not (
            math.isfinite(at)
            if at.__class__ is float
            else isinstance(at, int) and not isinstance(at, bool)
        ):
            raise InvalidEvent(f"{type(self).__name__}.at must be a finite POSIX time", field="at")
        for f in self._words:
            v = getattr(self, f)
            if v.__class__ is not str or _WORD_MATCH(v) is None:
                _check_word(type(self).__name__, f, v)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build an event without validating it.

        Only for drivers that mint every value themselves from known-good
        inputs (the simulator's millions of events); events from adapters,
        files and the wire are always built normally and validated.
        """
        try:
            return unchecked_constructor(cls)(**values)  # type: ignore[no-any-return]
        except TypeError:
            pass  # a missing or unknown field: name it below
        obj = object.__new__(cls)
        for name, default in _DEFAULTS[cls]:
            value = values.pop(name, default)
            if value is MISSING:
                raise InvalidEvent(f"{cls.type}: missing field {name!r}", field=name)
            object.__setattr__(obj, name, value)
        if values:
            raise InvalidEvent(f"{cls.type}: unknown field {next(iter(values))!r}")
        return obj


EVENT_TYPES: dict[str, type[Event]] = {}

# Per event class, computed once: (python name, wire name) of every field; (field,
# default) in order, MISSING where a value is required; the required wire names.
_WIRE: dict[type[Event], tuple[tuple[str, str], ...]] = {}
_MISSING_VALUE: Any = MISSING
_DEFAULTS: dict[type[Event], tuple[tuple[str, Any], ...]] = {}
_REQUIRED: dict[type[Event], frozenset[str]] = {}


def register_event_types(*classes: type[Event]) -> None:
    """Make event classes known to the wire tables (``router.events_escalation`` adds its)."""
    for cls in classes:
        EVENT_TYPES[cls.type] = cls
        fs = fields(cls)
        _WIRE[cls] = tuple((f.name, f.metadata.get("wire", f.name)) for f in fs)
        _DEFAULTS[cls] = tuple(
            (f.name, _MISSING_VALUE if f.default is MISSING else f.default) for f in fs
        )
        _REQUIRED[cls] = frozenset(
            f.metadata.get("wire", f.name)
            for f in fs
            if f.default is MISSING and f.default_factory is MISSING
        )


def event_digest(event: Event) -> int:
    """A stable fingerprint of the event's whole body (type and every field).

    Two events with one ``event_id`` are the same delivery only if their digests
    match (an idempotency key reused with another body is refused). Stable across
    processes (CRC-32 of the fields' text, no salted ``hash``), so a digest kept in
    a snapshot still compares after a restart.
    """
    return digest_function(event.__class__)(event)  # type: ignore[no-any-return]


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a plain dict with its wire field names and ``type``."""
    out: dict[str, Any] = {"type": event.type}
    for name, wire in _WIRE[type(event)]:
        value = getattr(event, name)
        out[wire] = list(value) if isinstance(value, tuple) else value
    return out


def event_from_dict(data: dict[str, Any], *, trusted: bool = False) -> Event:
    """Build an event from a plain dict (``at`` and times already POSIX seconds).

    Unknown fields and missing fields are refused with ``InvalidEvent`` naming them.
    ``trusted`` skips the values' checks: only for a CRC-checked log validated when written.
    """
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidEvent(
            f"unknown event type {kind!r} (known: {', '.join(sorted(EVENT_TYPES))})",
            field="type",
        )
    if (
        trusted
        and cls._trusted_decode
        and (event := from_fields_unchecked(cls, _WIRE[cls], data)) is not None
    ):
        return event  # type: ignore[no-any-return]
    names = {wire: name for name, wire in _WIRE[cls]}
    unknown = [k for k in data if k != "type" and k not in names]
    if unknown:
        raise InvalidEvent(f"{kind}: unknown field {unknown[0]!r}", field=unknown[0])
    missing = sorted(_REQUIRED[cls] - data.keys())
    if missing:
        raise InvalidEvent(f"{kind}: missing field {missing[0]!r}", field=missing[0])
    kwargs: dict[str, Any] = {}
    for wire, value in data.items():
        if wire == "type":
            continue
        kwargs[names[wire]] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a value of the wrong shape reached a check
        raise InvalidEvent(f"{kind}: {exc}") from exc
