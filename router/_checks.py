"""Field checks every event runs on construction (``router.events``).

Identifiers, words and channel lists are checked here, each refusal an
``InvalidEvent`` naming the field and never quoting the refused value (it may
be a caller's number typed into the wrong field).
"""

from __future__ import annotations

import re

from router.errors import InvalidEvent
from router.privacy import _SUSPECT, identity_kind

CHANNELS = ("phone", "chat")

# Identifiers are opaque tokens chosen by adapters. They are restricted to a
# conservative alphabet and length so that nothing resembling free text (a
# caller's name or number typed into a field) can ride along; a phone number
# alone is still a valid token, which is why adapters mint their own ids.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$")
_WORD = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ID_MATCH = _ID.match
_WORD_MATCH = _WORD.match
MAX_COMMENT = 2000


def _check_id(cls: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidEvent(
            f"{cls}.{name} must be an identifier of 1-80 letters, digits or ._:@-",
            field=name,
        )


def _check_word(cls: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not _WORD.match(value):
        raise InvalidEvent(
            f"{cls}.{name} must be a lower-case word of 1-40 letters, digits or _",
            field=name,
        )


def _encodable(text: str) -> bool:
    # The log stores UTF-8: a lone surrogate ("\ud800") is not text it can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_channels(cls: str, channels: object, *, empty_ok: bool) -> None:
    if not isinstance(channels, tuple) or not all(isinstance(c, str) for c in channels):
        raise InvalidEvent(f"{cls}.channels must be a list of channel names", field="channels")
    if not channels and not empty_ok:
        raise InvalidEvent(f"{cls}.channels must name at least one channel", field="channels")
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise InvalidEvent(
            f"{cls}.channels has an unknown channel (known: {', '.join(CHANNELS)})",
            field="channels",
        )
    if len(set(channels)) != len(channels):
        raise InvalidEvent(f"{cls}.channels lists a channel twice", field="channels")


_SUSPECT_SEARCH = _SUSPECT.search


def _check_not_identity(cls: str, name: str, value: str) -> None:
    kind = identity_kind(value)
    if kind is not None:
        raise InvalidEvent(
            f"{cls}.{name} looks like {kind}; identifiers are the adapter's own tokens and "
            "must never carry caller identity",
            field=name,
        )
