"""What every log importer shares: the feeder, the summary, name mappings.

An importer turns a vendor's historical log into Linje events and feeds them
to the store the way a live adapter would: in time order, one source line at a
time, watching the commands that come back. The router makes its own routing
decisions (offers, ring timeouts), so the importer keeps the router's view
consistent with what the vendor log says happened: an agent who picked up a
call must be logged in and ready at that moment, an agent removed from the
queue mid-call is logged out when the call ends. An event the router refuses
is counted per reason in the summary; it never aborts the import.
"""

from __future__ import annotations

import fnmatch
import gzip
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from router import Router
from router.commands import Alert, Command, Reject, command_from_dict
from router.config import HelplineConfig
from router.errors import BadInput, LinjeError
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactTurnedAway,
    Event,
)
from router.records import Record
from router.step import ACCEPTED, DUPLICATE, REFUSED

__all__ = [
    "MAX_PROBLEMS_SHOWN",
    "DryRunSink",
    "Feeder",
    "ImportSummary",
    "Sink",
    "TeamMap",
    "parse_queue_map",
    "parse_team_map",
    "queue_label",
    "read_lines",
    "safe_id",
]

MAX_PROBLEMS_SHOWN = 50
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@-]")


_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")


def queue_label(raw: str) -> str:
    """How a report names a vendor's queue: by its name if that is a plain name,
    else without it (a malformed field may hold a caller's number)."""
    return f"queue {raw!r}" if _LABEL.match(raw) and not re.search(r"\d{5}", raw) else "a queue"


def read_lines(path: str) -> list[str]:
    """A text file's lines, gunzipped first if it is gzip (``queue_log.1.gz``).

    Raises ``OSError`` as ``open`` does; bytes that are not UTF-8 become U+FFFD.
    """
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            return list(fh.readlines())
    except (EOFError, gzip.BadGzipFile) as exc:
        raise OSError(f"{path}: not a complete gzip file") from exc


def safe_id(raw: str, *, prefix: str = "") -> str:
    """An identifier the core accepts, from a vendor's name (``SIP/1001`` -> ``SIP-1001``)."""
    out = prefix + _UNSAFE.sub("-", raw.strip())
    if not out or not out[0].isalnum():
        out = "x" + out
    return out[:80]


class Sink(Protocol):
    """Where events go: ``EmbeddedStore`` (``ingest``), or a router for a dry run."""

    def ingest(self, events: list[Event]) -> list[Any]: ...

    def tick(self, now: float) -> list[Command]: ...


@dataclass(slots=True)
class _Result:
    status: str
    commands: list[Command]
    error: LinjeError | None = None


# A step's status as the embedded store answers it (``IngestResult.status``).
_STATUS = {ACCEPTED: "accepted", DUPLICATE: "duplicate", REFUSED: "rejected"}


class DryRunSink:
    """Feeds a fresh in-memory router: checks a file without writing anything."""

    def __init__(self, config: HelplineConfig) -> None:
        self.router = Router(config)
        self.records: list[Record] = []

    def ingest(self, events: list[Event]) -> list[Any]:
        out: list[Any] = []
        for ev in events:
            step = self.router.apply(ev)
            self.records += step.records
            out.append(_Result(_STATUS[step.status], step.commands, step.error))
        return out

    def tick(self, now: float) -> list[Command]:
        step = self.router.advance(now)
        self.records += step.records
        return step.commands


def _commands(result: Any) -> list[Command]:
    cmds = getattr(result, "commands", None) or []
    return [command_from_dict(c) if isinstance(c, dict) else c for c in cmds]


def _error(result: Any) -> tuple[str, str]:
    err = getattr(result, "error", None)
    if isinstance(err, LinjeError):
        return err.code, err.detail
    if isinstance(err, dict):
        return str(err.get("code", "refused")), str(err.get("detail", ""))
    return "refused", str(err or "")


def parse_queue_map(specs: Sequence[str], config: HelplineConfig) -> dict[str, str]:
    """``QUEUENAME=linjequeue[,...]`` options into a dict; unknown Linje queues are refused."""
    out: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            src, sep, dst = part.partition("=")
            if not sep or not src or not dst:
                raise BadInput(f"--queue-map: expected QUEUENAME=linjequeue, got {part!r}")
            if dst not in config.queues:
                raise BadInput(
                    f"--queue-map: {dst!r} is not a queue of helpline {config.id} "
                    f"(queues: {', '.join(config.queues)})"
                )
            out[src] = dst
    return out


@dataclass(frozen=True, slots=True)
class TeamMap:
    """Agent name pattern (shell-style, e.g. ``SIP/1*``) -> team; first match wins.

    Without patterns or a default, ``TEAM-*`` maps to each configured team.
    """

    rules: tuple[tuple[str, str], ...]
    default: str | None

    def team(self, agent: str) -> str | None:
        for pattern, team in self.rules:
            if fnmatch.fnmatchcase(agent, pattern):
                return team
        return self.default


def parse_team_map(specs: Sequence[str], default: str | None, config: HelplineConfig) -> TeamMap:
    rules: list[tuple[str, str]] = []
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            pattern, sep, team = part.rpartition("=")
            if not sep or not pattern or not team:
                raise BadInput(f"--agent-team: expected AGENTPATTERN=team, got {part!r}")
            rules.append((pattern, team))
    for team in [t for _, t in rules] + ([default] if default else []):
        if team not in config.teams:
            raise BadInput(
                f"unknown team {team!r} for helpline {config.id} (teams: {', '.join(config.teams)})"
            )
    if not rules and default is None:
        # Without a mapping, agents named after their team (``kss-anne``) are understood.
        rules = [(f"{team}-*", team) for team in config.teams]
    return TeamMap(rules=tuple(rules), default=default)


@dataclass(slots=True)
class ImportSummary:
    """What happened to every line of the source; printed one line per category."""

    source: str
    lines_read: int = 0
    converted: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    # Calls the vendor itself classed (closed line, turned away, empty queue).
    classes: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    before_log: int = 0  # lines about calls whose start is not in the file
    refused: Counter[str] = field(default_factory=Counter)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    still_open: int = 0

    def skip(self, line: int, reason: str) -> None:
        self.skipped.append((line, reason))

    def warn(self, line: int, reason: str) -> None:
        """A line used as it stands, though something about it is doubtful."""
        self.warnings.append((line, reason))

    def problems(self) -> list[str]:
        """Skipped and refused lines, by line number (the first ``MAX_PROBLEMS_SHOWN``)."""
        rows = sorted(
            [(n, f"line {n}: skipped: {why}") for n, why in self.skipped]
            + [(n, f"line {n}: warning: {why}") for n, why in self.warnings]
            + [(n, f"line {n}: refused by the router: {why}") for n, why in self.refusals]
        )
        out = [text for _, text in rows[:MAX_PROBLEMS_SHOWN]]
        if len(rows) > MAX_PROBLEMS_SHOWN:
            out.append(f"... and {len(rows) - MAX_PROBLEMS_SHOWN} more")
        return out

    def lines(self) -> list[str]:
        def detail(c: Counter[str]) -> str:
            return f" ({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})" if c else ""

        skipped_at = ", ".join(str(n) for n, _ in self.skipped[:20])
        more = ", ..." if len(self.skipped) > 20 else ""
        return [
            f"lines read: {self.lines_read}",
            f"events converted: {sum(self.converted.values())}{detail(self.converted)}",
            f"events added for consistency: {sum(self.added.values())}{detail(self.added)}",
            f"lines skipped as malformed: {len(self.skipped)}"
            + (f" (lines {skipped_at}{more})" if self.skipped else ""),
            f"lines without routing meaning: {sum(self.ignored.values())}{detail(self.ignored)}",
            f"unknown events: {sum(self.unknown.values())}{detail(self.unknown)}",
            f"lines for unmapped queues or agents: {sum(self.unmapped.values())}"
            f"{detail(self.unmapped)}",
            f"lines about calls that began before the file: {self.before_log}",
            f"events refused by the router: {sum(self.refused.values())}{detail(self.refused)}",
            f"lines with a warning: {len(self.warnings)}",
            f"calls the vendor classed: {sum(self.classes.values())}{detail(self.classes)}",
            f"events already in the log (duplicates): {self.duplicates}",
            f"calls without an end in the file: {self.still_open}",
        ]


class Feeder:
    """Feeds events to a sink one source line at a time, tracking the adapter's view.

    The view (who is logged in on which channels, away, busy with which
    contacts) comes from the events accepted and the commands returned
    (``agent_auto_away`` alerts, closed-line rejections), exactly what a live
    adapter would know.
    """

    def __init__(
        self, sink: Sink, config: HelplineConfig, summary: ImportSummary, *, source: str
    ) -> None:
        self.sink = sink
        self.config = config
        self.summary = summary
        self.source = source
        self.logged: dict[str, tuple[str, frozenset[str]]] = {}  # agent -> (team, channels)
        self.away: set[str] = set()
        self.busy: dict[str, set[str]] = {}
        self.open: set[str] = set()
        self._served_by: dict[str, str] = {}
        self._pending_logout: dict[str, str] = {}  # agent -> event id to use
        # Agents logged in only because the log shows them ringing or answering
        # (no ADDMEMBER, no login, no pause): in observed queues they count as
        # logged in only while they ring or talk, never ever after.
        self.implied: set[str] = set()
        self.rejected: set[str] = set()  # contacts the router rejected (closed)

    # -------------------------------------------------------------- sending
    def send(self, event: Event, *, line: int, added: str | None = None) -> bool:
        """Ingest one event; True if accepted. Refusals are counted, never raised."""
        # Fire the timers due by the event's time first, as a live service's
        # timer loop would have: the core checks an event before it fires
        # timers, so an answer to a re-offer due a moment earlier (retry after
        # a lapsed ring) would otherwise be refused as not offered.
        self._observe_commands(self.sink.tick(event.at))
        result = self.sink.ingest([event])[0]
        status = getattr(result, "status", "rejected")
        if status == "duplicate":
            # Already in the log (a re-import): the router saw it, so the view must too.
            self.summary.duplicates += 1
            self._observe(event, [], line)
            return False
        if status != "accepted":
            code, detail = _error(result)
            self.summary.refused[f"{event.type}: {code}"] += 1
            self.summary.refusals.append((line, f"{event.type}: {detail or code}"))
            # Timers due before the refused event may still have fired.
            self._observe_commands(_commands(result))
            return False
        if added:
            self.summary.added[added] += 1
        else:
            self.summary.converted[event.type] += 1
        self._observe(event, _commands(result), line)
        return True

    def _observe(self, ev: Event, commands: list[Command], line: int) -> None:
        if isinstance(ev, AgentLoggedIn):
            # A login adds channels to those the agent is already logged in on.
            current = self.logged.get(ev.agent_id)
            before = current[1] if current else frozenset()
            self.logged[ev.agent_id] = (ev.team, before | frozenset(ev.channels))
        elif isinstance(ev, AgentLoggedOut):
            current = self.logged.get(ev.agent_id)
            left = current[1] - frozenset(ev.channels) if current and ev.channels else frozenset()
            if current and left:
                self.logged[ev.agent_id] = (current[0], left)
            else:
                self.logged.pop(ev.agent_id, None)
                self.away.discard(ev.agent_id)
        elif isinstance(ev, AgentAway):
            self.away.add(ev.agent_id)
        elif isinstance(ev, AgentReady):
            self.away.discard(ev.agent_id)
        elif isinstance(ev, ContactArrived):
            self.open.add(ev.contact_id)
        elif isinstance(ev, ContactAnswered):
            self.busy.setdefault(ev.agent_id, set()).add(ev.contact_id)
            self._served_by[ev.contact_id] = ev.agent_id
        elif isinstance(ev, ContactTurnedAway):
            self.open.discard(ev.contact_id)
        elif isinstance(ev, ContactAbandoned | ContactEnded):
            self.open.discard(ev.contact_id)
            agent = self._served_by.pop(ev.contact_id, None)
            if agent is not None:
                self.busy.get(agent, set()).discard(ev.contact_id)
                eid = self._pending_logout.get(agent)
                if agent in self.implied and not self.busy.get(agent):
                    self.release(agent, at=ev.at, eid=f"{ev.event_id}-out", line=line)
                elif eid is not None and not self.busy.get(agent):
                    del self._pending_logout[agent]
                    self.send(
                        AgentLoggedOut(event_id=eid, at=ev.at, source=self.source, agent_id=agent),
                        line=line,
                        added="logout held until the call ended",
                    )
        self._observe_commands(commands)

    def _observe_commands(self, commands: list[Command]) -> None:
        for cmd in commands:
            if isinstance(cmd, Reject):
                self.open.discard(cmd.contact_id)
                self.rejected.add(cmd.contact_id)
            elif isinstance(cmd, Alert) and cmd.kind == "agent_auto_away":
                self.away.add(str(cmd.details.get("agent_id")))

    # ------------------------------------------------------- agent presence
    def login(
        self, agent: str, team: str, channels: Sequence[str], *, at: float, eid: str, line: int
    ) -> None:
        self._pending_logout.pop(agent, None)
        current = self.logged.get(agent)
        wanted = frozenset(channels) | (current[1] if current else frozenset())
        if current is not None and current == (team, wanted):
            return  # already logged in on these channels: nothing to tell the router
        self.send(
            AgentLoggedIn(
                event_id=eid,
                at=at,
                source=self.source,
                agent_id=agent,
                team=team,
                channels=tuple(sorted(wanted)),
            ),
            line=line,
        )

    def logout(
        self,
        agent: str,
        *,
        at: float,
        eid: str,
        line: int,
        channels: Sequence[str] = (),
        added: str | None = None,
    ) -> None:
        """Log ``agent`` out of ``channels`` (empty: all); held while the agent is on a call."""
        if agent not in self.logged:
            return  # never logged in (or already out): nothing to undo
        if self.busy.get(agent) and not channels:
            # The router refuses to log out an agent mid-call; the PBX does not.
            self._pending_logout[agent] = eid
            return
        self.send(
            AgentLoggedOut(
                event_id=eid, at=at, source=self.source, agent_id=agent, channels=tuple(channels)
            ),
            line=line,
            added=added,
        )

    def closed(self, contact_id: str) -> bool:
        """Whether the router rejected the contact because its queue was closed."""
        return contact_id in self.rejected

    def ensure_logged_in(
        self,
        agent: str,
        team: str,
        channel: str,
        *,
        at: float,
        eid: str,
        line: int,
        implied: bool = True,
        added: str = "agent logged in while it rang or talked",
    ) -> None:
        """Log ``agent`` in on ``channel`` if the log has not said so.

        ``implied``: for as long as it rings or talks only (observed queues).
        """
        current = self.logged.get(agent)
        if implied and current is None:
            self.implied.add(agent)
        if current is None or channel not in current[1]:
            channels = (current[1] if current else frozenset()) | {channel}
            self.send(
                AgentLoggedIn(
                    event_id=f"{eid}-in",
                    at=at,
                    source=self.source,
                    agent_id=agent,
                    team=team,
                    channels=tuple(sorted(channels)),
                ),
                line=line,
                added=added,
            )

    def release(self, agent: str, *, at: float, eid: str, line: int) -> None:
        """An implied login ends once the agent neither rings nor talks."""
        if agent in self.implied and not self.busy.get(agent):
            self.implied.discard(agent)
            self.logout(agent, at=at, eid=eid, line=line, added="implied login ended")

    def ensure_ready(
        self,
        agent: str,
        team: str,
        channel: str,
        *,
        at: float,
        eid: str,
        line: int,
        implied: bool = False,
    ) -> None:
        """Make ``agent`` logged in on ``channel`` and ready, as the vendor log implies.

        ``implied``: the login lasts only while the agent talks (observed queues).
        """
        self.ensure_logged_in(
            agent,
            team,
            channel,
            at=at,
            eid=eid,
            line=line,
            implied=implied,
            added="agent logged in to answer",
        )
        if agent in self.away and agent in self.logged:
            self.send(
                AgentReady(event_id=f"{eid}-ready", at=at, source=self.source, agent_id=agent),
                line=line,
                added="agent made ready to answer",
            )
