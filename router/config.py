"""The helpline's configuration, validated (pydantic) into immutable models.

Reading the TOML file is the edge's job (``adapters.config_file``); this
module only validates a mapping, so the core stays free of I/O. Every error
names the key path and the reason; the loader adds the file name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from router.forms import ContentConfig, Form

__all__ = [
    "CLOSED",
    "WEEKDAYS",
    "ChannelConfig",
    "ConfigProblems",
    "CoverageRule",
    "HelplineConfig",
    "LocalWindow",
    "QueueConfig",
    "TeamConfig",
    "Weekday",
    "dotted",
    "local_minutes",
]
__all__ += ["ChecklistStep", "EscalationConfig", "EscalationLevel", "FlagKind", "LabelledCode"]

CLOSED = "closed"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Strategy = Literal["ring_all", "longest_idle", "round_robin", "least_busy"]
# decide: Linje offers, rings and times out (it is the router); observe: the
# carrier or PBX routes by itself and adapters report what it did.
Routing = Literal["decide", "observe"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AgentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$")]


class ConfigProblems(ValueError):
    """Every cross-reference problem of a configuration at once: (key path, reason) pairs."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{dotted(loc)}: {why}" for loc, why in self.problems))


def dotted(loc: tuple[str | int, ...]) -> str:
    """A key path as written in messages: ``queues.phone.rules[0].team``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def local_minutes(value: str) -> int:
    """Minutes after local midnight of an ``HH:MM`` time (``24:00`` is 1440)."""
    if not _HHMM.match(value):
        raise ValueError(f"must be a local time HH:MM (got {value!r})")
    h, m = value.split(":")
    return int(h) * 60 + int(m)


class ChannelConfig(_Strict):
    """Per channel: how many contacts an agent holds, ring time, wrap-up."""

    capacity: int = Field(1, ge=1, le=20)
    # 20 s: about four rings, what carriers and Asterisk (timeout=15..30) use.
    ring_timeout_s: float = Field(20.0, gt=0, le=600)
    wrap_up_s: float = Field(0.0, ge=0, le=3600)


class TeamConfig(_Strict):
    name: str = ""
    # Teams that take over when this one has nobody logged in or is absent.
    fallback: tuple[Name, ...] = ()


class LocalWindow(_Strict):
    """A weekly window of local time: ``days`` between ``start`` and ``end``.

    ``end`` at or before ``start`` means the window crosses midnight; the part
    after midnight belongs to the day the window started. ``holidays`` says
    whether it applies on public holidays (``exclude``: not on them,
    ``include``: also on them, ``only``: just on them); ``valid_from`` and
    ``valid_to`` (inclusive) bound the dates. Shared by the coverage plan and
    the simulator's rotas.
    """

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    start: str = "00:00"
    end: str = "24:00"
    holidays: Literal["exclude", "include", "only"] = "include"
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None  # inclusive

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        local_minutes(v)
        return v

    @model_validator(mode="after")
    def _window(self) -> Self:
        if local_minutes(self.start) == 24 * 60:
            raise ValueError("start must be before 24:00")
        if not self.days:
            raise ValueError("days must name at least one weekday")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @property
    def start_min(self) -> int:
        return local_minutes(self.start)

    @property
    def end_min(self) -> int:
        return local_minutes(self.end)


class CoverageRule(LocalWindow):
    """``team`` (or ``closed``) owns the queue in this window.

    Rules are tried in order; the first that matches wins, else the queue's
    ``default``.
    """

    team: Name


class QueueConfig(_Strict):
    channel: Literal["phone", "chat"]
    strategy: Strategy | None = None  # default: ring_all for phone, least_busy for chat
    default: str = CLOSED  # owner when no rule matches: a team or "closed"
    rules: tuple[CoverageRule, ...] = ()
    fallback: bool = True
    # Minutes after a boundary at which an incoming team with nobody logged in
    # raises a handover_gap alert even if no contact is waiting.
    grace_min: float = Field(5.0, ge=0, le=240)
    # A contact waiting this long raises a long_wait alert for supervisors.
    long_wait_s: float = Field(120.0, gt=0)
    routing: Routing = "decide"
    # Agents who belong to this queue (empty: every agent of the teams that
    # serve it); agent.joined_queue / agent.left_queue add and remove members.
    members: tuple[AgentId, ...] = ()

    @property
    def effective_strategy(self) -> str:
        return self.strategy or ("ring_all" if self.channel == "phone" else "least_busy")


class AgentPolicy(_Strict):
    # After this many unanswered offers in a row the agent is set away
    # (Asterisk autopause, mod_callcenter max-no-answer). 0 disables.
    max_no_answer: int = Field(3, ge=0, le=100)
    # An agent who let a contact ring out or declined it is not rung for that
    # same contact again for this long (Asterisk queues.conf retry=5).
    retry_s: float = Field(5.0, ge=0, le=600)
    # A pick-up reported this soon after the router timed the offer out is
    # still accepted: the carrier and the router race at the ring timeout.
    late_answer_s: float = Field(2.0, ge=0, le=30)
    # A busy phone blocks new chats for that agent.
    phone_blocks_chat: bool = True


class LabelledCode(_Strict):
    """A code the core stores, with the words the dashboard shows (Bokmål and English)."""

    code: Name
    nb: str = Field("", max_length=200)
    en: str = Field("", max_length=200)


class FlagKind(_Strict):
    """A kind of flag on a contact (``duty_to_avert``): it raises an escalation."""

    nb: str = Field("", max_length=200)
    en: str = Field("", max_length=200)
    categories: tuple[LabelledCode, ...] = ()  # the codes a flag of this kind may carry
    legal_hold: bool = False  # ask the channel's vendor to preserve its own trace


class EscalationLevel(_Strict):
    """One level of the escalation chain: whom it alerts, how long it waits for an ack.

    ``team`` is a configured team, ``owner`` (the team that owned the contact) or
    ``all`` (every supervisor).
    """

    role: Literal["supervisor"] = "supervisor"
    team: str = Field("owner", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    ack_timeout_s: float = Field(300.0, gt=0, le=86400)
    nb: str = Field("", max_length=200)
    en: str = Field("", max_length=200)


class ChecklistStep(LabelledCode):
    """One step of the handbook's procedure; the escalation closes once every required
    step is ticked."""

    required: bool = True


class EscalationConfig(_Strict):
    """Flags, the escalation chain, the procedure checklist and close reasons."""

    # A flag is accepted during a contact and up to this long after it ended.
    raise_window_s: float = Field(3600.0, ge=0)
    flags: dict[Name, FlagKind] = Field(
        default_factory=lambda: {
            "duty_to_avert": FlagKind(en="Duty to avert", nb="Avvergelsesplikt", legal_hold=True)
        }
    )
    chain: tuple[EscalationLevel, ...] = (EscalationLevel(team="all"),)
    checklist: tuple[ChecklistStep, ...] = ()
    close_reasons: tuple[LabelledCode, ...] = (
        LabelledCode(code="resolved", en="Resolved", nb="Løst"),
    )

    @model_validator(mode="after")
    def _codes(self) -> Self:
        if not self.chain:
            raise ValueError("chain: at least one level is needed")
        for what, items in (
            ("checklist", self.checklist),
            ("close_reasons", self.close_reasons),
            *((f"flags.{k}.categories", f.categories) for k, f in self.flags.items()),
        ):
            codes = [i.code for i in items]
            if len(set(codes)) != len(codes):
                raise ValueError(f"{what}: a code is listed twice")
        if not self.close_reasons:
            raise ValueError("close_reasons: at least one reason is needed")
        if any(r.code == "checklist_complete" for r in self.close_reasons):
            raise ValueError("close_reasons: checklist_complete is reserved (the last step ticked)")
        return self

    def level_team_problems(self, teams: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
        return [
            (("escalations", "chain", i, "team"), f"unknown team {lv.team!r}")
            for i, lv in enumerate(self.chain)
            if lv.team not in ("owner", "all") and lv.team not in teams
        ]


class HelplineConfig(_Strict):
    """Everything the core needs to route one helpline (tenant)."""

    id: Name
    name: str = ""
    timezone: str = "Europe/Oslo"
    holidays_country: str | None = "NO"
    holidays_subdivision: str | None = None
    # The seed counts callers who left within 10 s as their own class.
    short_abandon_s: float = Field(10.0, ge=0)
    # Service level: share answered within these waits (20 s is the industry's 80/20 rule).
    service_level_s: tuple[float, ...] = (20.0, 60.0)
    # Events may arrive this much out of order (clock skew between adapters).
    clock_tolerance_s: float = Field(2.0, ge=0, le=300)
    # An adapter's event may be stamped at most this far ahead of the service's
    # own clock (a clock running a little fast); further is refused. Kept below
    # the tolerance so that an event from a fast clock, accepted, can never put
    # the helpline's time so far ahead that the others' events are refused.
    future_skew_s: float = Field(1.0, ge=0, le=300)
    dedup_window_s: float = Field(86400.0, gt=0)
    ended_retention_s: float = Field(86400.0, gt=0)
    # A contact still waiting with no news this long is closed as missing_data;
    # one in service this long is ended and flagged end_reconciled.
    reconcile_wait_s: float = Field(3600.0, gt=0)
    reconcile_service_s: float = Field(6 * 3600.0, gt=0)
    channels: dict[Literal["phone", "chat"], ChannelConfig] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "phone": ChannelConfig(),
            "chat": ChannelConfig(capacity=3, ring_timeout_s=60.0),
        }
    )
    teams: dict[Name, TeamConfig]
    queues: dict[Name, QueueConfig]
    agents: AgentPolicy = AgentPolicy()
    escalations: EscalationConfig = EscalationConfig()
    # Content registration (router.forms): the forms are read from config/forms/ by the loader.
    content: ContentConfig = ContentConfig()
    forms: tuple[Form, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _skew(self) -> HelplineConfig:
        if self.future_skew_s > self.clock_tolerance_s:
            raise ValueError(
                "future_skew_s: must not exceed clock_tolerance_s (an event from a fast "
                "clock would make the others' events look late)"
            )
        return self

    @model_validator(mode="after")
    def _refs(self) -> HelplineConfig:
        problems: list[tuple[tuple[str | int, ...], str]] = []

        def bad(*loc: str | int, why: str) -> None:
            problems.append((loc, why))

        if not self.teams:
            bad("teams", why="at least one team is needed")
        if not self.queues:
            bad("queues", why="at least one queue is needed")
        if CLOSED in self.teams:
            bad("teams", CLOSED, why=f"{CLOSED!r} is reserved for a closed queue")
        for name, team in self.teams.items():
            for i, fb in enumerate(team.fallback):
                if fb not in self.teams:
                    bad("teams", name, "fallback", i, why=f"unknown team {fb!r}")
                if fb == name:
                    bad("teams", name, "fallback", i, why="a team cannot fall back to itself")
        for qname, q in self.queues.items():
            if q.default != CLOSED and q.default not in self.teams:
                bad("queues", qname, "default", why=f"unknown team {q.default!r}")
            for i, rule in enumerate(q.rules):
                if rule.team != CLOSED and rule.team not in self.teams:
                    bad("queues", qname, "rules", i, "team", why=f"unknown team {rule.team!r}")
            if q.channel not in self.channels:
                bad("queues", qname, "channel", why=f"channel {q.channel!r} not configured")
        problems += self.escalations.level_team_problems(set(self.teams))
        if self.escalations.raise_window_s > self.ended_retention_s:
            bad(
                "escalations",
                "raise_window_s",
                why="must not exceed ended_retention_s (an ended contact is forgotten then)",
            )
        for i, form in enumerate(self.forms):
            if form.channel not in self.channels:
                bad("forms", i, "channel", why=f"channel {form.channel!r} not configured")
            if any(f.channel == form.channel for f in self.forms[:i]):
                bad("forms", i, "channel", why=f"a second form for {form.channel}")
        if self.holidays_country is not None:
            try:
                holidays.country_holidays(
                    self.holidays_country, subdiv=self.holidays_subdivision, years=2020
                )
            except NotImplementedError:
                bad(
                    "holidays_country",
                    why=f"no public holidays known for {self.holidays_country!r}",
                )
        if problems:
            raise ConfigProblems(problems)
        return self

    def channel(self, name: str) -> ChannelConfig:
        return self.channels[name]  # type: ignore[index]

    def form_for(self, channel: str) -> Form | None:
        """The content registration form of ``channel``, if the helpline has one."""
        return next((f for f in self.forms if f.channel == channel), None)
