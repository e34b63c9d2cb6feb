"""Faster ``__init__`` for the core's frozen value classes (records, commands).

A frozen dataclass's generated ``__init__`` sets every field with
``object.__setattr__``, which looks the field up on the type each time; the
records the core builds once per contact have over twenty fields, so that
lookup is a measurable share of an event's cost. ``fast_init`` replaces the
generated ``__init__`` with one of the same signature (keyword-only, same
defaults) that sets each slot through its member descriptor directly. The
class stays frozen, slotted, equal and hashable exactly as ``dataclass`` made
it; only construction is cheaper.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

__all__ = [
    "digest_function",
    "fast_init",
    "from_fields_unchecked",
    "positional_constructor",
    "to_dict_function",
    "unchecked_constructor",
]

T = TypeVar("T", bound=type)


def _setter_source(cls: type, head: str, tail: str, *, keywords: bool = True) -> Any:
    """Compile ``head`` + one descriptor ``__set__`` per field of ``cls`` on ``self`` + ``tail``;
    the function's keyword-only parameters are the fields, with their defaults."""
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, f in enumerate(fields(cls)):
        if f.default_factory is not MISSING:  # pragma: no cover - none of ours has one
            raise TypeError(f"{cls.__name__}.{f.name}: no default_factory here")
        if f.default is MISSING or not keywords:
            params.append(f.name)
        else:
            env[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        slot = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        env[f"_s{i}"] = slot.__set__  # the slot's member descriptor
        body.append(f"    _s{i}(self, {f.name})")
    src = head.replace("PARAMS", ", ".join(params)) + "\n".join(body) + tail
    exec(src, env)  # source built above from the class's own field names
    return env["f"]


def fast_init(cls: T) -> T:
    """Give the frozen, slotted, keyword-only dataclass ``cls`` a descriptor-based ``__init__``."""
    if hasattr(cls, "__post_init__"):  # pragma: no cover - none of ours has one
        raise TypeError(f"{cls.__name__}: fast_init does not run __post_init__")
    init = _setter_source(cls, "def f(self, *, PARAMS):\n", "\n")
    init.__name__ = "__init__"
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls


def positional_constructor(cls: type) -> Any:
    """A function building an instance of the slotted dataclass ``cls`` from every field,
    positionally in field order, without running its ``__init__`` (for the core's one
    hot construction site; the caller passes every field)."""
    return _setter_source(
        cls, "def f(PARAMS):\n    self = _new(_cls)\n", "\n    return self\n", keywords=False
    )


def to_dict_function(cls: type, tag: str, value: str) -> Callable[[Any], dict[str, Any]]:
    """``cls``'s instances as their plain wire dict, compiled once: ``{tag: value}`` then
    every field in order, tuple-typed fields as lists, and a dict field's tuple values
    as lists (what msgpack and JSON keep).

    The same dict the field-by-field loop made, without a type test per field.
    """
    items = [f"{tag!r}: {value!r}"]
    for f in fields(cls):
        typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        expr = f"o.{f.name}"
        if typ.startswith("tuple"):
            expr = f"list({expr})"
        elif typ.startswith("dict"):  # a tuple one level down too (a registration's answers)
            expr = f"{{k: list(v) if v.__class__ is tuple else v for k, v in {expr}.items()}}"
        items.append(f"{f.name!r}: {expr}")
    src = "def to_dict(o):\n    return {" + ", ".join(items) + "}\n"
    env: dict[str, Any] = {}
    exec(src, env)  # source built above from the class's own field names
    return env["to_dict"]  # type: ignore[no-any-return]


_CACHE: dict[tuple[str, type], Any] = {}


def _cached(kind: str, cls: type, build: Callable[[type], Any]) -> Any:
    fn = _CACHE.get((kind, cls))
    if fn is None:
        fn = _CACHE[(kind, cls)] = build(cls)
    return fn


def _unchecked(cls: type) -> Any:
    return _setter_source(cls, "def f(*, PARAMS):\n    self = _new(_cls)\n", "\n    return self\n")


def unchecked_constructor(cls: type) -> Any:
    """A function (compiled once per class) building an instance of the slotted dataclass
    ``cls`` from keyword fields without running its ``__init__`` or ``__post_init__``
    (no validation): ``TypeError`` for a missing or unknown field, as a call would raise."""
    return _cached("unchecked", cls, _unchecked)


def _trusted_decoder(cls: type, wire: tuple[tuple[str, str], ...]) -> Any:
    """Compile ``decode(data)``: ``cls`` from a wire dict holding exactly ``type`` and every
    field (``wire``: (field, wire name) in field order), each slot set through its
    descriptor, a list becoming a tuple; None if a field is missing or unknown."""
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_list": list}
    body = [
        "def decode(d):",
        f"    if len(d) != {len(wire) + 1}:",
        "        return None",
        "    try:",
        "        self = _new(_cls)",
    ]
    for i, (name, key) in enumerate(wire):
        slot = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
        env[f"_s{i}"] = slot.__set__
        body.append(f"        v = d[{key!r}]")
        body.append(f"        _s{i}(self, tuple(v) if v.__class__ is _list else v)")
    body += ["    except KeyError:", "        return None", "    return self", ""]
    exec("\n".join(body), env)  # source built above from the class's own field names
    return env["decode"]


def from_fields_unchecked(
    cls: type, wire: tuple[tuple[str, str], ...], data: dict[str, Any]
) -> Any:
    """``cls`` from a wire dict (``wire``: (field, wire name) of every field; lists become
    tuples) without validation, or None if a field is unknown or missing (a checked path
    then names it)."""
    return _cached("trusted", cls, lambda c: _trusted_decoder(c, wire))(data)


def _digest(cls: type) -> Any:
    text = "\\x1f".join(["{e.type}", *(f"{{e.{f.name}}}" for f in fields(cls))])
    src = f"def digest(e):\n    return crc32(f'{text}'.encode('utf-8', 'surrogatepass'))\n"
    env: dict[str, Any] = {"crc32": zlib.crc32}
    exec(src, env)  # source built above from the class's own field names
    return env["digest"]


def digest_function(cls: type) -> Any:
    """``router.events.event_digest`` for one class, compiled once: the CRC-32 of
    ``type`` and every field's ``str()``, joined by U+001F (an f-string formats
    each field as ``str`` does for the str, int, float, tuple and None values
    events hold)."""
    return _cached("digest", cls, _digest)
