"""Scenario files: what a planner describes, validated (pydantic) at the edge.

A scenario names the routing configuration to test (``routing``, a path
relative to the scenario file), the horizon, where contacts come from
(``arrivals``), how callers and agents behave (``callers``, ``teams``) and who
is logged in when (``rota``, ``absences``). ``load_scenario`` reads it, loads
the routing configuration with any ``routing_overrides`` applied, checks that
the two agree, and raises ``ConfigError`` naming the file, the key and the
reason on the first problem.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.config_file import load_model, validate_model
from router.config import CLOSED, HelplineConfig, LocalWindow, Weekday, local_minutes
from router.errors import ConfigError
from sim.distributions import Dist, Exponential, Fixed, Patience

__all__ = [
    "Absence",
    "Arrivals",
    "BehaviourPeriod",
    "Callers",
    "Campaign",
    "ChannelVolume",
    "LoadedScenario",
    "Observed",
    "Replay",
    "RotaEntry",
    "RoutingOverrides",
    "Scenario",
    "TeamBehaviour",
    "apply_overrides",
    "load_scenario",
    "parse_hours",
]

Channel = Literal["phone", "chat"]
ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = r"^[a-z][a-z0-9_]{0,39}$"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_hours(value: str) -> tuple[str, str]:
    """``"09:00-20:00"`` -> ("09:00", "20:00"); the window must not be empty."""
    parts = value.split("-")
    if len(parts) != 2:
        raise ValueError(f"opening hours must look like 09:00-20:00 (got {value!r})")
    start, end = (p.strip() for p in parts)
    if local_minutes(start) >= local_minutes(end):
        raise ValueError(f"opening hours must end after they start (got {value!r})")
    return start, end


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Campaign(_Strict):
    """Days on which demand is multiplied (a TV appearance, a yearly campaign)."""

    name: str = ""
    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")  # inclusive
    multiplier: float = Field(gt=0, allow_inf_nan=False)
    channels: tuple[Channel, ...] = ("phone", "chat")

    @model_validator(mode="after")
    def _order(self) -> Campaign:
        if self.end < self.start:
            raise ValueError("to is before from")
        return self


class ChannelVolume(_Strict):
    """A volume profile: totals per month, spread by weekday and hour-of-day weights."""

    queue: str | None = None  # default: the queue named like the channel
    monthly: dict[str, float] = Field(min_length=1)  # "YYYY-MM" -> contacts
    weekday: tuple[float, ...] = (1.0,) * 7  # mon..sun
    hour: tuple[float, ...] = (1.0,) * 24  # 00-01 .. 23-24 local time
    # Contacts can only start while the queue is open (a chat widget is hidden
    # when the chat is closed), so the month's total is spread over open hours.
    only_when_open: bool = False

    @field_validator("monthly")
    @classmethod
    def _months(cls, v: dict[str, float]) -> dict[str, float]:
        for month, total in v.items():
            if not _MONTH.match(month):
                raise ValueError(f"month {month!r} must be written YYYY-MM")
            if not total >= 0 or total == float("inf"):
                raise ValueError(f"{month}: the total must be a number >= 0 (got {total})")
        return v

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _weights(v, 7, "weekday")

    @field_validator("hour")
    @classmethod
    def _hour(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _weights(v, 24, "hour")


def _weights(v: tuple[float, ...], n: int, what: str) -> tuple[float, ...]:
    if len(v) != n:
        raise ValueError(f"{what} needs {n} weights (got {len(v)})")
    if any(not (w >= 0) or w == float("inf") for w in v) or not any(w > 0 for w in v):
        raise ValueError(f"{what} weights must be >= 0 and not all zero")
    return v


class Replay(_Strict):
    """Exact arrival times from a recorded log.

    ``format``: ``linje`` (a Linje data directory's event log), ``jsonl``
    (one event per line as ``event_to_dict`` writes it) or ``csv`` (an
    imported carrier call log with columns ``arrived_at`` and ``channel``,
    optionally ``queue``; other columns are ignored, so a number in the
    carrier's export never enters the simulator).
    """

    file: str
    format: Literal["linje", "jsonl", "csv"] | None = None  # default: from the file name


class Arrivals(_Strict):
    count: Literal["poisson", "exact"] = "poisson"
    # A month's total already contains its campaign days (a historical log),
    # so campaigns only move contacts within the month. False: campaigns add.
    totals_include_campaigns: bool = True
    phone: ChannelVolume | None = None
    chat: ChannelVolume | None = None
    campaigns: tuple[Campaign, ...] = ()
    replay: Replay | None = None

    @model_validator(mode="after")
    def _source(self) -> Arrivals:
        profiles = self.phone is not None or self.chat is not None
        if self.replay is not None and profiles:
            raise ValueError("give either a replay or volume profiles (phone, chat), not both")
        if self.replay is None and not profiles:
            raise ValueError("no arrivals: give a replay or a volume profile (phone, chat)")
        return self


class Callers(_Strict):
    """Caller (or chat visitor) behaviour on one channel."""

    patience: Patience
    handle: Dist
    # Chat visitors who give up often just close the tab: the vendor only
    # notices after an inactivity timeout, and an agent who accepts the chat
    # first finds nobody there (silent abandonment).
    silent_share: float = Field(0.0, ge=0, le=1)
    silent_detect_s: float = Field(600.0, gt=0, allow_inf_nan=False)
    silent_handle: Dist = Fixed(dist="fixed", value=60.0)


class BehaviourPeriod(_Strict):
    """Dates on which some of a team's behaviour differs (say, more funded hours)."""

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")  # inclusive
    no_pickup_share: float | None = Field(None, ge=0, lt=1)
    away_share: float | None = Field(None, ge=0, le=0.95)

    @model_validator(mode="after")
    def _order(self) -> BehaviourPeriod:
        if self.end < self.start:
            raise ValueError("to is before from")
        return self


class TeamBehaviour(_Strict):
    """How a team's agents answer."""

    # Time from the first ring (or chat push) to the pick-up, per channel.
    reach: dict[Channel, Dist] = Field(default_factory=dict)
    # Share of rings an agent lets ring out (busy elsewhere, away from the phone).
    no_pickup_share: float = Field(0.0, ge=0, lt=1)
    # Share of logged-in time spent away on other duties, in spells of this mean length.
    away_share: float = Field(0.0, ge=0, le=0.95)
    away_mean_s: float = Field(1800.0, gt=0, allow_inf_nan=False)
    # After the core auto-pauses an agent (max_no_answer), time until they are back.
    auto_away_return: Dist = Exponential(dist="exponential", mean=300.0)
    # Share of shift starts at which an agent logs in late, and by how much.
    late_login_share: float = Field(0.0, ge=0, le=1)
    late_login: Dist = Fixed(dist="fixed", value=0.0)
    # Overrides of no_pickup_share / away_share on some dates; they must not overlap.
    periods: tuple[BehaviourPeriod, ...] = ()

    @model_validator(mode="after")
    def _periods(self) -> TeamBehaviour:
        spans = sorted((p.start, p.end) for p in self.periods)
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start <= end:
                raise ValueError(f"periods overlap (one starting {start} begins before one ends)")
        return self


class RotaEntry(LocalWindow):
    """``agents`` of ``team`` logged in on ``channels`` in a local time window.

    Entries add up: two entries covering the same hour for the same team and
    channels mean the sum of their agents. The window (days, start, end,
    holidays, validity dates) means what a coverage rule's window means.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    team: str = Field(pattern=_NAME)
    channels: tuple[Channel, ...] = Field(min_length=1)
    agents: int = Field(ge=0, le=500)
    # A stand-in: the entry only applies on dates on which this team is absent.
    when_absent: str | None = Field(None, pattern=_NAME)

    @model_validator(mode="after")
    def _channels(self) -> RotaEntry:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        return self


class Absence(_Strict):
    """A team away (vacation, sickness) on these local dates, inclusive.

    The simulator declares it to the core (``team.absent``, so the coverage
    plan hands the team's windows to its fallback) and logs nobody of the
    team in meanwhile.
    """

    team: str = Field(pattern=_NAME)
    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    reason: str = ""

    @model_validator(mode="after")
    def _order(self) -> Absence:
        if self.end < self.start:
            raise ValueError("to is before from")
        return self


class RoutingOverrides(_Strict):
    """Changes to the routing configuration to try, without editing it."""

    chat_capacity: int | None = Field(None, ge=1, le=20)
    # Chat open these local hours every day, owned by whoever owns the phone.
    chat_hours: str | None = None

    @field_validator("chat_hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is not None:
            parse_hours(v)
        return v


class Observed(_Strict):
    """Recorded figures to show beside the simulated ones (never used to drive a run)."""

    source: str = ""
    channel: Channel | Literal["all"] = "all"
    answer_rate: float | None = Field(None, ge=0, le=1)
    # Share of the unanswered contacts in each class (router.records.UNANSWERED_CLASSES).
    unanswered_shares: dict[
        Literal["missing_data", "no_agent", "short_abandon", "agents_busy", "other"], float
    ] = Field(default_factory=dict)
    # Why a simulated class may differ from the recorded one, printed under the comparison.
    notes: dict[
        Literal["missing_data", "no_agent", "short_abandon", "agents_busy", "other"], str
    ] = Field(default_factory=dict)


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    routing: str  # the helpline configuration, relative to this file
    start: dt.date
    end: dt.date  # inclusive
    seed: int = 1
    routing_overrides: RoutingOverrides = RoutingOverrides()
    arrivals: Arrivals
    callers: dict[Channel, Callers]
    teams: dict[str, TeamBehaviour] = Field(default_factory=dict)
    rota: tuple[RotaEntry, ...] = ()
    absences: tuple[Absence, ...] = ()
    observed: Observed | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.end < self.start:
            raise ValueError("end is before start")
        for name in self.teams:
            if not re.match(_NAME, name):
                raise ValueError(f"teams: {name!r} is not a team name")
        return self


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    """A scenario with its routing configuration loaded and checked against it."""

    scenario: Scenario
    config: HelplineConfig
    path: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


def apply_overrides(data: dict[str, Any], overrides: RoutingOverrides) -> dict[str, Any]:
    """The routing configuration's raw mapping with ``overrides`` applied (a copy)."""
    out = {**data}
    if overrides.chat_capacity is not None:
        channels = {k: dict(v) for k, v in out.get("channels", {}).items()}
        channels.setdefault("chat", {})["capacity"] = overrides.chat_capacity
        out["channels"] = channels
    if overrides.chat_hours is not None:
        start, end = parse_hours(overrides.chat_hours)
        queues = {k: dict(v) for k, v in out.get("queues", {}).items()}
        phone = next((q for q in queues.values() if q.get("channel") == "phone"), None)
        rules: list[dict[str, Any]] = []
        if (start, end) != ("00:00", "24:00"):
            # Closed outside the window (a window crossing midnight when needed).
            rules.append(
                {"team": CLOSED, "start": "00:00" if end == "24:00" else end, "end": start}
            )
        rules += list(phone.get("rules", [])) if phone else []
        for q in queues.values():
            if q.get("channel") == "chat":
                q["rules"] = rules
                q["default"] = phone.get("default", CLOSED) if phone else CLOSED
        out["queues"] = queues
    return out


def load_scenario(path: str | Path, *, overrides: RoutingOverrides | None = None) -> LoadedScenario:
    """Read and check a scenario file and the routing configuration it names."""
    path = Path(path)
    scenario = load_model(Scenario, path)
    routing_path = (path.parent / scenario.routing).resolve()
    try:
        raw = tomllib.loads(routing_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the routing configuration {scenario.routing!r} ({exc.strerror})",
            file=str(path),
            key="routing",
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(routing_path)) from None
    merged = scenario.routing_overrides
    if overrides is not None:
        merged = merged.model_copy(update=overrides.model_dump(exclude_none=True))
    config = validate_model(HelplineConfig, apply_overrides(raw, merged), file=str(routing_path))
    loaded = LoadedScenario(
        scenario=scenario.model_copy(update={"routing_overrides": merged}), config=config, path=path
    )
    check_scenario(loaded)
    return loaded


def check_scenario(loaded: LoadedScenario) -> None:
    """Cross-checks between a scenario and its routing configuration."""
    s, cfg = loaded.scenario, loaded.config
    file = str(loaded.path) if loaded.path else "(scenario)"

    def fail(key: str, reason: str) -> None:
        raise ConfigError(reason, file=file, key=key)

    for ch in ("phone", "chat"):
        vol: ChannelVolume | None = getattr(s.arrivals, ch)
        if vol is None:
            continue
        queue = vol.queue or ch
        q = cfg.queues.get(queue)
        if q is None:
            fail(f"arrivals.{ch}.queue", f"the routing configuration has no queue {queue!r}")
        elif q.channel != ch:
            fail(f"arrivals.{ch}.queue", f"queue {queue!r} takes {q.channel} contacts, not {ch}")
        if ch not in s.callers:
            fail("callers", f"arrivals come in on {ch} but callers.{ch} is not described")
    for name in s.teams:
        if name not in cfg.teams:
            fail(f"teams.{name}", "the routing configuration has no such team")
    for i, entry in enumerate(s.rota):
        if entry.team not in cfg.teams:
            fail(f"rota[{i}].team", f"the routing configuration has no team {entry.team!r}")
        for ch in entry.channels:
            if ch not in cfg.channels:
                fail(f"rota[{i}].channels", f"channel {ch!r} is not configured for routing")
        if entry.when_absent is not None and entry.when_absent not in cfg.teams:
            fail(
                f"rota[{i}].when_absent",
                f"the routing configuration has no team {entry.when_absent!r}",
            )
    for i, absence in enumerate(s.absences):
        if absence.team not in cfg.teams:
            fail(f"absences[{i}].team", f"the routing configuration has no team {absence.team!r}")
