"""Wire models of the event API, generated from the core's event dataclasses.

One source of truth: each pydantic model is built from the fields of the
frozen dataclass in ``router.events`` (names, types, defaults), with ``at``
and other times as ISO 8601 timestamps with an offset, and unknown fields
forbidden. Types are strict: no string-to-number coercion (a rating ``"8"``,
``true``, ``5.0`` or ``" 7 "`` is refused), and a time is an ISO 8601 string
with a zone, never a bare Unix number (``WireTime``). The models validate
request bodies and feed the OpenAPI document; ``to_event`` turns a validated
model into the core's event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from adapters.http.bodies import key_name
from router.errors import InvalidEvent
from router.events import EVENT_TYPES, Event

__all__ = [
    "EVENT_ROLES",
    "FROM_PRINCIPAL",
    "MAX_BATCH",
    "EventBatch",
    "EventIn",
    "EventModels",
    "WireTime",
    "event_adapter",
    "to_event",
]

# A batch is one group commit; bigger ones should be split by the adapter.
MAX_BATCH = 500
_TIME_FIELDS = {"at", "start", "end"}
# A calendar date and a time of day, in ASCII digits, before pydantic parses the rest.
_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")
_MAX_TIME_CHARS = 40


def _iso_time(value: object) -> object:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_TIME_CHARS
        or _ISO_START.match(value) is None
    ):
        raise ValueError(
            "a time must be an ISO 8601 string with a UTC offset, e.g. 2021-11-15T10:00:00+01:00"
        )
    return value


# A time on the wire: an ISO 8601 string with a zone (parsed by pydantic, which alone
# would also take a bare Unix number or a numeric string).
WireTime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_iso_time)]


_ADAPTER = frozenset({"adapter"})
_SUPERVISOR = frozenset({"supervisor"})
_AGENT = frozenset({"agent"})
# Who may send each event type on /v1/events (a refused role is a 403): adapters
# report contacts and agents, supervisors acknowledge alerts and declare absences.
EVENT_ROLES: dict[str, frozenset[str]] = {
    "contact.arrived": _ADAPTER,
    "contact.answered": _ADAPTER,
    "contact.abandoned": _ADAPTER,
    "contact.ended": _ADAPTER,
    "contact.flagged": frozenset({"adapter", "agent", "supervisor"}),  # raising an escalation
    "offer.declined": _ADAPTER,
    "chat.feedback": _ADAPTER,
    "agent.logged_in": _ADAPTER,
    "agent.logged_out": _ADAPTER,
    "agent.ready": _ADAPTER,
    "agent.away": _ADAPTER,
    "alert.acknowledged": _SUPERVISOR,
    "contact.registered": _AGENT,  # on /v1/agent/registrations (adapters/http/agent.py)
    "team.absent": _SUPERVISOR,
    "escalation.step_ticked": _SUPERVISOR,
    "escalation.closed": _SUPERVISOR,
    "legal_hold.acknowledged": _ADAPTER,
    "contact.rang": _ADAPTER,
    "contact.ring_ended": _ADAPTER,
    "contact.moved": _ADAPTER,
    "contact.turned_away": _ADAPTER,
    "agent.joined_queue": _ADAPTER,
    "agent.left_queue": _ADAPTER,
}
if set(EVENT_ROLES) != set(EVENT_TYPES):  # pragma: no cover - a new type needs its roles
    raise RuntimeError(f"EVENT_ROLES must list every event type: {sorted(EVENT_TYPES)}")
# Fields the service fills from the authenticated principal (its name), never from
# the body: they are not in the wire model, and a body that sends one is a 422.
FROM_PRINCIPAL: dict[str, tuple[str, ...]] = {
    "alert.acknowledged": ("by",),
    "escalation.step_ticked": ("by",),
    "escalation.closed": ("by",),
    "contact.registered": ("by",),
}


def _model_for(cls: type[Event]) -> type[BaseModel]:
    hints = typing.get_type_hints(cls)
    tag: Any = Literal[cls.type]
    fields: dict[str, Any] = {"type": (tag, Field(description="event type"))}
    for f in dataclasses.fields(cls):
        if f.name in FROM_PRINCIPAL.get(cls.type, ()):
            continue
        wire = f.metadata.get("wire", f.name)
        ann: Any = hints[f.name]
        if f.name in _TIME_FIELDS:
            ann = WireTime
        elif ann == tuple[str, ...]:
            ann = list[str]
        default: Any = ... if f.default is dataclasses.MISSING else f.default
        if isinstance(default, tuple):
            default = list(default)
        fields[f.name] = (ann, Field(default, alias=wire) if wire != f.name else default)
    name = "".join(p.capitalize() for p in cls.type.replace(".", "_").split("_")) + "Event"
    model = create_model(
        name,
        __config__=ConfigDict(extra="forbid", populate_by_name=True, strict=True),
        __doc__=(cls.__doc__ or cls.type).strip(),
        **fields,
    )
    return typing.cast(type[BaseModel], model)


EventModels: dict[str, type[BaseModel]] = {t: _model_for(c) for t, c in EVENT_TYPES.items()}


def _brief_types(types: list[str]) -> str:
    """``contact.*, offer.declined, agent.*, ...``: a family of two or more types as one."""
    families: dict[str, list[str]] = {}
    for t in types:
        families.setdefault(t.split(".", 1)[0], []).append(t)
    return ", ".join(f"{f}.*" if len(ts) > 1 else ts[0] for f, ts in families.items())


# What an unknown event type is told (the same words on every path; never the value sent).
UNKNOWN_EVENT_TYPE = f"unknown event type; known: {_brief_types(list(EventModels))}"
_UNKNOWN_TYPE = UNKNOWN_EVENT_TYPE


def _named(part: int | str) -> int | str:
    # A list index, a union's tag (an event type) or a key that looks like a field name.
    return part if isinstance(part, int) or part in EventModels else key_name(part)


def _edge_names(exc: ValidationError) -> ValidationError:
    """``exc`` with a key that does not look like a field name (an unknown ``""`` or
    ``"what the caller said"``) named ``(field)`` in every location, as ``bodies`` does."""
    errors = exc.errors()
    if all(_named(p) == p for e in errors for p in e["loc"]):
        return exc
    return ValidationError.from_exception_data(
        exc.title,
        [
            InitErrorDetails(
                type=PydanticCustomError(e["type"], e["msg"]),
                loc=tuple(_named(p) for p in e["loc"]),
                input=None,
            )
            for e in errors
        ],
    )


def _known_type(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """An unknown or missing ``type`` is an error of the field ``type``, its value not
    echoed (pydantic's own message quotes the tag it found, at the event's location);
    odd keys are not echoed either (``_edge_names``)."""
    try:
        return handler(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"] and first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            kind = value.get("type") if isinstance(value, dict) else None
            reason = "missing" if first["type"] == "union_tag_not_found" else _UNKNOWN_TYPE
            error = PydanticCustomError("invalid_event_type", reason)
            raise ValidationError.from_exception_data(
                "EventIn", [InitErrorDetails(type=error, loc=("type",), input=kind)]
            ) from None
        raise _edge_names(exc) from None


EventIn: Any = Annotated[
    Annotated[Union[tuple(EventModels.values())], Field(discriminator="type")],  # noqa: UP007
    WrapValidator(_known_type),
]
event_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)


class EventBatch(BaseModel):
    """Several events, applied in order and made durable with one fsync."""

    model_config = ConfigDict(extra="forbid", strict=True)
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="wrap")
    @classmethod
    def _edge_names(cls, value: Any, handler: ModelWrapValidatorHandler[EventBatch]) -> EventBatch:
        try:
            return handler(value)
        except ValidationError as exc:
            raise _edge_names(exc) from None


def to_event(model: BaseModel, principal: str | None = None) -> Event:
    """The core event for a validated wire model (times become POSIX seconds).

    ``principal``: the authenticated sender's name, for the fields in
    ``FROM_PRINCIPAL`` (``by`` of ``alert.acknowledged``). Reads the model's
    attributes directly (every request passes here); the event's own checks
    still run when it is constructed.
    """
    cls = EVENT_TYPES[model.type]  # type: ignore[attr-defined]
    own = FROM_PRINCIPAL.get(cls.type, ())
    kwargs: dict[str, Any] = {}
    for name in _NAMES[cls]:
        if name in own:
            if principal is None:
                raise InvalidEvent(f"{cls.type}: {name} needs an authenticated sender", field=name)
            kwargs[name] = principal
            continue
        value = getattr(model, name)
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a value of the wrong shape reached a check
        raise InvalidEvent(f"{cls.type}: {exc}") from exc


_NAMES: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in EVENT_TYPES.values()
}
