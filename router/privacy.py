"""The one scrubber: caller identity out of free text, and out of identifiers.

Linje never stores a caller's phone number, e-mail address, IP address or chat
nickname. Every free-text field (today: the post-chat form's comment) passes
``scrub`` when its event is built, on every path (the event API, the vendor
webhooks, importers, recovery), so nothing that reaches the log, a record, a
trace or an error can carry one. Identifiers are adapters' opaque tokens: one
that looks like a phone number, an e-mail or an IP address is refused
(``identity_kind`` says which), naming the field and never the value.

Phone numbers are recognised however they are written: ``+47 912 34 567``,
``0047-91234567``, ``(+47) 91 23 45 67``, ``912.34.567``, ``tel/+47/912/34/567``:
eight or more digits with at most single separators between them. That also
removes dates and other long numbers from a comment, which is the price of
never keeping a number.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["REMOVED", "identity_kind", "scrub"]

REMOVED = "[removed]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 8 or more digits, each separated from the next by at most two of " -./()" (and a
# leading + or 00): how people write phone numbers by hand.
_PHONE = re.compile(r"(?:\+|\b00)?\(?\d(?:[ \t\-./()]{0,2}\d){7,}")
# Candidates for an IP address: IPv4 dotted quads, and runs of hex digits with at
# least two colons (IPv6, compressed or not); each candidate is checked by ipaddress.
_IP_CANDIDATE = re.compile(
    r"(?<![\w:.])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?)"
    r"(?![\w:])"
)
_SUSPECT = re.compile(r"[@:]|\d[\d.\-]{7,}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# A number marked as a phone number inside a token (``tel-4791234567``, ``sms:+47...``).
_MARKED_PHONE = re.compile(r"(?i)(?:tel|phone|mob|sms|msisdn)[._:-]?\+?\d{8,}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _drop_ips(text: str) -> str:
    return _IP_CANDIDATE.sub(lambda m: REMOVED if _is_ip(m.group()) else m.group(), text)


def scrub(text: str, known: tuple[str | None, ...] = ()) -> str:
    """``text`` without phone numbers, e-mail or IP addresses, nor the ``known`` values.

    ``known`` are identity values the same payload carried (a chat visitor's
    nickname, their number): removed wherever they appear, case-insensitively.
    Scrubbing scrubbed text changes nothing.
    """
    for value in known:
        if value and value.strip():
            text = re.sub(re.escape(value.strip()), REMOVED, text, flags=re.IGNORECASE)
    text = _EMAIL.sub(REMOVED, text)
    text = _drop_ips(text)
    return _PHONE.sub(REMOVED, text)


def identity_kind(token: str) -> str | None:
    """What caller identity an identifier looks like ("a phone number", ...), or None."""
    if _SUSPECT.search(token) is None:
        return None
    if _EMAIL.fullmatch(token):
        return "an e-mail address"
    if _is_ip(token):
        return "an IP address"
    if (
        _PHONE.fullmatch(token)
        or _MARKED_PHONE.search(token)
        or (
            token.lstrip("+").replace("-", "").replace(".", "").isdigit()
            and sum(ch.isdigit() for ch in token) >= 8
        )
    ):
        return "a phone number"
    return None
