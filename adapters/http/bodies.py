"""Request bodies at the edge: strict JSON that the log, Redis and the core can always hold.

Everything an adapter posts passes ``parse_json`` before it is validated into
events, so a hostile or broken body is refused with a 4xx problem and changes
nothing, instead of failing deeper down (an unencodable string stopping the
event log, a deep nesting exhausting the stack, a huge integer literal
tripping Python's int-string conversion limit):

* the body must be UTF-8 text (no byte order mark, no other encoding);
* arrays and objects may nest at most ``MAX_DEPTH`` levels, counted on the
  raw text without recursion before anything is parsed;
* ``NaN`` and ``Infinity`` are not JSON and are refused;
* an integer literal may have at most ``MAX_INT_DIGITS`` digits;
* every string, keys included, must be encodable as UTF-8: a lone surrogate
  (``"\\ud800"``) is refused.

Problems name the field (its path in the body, e.g. ``events[0].comment``)
and never echo what it held: that may be a caller's words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.http.problems import Problem
from router._checks import _encodable

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "key_name", "parse_json", "text_problem"]

MAX_DEPTH = 32
# Ratings are 1-10; nothing on the wire needs more than a few digits.
MAX_INT_DIGITS = 20
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_LONG_DIGITS = re.compile(rf"[0-9]{{{MAX_INT_DIGITS + 1},}}")


class _LongInteger:
    """Stands in for an integer literal too long to convert (found and refused by the walk)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(literal: str) -> int | _LongInteger:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_INT_DIGITS:
        return _LongInteger(digits)
    return int(literal)


def _parse_constant(name: str) -> Any:
    raise Problem(400, "malformed-json", f"body is not valid JSON: {name} is not a JSON value")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, strings skipped (no recursion)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        else:
            depth -= 1
    return deepest


def key_name(key: str) -> str:
    # Field names are named in problems only when they look like field names.
    return key if _KEY.match(key) else "(field)"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = key_name(key)
    return f"{path}.{name}" if path else name


def text_problem(field: str | None) -> Problem:
    """422 for a string that is not valid Unicode text; its content is not echoed."""
    where = field or "body"
    return Problem(
        422,
        "invalid-text",
        f"{where}: text must be valid Unicode (it holds a lone surrogate or other "
        "code point that cannot be encoded as UTF-8)",
        field=field,
    )


def _walk(data: Any) -> None:
    """Refuse unencodable strings and overlong integers anywhere in ``data`` (no recursion)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                raise text_problem(path or None)
        elif isinstance(value, dict):
            items = list(value.items())
            for key, item in reversed(items):
                if not _encodable(key):
                    raise text_problem(f"{path}.(field name)" if path else "(field name)")
                stack.append((_join(path, key), item))
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                stack.append((_join(path, i), value[i]))
        elif isinstance(value, _LongInteger):
            where = path or "body"
            raise Problem(
                422,
                "number-too-long",
                f"{where}: an integer of more than {MAX_INT_DIGITS} digits",
                field=path or None,
            )


# Built once: ``json.loads`` with any keyword builds a new decoder per call.
_DECODE = json.JSONDecoder(parse_constant=_parse_constant).decode
_DECODE_LONG = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant).decode


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body, or a 4xx ``Problem`` (see the module docstring)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "malformed-json", f"body is not UTF-8 text (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise Problem(400, "malformed-json", "body starts with a byte order mark; send plain UTF-8")
    # Nesting cannot be deeper than the number of opening brackets (counted in C).
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise Problem(
            400,
            "json-too-deep",
            f"body nests arrays and objects deeper than {MAX_DEPTH} levels",
        )
    # A lone surrogate can only come from a \u escape (the UTF-8 decode refused any
    # other), an overlong integer only from a long run of digits: a body with
    # neither, as every adapter's usually is, is parsed by the C scanner alone
    # and needs no walk.
    escapes = "\\" in text
    long_digits = _LONG_DIGITS.search(text) is not None
    try:
        data = _DECODE_LONG(text) if long_digits else _DECODE(text)
    except json.JSONDecodeError as exc:
        raise Problem(400, "malformed-json", f"body is not valid JSON: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise Problem(400, "json-too-deep", "body nests too deeply") from None
    if escapes or long_digits:
        _walk(data)
    return data
