"""Import an Asterisk ``queue_log`` into the event log (docs/IMPORT.md).

Each line is ``epoch|callid|queue|agent|EVENT|data1|data2|...`` (Asterisk's
"Queue Logs" documentation). What becomes what:

============================================  =========================================
queue_log event                               Linje event
============================================  =========================================
ENTERQUEUE (url|callerid|position)            ``contact.arrived`` (the caller id is never read)
CONNECT (holdtime|bridged uniqueid|ringtime)  ``contact.answered`` by the agent
ABANDON, EXITEMPTY, EXITWITHTIMEOUT,          ``contact.abandoned``
EXITWITHKEY
COMPLETEAGENT, COMPLETECALLER (holdtime|      ``contact.ended``
calltime|origposition), TRANSFER,
BLINDTRANSFER, ATTENDEDTRANSFER
AGENTLOGIN, AGENTCALLBACKLOGIN, ADDMEMBER     ``agent.logged_in``
AGENTLOGOFF, AGENTCALLBACKLOGOFF,             ``agent.logged_out`` (held until a call ends)
REMOVEMEMBER
PAUSE, PAUSEALL / UNPAUSE, UNPAUSEALL         ``agent.away`` / ``agent.ready``
QUEUESTART, CONFIGRELOAD, RINGNOANSWER,       nothing: the router makes its own ring
RINGCANCELED, DID, INFO, PENALTY, SYSCOMPAT,  timeouts and no-answer counts
AGENTDUMP
============================================  =========================================

Lines are fed in time order (a stable sort on the epoch keeps Asterisk's own
order within a second). Event ids are derived from the line's epoch, call id,
queue, agent and event name (never its data fields, which hold the caller id),
so importing the same file twice, or overlapping rotated files, adds nothing
the second time.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from adapters.importers.common import Feeder, ImportSummary, Sink, TeamMap, safe_id
from router.config import HelplineConfig
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
)

__all__ = ["QueueLogLine", "import_queue_log", "parse_line"]

SOURCE = "asterisk"
LEFT_UNANSWERED = frozenset({"ABANDON", "EXITEMPTY", "EXITWITHTIMEOUT", "EXITWITHKEY"})
COMPLETED = frozenset(
    {"COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
)
LOGIN = frozenset({"AGENTLOGIN", "AGENTCALLBACKLOGIN", "ADDMEMBER"})
LOGOFF = frozenset({"AGENTLOGOFF", "AGENTCALLBACKLOGOFF", "REMOVEMEMBER"})
PAUSE = frozenset({"PAUSE", "PAUSEALL"})
UNPAUSE = frozenset({"UNPAUSE", "UNPAUSEALL"})
NO_ROUTING_MEANING = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "RINGNOANSWER",
        "RINGCANCELED",
        "DID",
        "INFO",
        "PENALTY",
        "SYSCOMPAT",
        "AGENTDUMP",
    }
)
CALL_EVENTS = frozenset({"ENTERQUEUE", "CONNECT"}) | LEFT_UNANSWERED | COMPLETED
# Data fields that must be whole numbers when present (index among data1..dataN).
NUMERIC: dict[str, tuple[int, ...]] = {
    "CONNECT": (0, 2),
    "ABANDON": (0, 1, 2),
    "EXITEMPTY": (0, 1, 2),
    "EXITWITHTIMEOUT": (0, 1, 2),
    "EXITWITHKEY": (1, 2, 3),
    "COMPLETEAGENT": (0, 1, 2),
    "COMPLETECALLER": (0, 1, 2),
    "RINGNOANSWER": (0,),
    "RINGCANCELED": (0,),
}
_EVENT = re.compile(r"^[A-Z][A-Z_]*$")
_CALLID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
_NONE = ("", "NONE")


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    line: int
    at: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    @property
    def event_id(self) -> str:
        # Never the data fields: ENTERQUEUE's data holds the caller id.
        key = "|".join((repr(self.at), self.callid, self.queue, self.agent, self.event))
        return "aq-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def parse_line(text: str, line: int) -> QueueLogLine | str:
    """One queue_log line, or the reason it is malformed."""
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return f"expected at least 5 |-separated fields, got {len(parts)}"
    epoch, callid, queue, agent, event, *data = (p.strip() for p in parts)
    try:
        at = float(epoch)
    except ValueError:
        return f"timestamp {epoch[:30]!r} is not a UNIX time"
    if not math.isfinite(at) or at <= 0:
        return f"timestamp {epoch[:30]!r} is not a UNIX time"
    if not _EVENT.match(event):
        return f"event name {event[:30]!r} is not an upper-case word"
    if event in CALL_EVENTS and not _CALLID.match(callid):
        return f"{event} needs a call id of letters, digits and ._- (got {callid[:30]!r})"
    for i in NUMERIC.get(event, ()):
        if i < len(data) and data[i] and not data[i].lstrip("-").isdigit():
            return f"{event} data{i + 1} must be a whole number (got {data[i][:30]!r})"
    return QueueLogLine(line, at, callid, queue, agent, event, tuple(data))


def _reason(raw: str) -> str:
    word = re.sub(r"[^a-z0-9_]+", "_", raw.strip().lower()).strip("_")[:40]
    return word if word and word[0].isalpha() else "pause"


class _QueueLogImport:
    def __init__(
        self,
        feeder: Feeder,
        config: HelplineConfig,
        queue_map: Mapping[str, str],
        teams: TeamMap,
    ) -> None:
        self.f = feeder
        self.s = feeder.summary
        self.config = config
        self.queue_map = queue_map
        self.teams = teams
        self.calls: dict[str, tuple[str, str]] = {}  # callid -> (contact id, channel)
        self.entries: dict[str, int] = {}  # callid -> times it entered a queue
        self.unmapped_calls: set[str] = set()
        self.finished: set[str] = set()
        self.members: dict[str, set[str]] = {}  # agent -> Linje queues ("*": all)

    def channel_of(self, queue: str) -> str:
        return self.config.queues[queue].channel

    def channels_of(self, queues: set[str]) -> list[str]:
        """Channels of Linje queues ("*": every mapped queue)."""
        names = set(self.queue_map.values()) if "*" in queues else queues
        return sorted({self.channel_of(x) for x in names})

    def agent(self, q: QueueLogLine) -> tuple[str, str] | None:
        """(agent id, team) of the line's agent, or None (counted) when it has no team."""
        team = self.teams.team(q.agent)
        if team is None:
            self.s.unmapped["agent matches no --agent-team pattern"] += 1
            return None
        return safe_id(q.agent), team

    def line(self, q: QueueLogLine) -> None:
        ev = q.event
        if ev in NO_ROUTING_MEANING:
            self.s.ignored[ev] += 1
        elif ev in CALL_EVENTS:
            self.call(q)
        elif ev in LOGIN | LOGOFF | PAUSE | UNPAUSE:
            self.presence(q)
        else:
            self.s.unknown[ev] += 1

    # ----------------------------------------------------------------- calls
    def call(self, q: QueueLogLine) -> None:
        if q.event == "ENTERQUEUE":
            self.enter(q)
            return
        if q.callid in self.unmapped_calls:
            self.s.unmapped[f"queue {q.queue!r} not in --queue-map"] += 1
            return
        call = self.calls.get(q.callid)
        if call is None:
            if q.callid in self.finished:
                self.s.ignored[f"{q.event} after the call left the queue"] += 1
            else:
                self.s.before_log += 1
            return
        contact_id, channel = call
        if q.event == "CONNECT":
            if q.agent in _NONE:
                self.s.skip(q.line, "CONNECT without an agent")
                return
            who = self.agent(q)
            if who is None:
                return
            agent_id, team = who
            self.f.ensure_ready(agent_id, team, channel, at=q.at, eid=q.event_id, line=q.line)
            self.f.send(
                ContactAnswered(
                    event_id=q.event_id,
                    at=q.at,
                    source=SOURCE,
                    contact_id=contact_id,
                    agent_id=agent_id,
                ),
                line=q.line,
            )
            return
        del self.calls[q.callid]
        self.finished.add(q.callid)
        kind = ContactAbandoned if q.event in LEFT_UNANSWERED else ContactEnded
        self.f.send(
            kind(event_id=q.event_id, at=q.at, source=SOURCE, contact_id=contact_id), line=q.line
        )

    def enter(self, q: QueueLogLine) -> None:
        queue = self.queue_map.get(q.queue)
        if queue is None:
            self.unmapped_calls.add(q.callid)
            self.s.unmapped[f"queue {q.queue!r} not in --queue-map"] += 1
            return
        if q.callid in self.calls:
            self.s.skip(q.line, f"call {q.callid} entered a queue again before leaving it")
            return
        # A caller who leaves one queue for another (overflow) keeps the uniqueid:
        # each entry is its own contact.
        n = self.entries[q.callid] = self.entries.get(q.callid, 0) + 1
        contact_id = safe_id(q.callid, prefix="aq-") + (f"-{n}" if n > 1 else "")
        channel = self.channel_of(queue)
        self.calls[q.callid] = (contact_id, channel)
        self.finished.discard(q.callid)
        self.f.send(
            ContactArrived(
                event_id=q.event_id,
                at=q.at,
                source=SOURCE,
                contact_id=contact_id,
                channel=channel,
                queue=queue,
            ),
            line=q.line,
        )

    # -------------------------------------------------------------- presence
    def presence(self, q: QueueLogLine) -> None:
        if q.agent in _NONE:
            self.s.skip(q.line, f"{q.event} without an agent")
            return
        if q.queue in _NONE:
            queues = {"*"}
        elif q.queue in self.queue_map:
            queues = {self.queue_map[q.queue]}
        else:
            self.s.unmapped[f"queue {q.queue!r} not in --queue-map"] += 1
            return
        who = self.agent(q)
        if who is None:
            return
        agent_id, team = who
        channels = self.channels_of(queues)
        if not channels:
            self.s.unmapped["no --queue-map given"] += 1
            return
        ev, eid = q.event, q.event_id
        if ev in LOGIN:
            self.members.setdefault(agent_id, set()).update(queues)
            self.f.login(agent_id, team, channels, at=q.at, eid=eid, line=q.line)
        elif ev in LOGOFF:
            left = set() if "*" in queues else self.members.get(agent_id, set()) - queues
            if not left:
                self.members.pop(agent_id, None)
                self.f.logout(agent_id, at=q.at, eid=eid, line=q.line)
                return
            self.members[agent_id] = left
            still = self.channels_of(left)
            gone = sorted(set(self.f.logged.get(agent_id, ("", frozenset()))[1]) - set(still))
            if gone:
                # Removed from the only queue of a channel: leave just that channel.
                self.f.logout(agent_id, at=q.at, eid=eid, line=q.line, channels=gone)
            else:
                self.s.ignored[f"{ev} (still a member of another queue)"] += 1
        elif ev in PAUSE:
            if agent_id in self.f.away:
                self.s.ignored[f"{ev} (already paused)"] += 1
                return
            self.static_member(agent_id, team, channels, q)
            reason = _reason(q.data[0] if q.data else "")
            self.f.send(
                AgentAway(event_id=eid, at=q.at, source=SOURCE, agent_id=agent_id, reason=reason),
                line=q.line,
            )
        else:  # UNPAUSE
            if agent_id in self.f.logged and agent_id not in self.f.away:
                self.s.ignored[f"{ev} (not paused)"] += 1
                return
            self.static_member(agent_id, team, channels, q)
            if agent_id in self.f.away:
                self.f.send(
                    AgentReady(event_id=eid, at=q.at, source=SOURCE, agent_id=agent_id),
                    line=q.line,
                )

    def static_member(self, agent_id: str, team: str, channels: list[str], q: QueueLogLine) -> None:
        """A (un)pause from a member never seen logging in: a static member, so in the queue."""
        if agent_id not in self.f.logged:
            self.f.send(
                AgentLoggedIn(
                    event_id=f"{q.event_id}-in",
                    at=q.at,
                    source=SOURCE,
                    agent_id=agent_id,
                    team=team,
                    channels=tuple(channels),
                ),
                line=q.line,
                added="static member logged in at its first pause",
            )


def import_queue_log(
    lines: Iterable[str],
    *,
    sink: Sink,
    config: HelplineConfig,
    queue_map: Mapping[str, str],
    teams: TeamMap,
) -> ImportSummary:
    """Convert and ingest a queue_log; malformed lines are skipped and reported."""
    summary = ImportSummary(source="asterisk queue_log")
    parsed: list[QueueLogLine] = []
    for n, text in enumerate(lines, 1):
        summary.lines_read += 1
        if not text.strip():
            summary.skip(n, "empty line")
            continue
        q = parse_line(text, n)
        if isinstance(q, str):
            summary.skip(n, q)
        else:
            parsed.append(q)
    parsed.sort(key=lambda q: q.at)  # stable: Asterisk's order within a second is kept
    feeder = Feeder(sink, config, summary, source=SOURCE)
    run = _QueueLogImport(feeder, config, queue_map, teams)
    for q in parsed:
        run.line(q)
    summary.still_open = len(feeder.open)
    return summary
