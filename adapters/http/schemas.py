"""Response models of ``/v1/state``, ``/v1/stats`` and ``/v1/commands``, for the OpenAPI document.

Built from the code that makes the data: the command models from the core's
command dataclasses (``router.commands``), the outcome classes and group keys
from ``router.records`` and ``router.stats_model``, the states from
``router.tables``. Unknown properties are forbidden, so a field the producing
code adds without a schema fails ``tests/test_http_schemas.py``, which
validates real responses of both stores against these schemas.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from router.commands import COMMAND_TYPES
from router.records import OTHER_REASONS, TURNED_AWAY, UNANSWERED_CLASSES
from router.stats_model import GROUP_KEYS, KeyValue
from router.tables import ChannelState, ContactState, Presence
from router.today import HOURLY

__all__ = ["COMMAND_MODELS", "CommandOut", "CommandsResponse", "StateResponse", "StatsResponse"]

_STRICT = ConfigDict(extra="forbid")


def _command_model(cls: type) -> type[BaseModel]:
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {"type": (Literal[cls.type], ...)}  # type: ignore[attr-defined]
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        # tuples go out as JSON arrays (router.commands.command_to_dict)
        if typing.get_origin(kind) is tuple:
            kind = typing.cast(Any, list)[typing.get_args(kind)[0]]
        fields[f.name] = (kind, ...)
    name = "".join(p.capitalize() for p in cls.type.split("_")) + "Command"  # type: ignore[attr-defined]
    doc = (cls.__doc__ or "").strip() + " ``seq`` is the helpline-wide resume cursor."
    model: type[BaseModel] = create_model(name, __config__=_STRICT, __doc__=doc, **fields)
    return model


COMMAND_MODELS = {t: _command_model(cls) for t, cls in COMMAND_TYPES.items()}
CommandOut: Any = Annotated[Union[tuple(COMMAND_MODELS.values())], Field(discriminator="type")]  # noqa: UP007


class CommandsResponse(BaseModel):
    """The adapter's commands after the cursor (the channels it serves), in ``seq`` order."""

    model_config = _STRICT
    commands: list[CommandOut]


# ------------------------------------------------------------------- state
def _counts(name: str, keys: tuple[str, ...], kind: Any = int) -> type[BaseModel]:
    fields: dict[str, Any] = {k: (kind, ...) for k in keys}
    model: type[BaseModel] = create_model(name, __config__=_STRICT, **fields)
    return model


Unanswered = _counts("UnansweredCounts", UNANSWERED_CLASSES)
OtherReasons = _counts("OtherReasonCounts", OTHER_REASONS)
TurnedAwayReasons = _counts("TurnedAwayCounts", TURNED_AWAY)
ByHour = _counts("TodayByHour", HOURLY, Annotated[list[int], Field(min_length=24, max_length=24)])


class WaitingContact(BaseModel):
    model_config = _STRICT
    contact_id: str
    state: Literal[ContactState.WAITING, ContactState.OFFERED]
    arrived_at: float
    wait_s: float = Field(description="to the service's clock at the request (server_time)")
    ringing: list[str]


class Gap(BaseModel):
    model_config = _STRICT
    team: str
    since: float
    alert_id: str


class QueueView(BaseModel):
    model_config = _STRICT
    queue: str
    channel: str
    strategy: str
    owner: str
    open: bool
    serving_team: str | None
    since: float
    next_handover: float | None
    next_owner: str | None
    eligible_teams: list[str]
    fallback_active: bool
    gap: Gap | None
    waiting: list[WaitingContact]
    oldest_wait_s: float


class AgentChannelView(BaseModel):
    """One agent on one channel; a logged-out channel has only ``state``."""

    model_config = _STRICT
    state: Literal[tuple(s.value for s in ChannelState)]  # type: ignore[valid-type]
    since: float | None = None
    time_in_state_s: float | None = Field(
        default=None, description="to the service's clock at the request (server_time)"
    )
    active: list[str] | None = None
    offered: list[str] | None = None
    capacity: int | None = None


class AgentView(BaseModel):
    model_config = _STRICT
    agent_id: str
    team: str
    presence: Literal[tuple(p.value for p in Presence)]  # type: ignore[valid-type]
    away_reason: str | None
    no_answer_streak: int
    channels: dict[str, AgentChannelView]


class AlertView(BaseModel):
    model_config = _STRICT
    alert_id: str
    kind: str = Field(examples=["handover_gap", "agent_auto_away", "long_wait"])
    raised_at: float
    open: bool
    closed_at: float | None
    acknowledged_by: str | None
    acknowledged_at: float | None
    details: dict[str, Any]


class EscalationStep(BaseModel):
    model_config = _STRICT
    step: str
    required: bool
    ticked_by: str | None
    ticked_at: float | None


class EscalationLevelAlerted(BaseModel):
    model_config = _STRICT
    at: float
    to: list[str] = Field(description="the teams whose supervisors this level alerted")


class LegalHoldView(BaseModel):
    model_config = _STRICT
    requested_at: float
    acknowledged_at: float | None


class EscalationView(BaseModel):
    """An open escalation (duty to avert): codes and staff ids only, never caller identity."""

    model_config = _STRICT
    escalation_id: str
    alert_id: str | None = Field(description="its latest alert: acknowledge this one")
    contact_id: str
    channel: str
    queue: str
    team: str
    agent_id: str | None
    flag: str
    category: str | None
    raised_at: float
    raised_by: str
    level: int
    levels: int
    alerted: list[EscalationLevelAlerted]
    on_duty: str
    acknowledged_by: str | None
    acknowledged_at: float | None
    checklist: list[EscalationStep]
    legal_hold: LegalHoldView | None


class TodayChannel(BaseModel):
    model_config = _STRICT
    contacts: int
    answered: int
    rejected_closed: int
    unanswered: Unanswered  # type: ignore[valid-type]
    answer_rate: float | None
    answer_rate_excl_short: float | None
    service_level: float | None
    service_level_s: float
    avg_wait_answered_s: float | None
    by_hour: ByHour  # type: ignore[valid-type]


class TodayView(BaseModel):
    model_config = _STRICT
    date: str
    channels: dict[str, TodayChannel]


class Totals(BaseModel):
    model_config = _STRICT
    arrived: int
    ended: int
    waiting: int
    offered: int
    in_service: int


class StateResponse(BaseModel):
    """The supervisor's live state (docs/ROUTING.md "In the live service").

    ``now`` is the core's last step (null before its first); every duration
    "until now" is measured to ``server_time``, the service's clock."""

    model_config = _STRICT
    helpline: str
    now: float | None
    local_time: str | None = None
    holiday: str | None = None
    queues: list[QueueView]
    agents: list[AgentView]
    alerts: list[AlertView]
    escalations: list[EscalationView] = []
    today: TodayView
    totals: Totals
    server_time: float
    clock_speed: float
    timezone: str
    last_command_seq: int
    cluster: dict[str, Any] | None = Field(default=None, description="a Redis node's view")


# ------------------------------------------------------------------- stats
class Feedback(BaseModel):
    model_config = _STRICT
    count: int
    average: float | None
    ratings: dict[str, int]


class GapBoundary(BaseModel):
    model_config = _STRICT
    weekday: str
    boundary: str
    count: int
    minutes: float


class Gaps(BaseModel):
    model_config = _STRICT
    count: int
    minutes: float
    by_boundary: list[GapBoundary]


class AgentNoAnswer(BaseModel):
    model_config = _STRICT
    team: str
    no_answer: int
    declined: int


_group_keys: dict[str, Any] = {k: (KeyValue, None) for k in GROUP_KEYS}
_GroupKeys: type[BaseModel] = create_model("StatsGroupKeys", __config__=_STRICT, **_group_keys)


class StatsGroup(_GroupKeys):
    """One group's figures; the keys named in ``group_by`` come first."""

    contacts: int
    answered: int
    rejected_closed: int
    turned_away: int = Field(
        description="turned away by the PBX or carrier itself (queue full, caller diverted); "
        "outside the answer rate, as rejected_closed"
    )
    turned_away_reasons: TurnedAwayReasons  # type: ignore[valid-type]
    unanswered: Unanswered  # type: ignore[valid-type]
    unanswered_total: int
    other_reasons: OtherReasons  # type: ignore[valid-type]
    answer_rate: float | None
    answer_rate_excl_short: float | None
    service_level: dict[str, float | None]
    service_level_excl_short: dict[str, float | None]
    wait_answered_avg_s: float | None
    wait_answered_p90_s: float | None
    wait_max_s: float | None
    handle_avg_s: float | None
    rejected_closed_by_hour: Annotated[list[int], Field(min_length=24, max_length=24)]
    feedback: Feedback
    gaps: Gaps
    no_answer_by_agent: dict[str, AgentNoAnswer]


class StatsResponse(BaseModel):
    """Statistics folded from the log, and the parameters used."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    group_by: list[Literal[GROUP_KEYS]]  # type: ignore[valid-type]
    from_: float | None = Field(alias="from")
    to: float | None
    service_level_s: list[float]
    short_abandon_s: float
    groups: list[StatsGroup]
