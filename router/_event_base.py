"""The envelope every event shares (``router.events`` holds the event types).

``Event`` validates its ids and words on construction; ``trusted`` builds one
without checks for drivers that mint every value themselves.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass
from typing import Any, ClassVar, Self

from router._checks import (
    _ID_MATCH,
    _SUSPECT_SEARCH,
    _WORD_MATCH,
    _check_id,
    _check_not_identity,
    _check_word,
)
from router.errors import InvalidEvent

__all__ = ["DEFAULTS", "Event"]

# Per event class: (field, default) in order, MISSING where a value is required;
# filled by ``router.events`` once every type is defined.
DEFAULTS: dict[type[Event], tuple[tuple[str, Any], ...]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common envelope: idempotency key, time and origin."""

    type: ClassVar[str] = ""
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
        obj = object.__new__(cls)
        for name, default in DEFAULTS[cls]:
            value = values.pop(name, default)
            if value is MISSING:
                raise InvalidEvent(f"{cls.type}: missing field {name!r}", field=name)
            object.__setattr__(obj, name, value)
        if values:
            raise InvalidEvent(f"{cls.type}: unknown field {next(iter(values))!r}")
        return obj
