"""Import an Asterisk ``queue_log`` into the event log (docs/IMPORT.md).

Each line is ``epoch|callid|queue|agent|EVENT|data1|data2|...`` (Asterisk's
"Queue Logs" documentation). What becomes what:

============================================  =========================================
queue_log event                               Linje event
============================================  =========================================
ENTERQUEUE (url|callerid|position)            ``contact.arrived`` (the caller id is never read)
CONNECT (holdtime|bridged uniqueid|ringtime)  ``contact.answered`` by the agent
ABANDON, EXITEMPTY, EXITWITHTIMEOUT,          ``contact.abandoned`` (EXITEMPTY, JOINEMPTY,
EXITWITHKEY, JOINEMPTY, LEAVEEMPTY            LEAVEEMPTY: the queue had nobody to ring)
CLOSED                                        observed queue: ``contact.turned_away`` (closed),
                                              so ``rejected_closed``; else rejected only if
                                              the plan is closed
FULL, DIVERT_CA_RATIO, DIVERT_HOLDTIME        observed queue: ``contact.turned_away`` (full,
                                              diverted); else ``contact.abandoned``
COMPLETEAGENT, COMPLETECALLER (holdtime|      ``contact.ended``
calltime|origposition), TRANSFER,
BLINDTRANSFER, ATTENDEDTRANSFER
AGENTLOGIN, AGENTCALLBACKLOGIN, ADDMEMBER     ``agent.logged_in``
AGENTLOGOFF, AGENTCALLBACKLOGOFF,             ``agent.logged_out`` (held until a call ends)
REMOVEMEMBER
PAUSE, PAUSEALL / UNPAUSE, UNPAUSEALL         ``agent.away`` / ``agent.ready``
RINGNOANSWER (ringtime ms)                    observed queue: ``contact.rang`` and
                                              ``contact.ring_ended``; else nothing
QUEUESTART, CONFIGRELOAD, RINGCANCELED, DID,  nothing
INFO, PENALTY, SYSCOMPAT, AGENTDUMP
============================================  =========================================

On a queue with ``routing = "observe"`` (the PBX routed) the importer feeds
the observed facts: ADDMEMBER / REMOVEMEMBER also join and leave that queue's
member list, a later line naming another mapped queue moves the waiting call
there, an end without a CONNECT is answered by the line's agent (with a
warning), and an agent seen only ringing or talking is logged in only while
it does (docs/IMPORT.md, "Two modes").

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
from typing import Any

from adapters.importers.common import (
    Feeder,
    ImportSummary,
    Sink,
    TeamMap,
    queue_label,
    safe_id,
)
from router.config import HelplineConfig
from router.events import (
    AgentAway,
    AgentJoinedQueue,
    AgentLeftQueue,
    AgentLoggedIn,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactMoved,
    ContactRang,
    ContactRingEnded,
    ContactTurnedAway,
)

__all__ = ["QueueLogLine", "import_queue_log", "parse_line"]

SOURCE = "asterisk"
LEFT_UNANSWERED = frozenset({"ABANDON", "EXITEMPTY", "EXITWITHTIMEOUT", "EXITWITHKEY"})
# The queue had no member to ring (leavewhenempty / joinempty): nobody logged in.
EMPTY = frozenset({"EXITEMPTY", "JOINEMPTY", "LEAVEEMPTY"})
# Some distributions' dialplans write these: the line was closed, the queue was
# full or the caller was diverted (DIVERT_CA_RATIO, DIVERT_HOLDTIME).
CLOSED_LINE = "CLOSED"
TURNED_AWAY = frozenset({"FULL", "DIVERT_CA_RATIO", "DIVERT_HOLDTIME"})
# On an observed queue each is the PBX's own fact: ``contact.turned_away`` with this reason.
TURNED_AWAY_REASON = {
    CLOSED_LINE: "closed",
    "FULL": "full",
    "DIVERT_CA_RATIO": "diverted",
    "DIVERT_HOLDTIME": "diverted",
}
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
CALL_EVENTS = (
    frozenset({"ENTERQUEUE", "CONNECT", CLOSED_LINE})
    | LEFT_UNANSWERED
    | EMPTY
    | COMPLETED
    | TURNED_AWAY
)
# Data fields that must be whole numbers when present (index among data1..dataN).
NUMERIC: dict[str, tuple[int, ...]] = {
    "CONNECT": (0, 2),
    "ABANDON": (0, 1, 2),
    "EXITEMPTY": (0, 1, 2),
    "LEAVEEMPTY": (0, 1, 2),
    "EXITWITHTIMEOUT": (0, 1, 2),
    "EXITWITHKEY": (1, 2, 3),
    "COMPLETEAGENT": (0, 1, 2),
    "COMPLETECALLER": (0, 1, 2),
    "RINGNOANSWER": (0,),
    "RINGCANCELED": (0,),
}
# Which data field holds the caller's wait so far (holdtime / waittime), by event.
WAIT_FIELD: dict[str, int] = {
    "CONNECT": 0,
    "ABANDON": 2,
    "EXITEMPTY": 2,
    "LEAVEEMPTY": 2,
    "EXITWITHTIMEOUT": 2,
    "EXITWITHKEY": 3,
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
    """One queue_log line, or the reason it is malformed.

    The reason names the field, never its content: a malformed field may hold
    a caller's number.
    """
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return f"expected at least 5 |-separated fields, got {len(parts)}"
    epoch, callid, queue, agent, event, *data = (p.strip() for p in parts)
    try:
        at = float(epoch)
    except ValueError:
        return "the timestamp (field 1) is not a UNIX time"
    if not math.isfinite(at) or at <= 0:
        return "the timestamp (field 1) is not a UNIX time"
    if not _EVENT.match(event):
        return "the event name (field 5) is not an upper-case word"
    if event in CALL_EVENTS and not _CALLID.match(callid):
        return f"{event} needs a call id (field 2) of letters, digits and ._-"
    for i in NUMERIC.get(event, ()):
        if i < len(data) and data[i] and not data[i].lstrip("-").isdigit():
            return f"{event} data{i + 1} (field {i + 6}) must be a whole number"
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
        aliases: Mapping[str, str],
    ) -> None:
        self.f = feeder
        self.s = feeder.summary
        self.config = config
        self.queue_map = queue_map
        self.teams = teams
        self.aliases = aliases  # member name -> interface (one agent)
        # callid -> [contact id, channel, Linje queue, answered]
        self.calls: dict[str, list[object]] = {}
        self.entries: dict[str, int] = {}  # callid -> times it entered a queue
        self.unmapped_calls: set[str] = set()
        self.finished: set[str] = set()
        self.members: dict[str, set[str]] = {}  # agent -> Linje queues ("*": all)
        self.listed: dict[str, set[str]] = {}  # observed queue -> its members (ADDMEMBER)

    def channel_of(self, queue: str) -> str:
        return self.config.queues[queue].channel

    def observed(self, queue: str) -> bool:
        return self.config.queues[queue].routing == "observe"

    def channels_of(self, queues: set[str]) -> list[str]:
        """Channels of Linje queues ("*": every mapped queue)."""
        names = set(self.queue_map.values()) if "*" in queues else queues
        return sorted({self.channel_of(x) for x in names})

    def agent(self, q: QueueLogLine) -> tuple[str, str] | None:
        """(agent id, team) of the line's agent, or None (counted) when it has no team.

        A member name and its interface (``1001`` and ``SIP/1001``) are one agent:
        the interface's id, with the team of whichever of the two a pattern matches.
        """
        name = self.aliases.get(q.agent, q.agent)
        team = self.teams.team(name)
        if team is None and name != q.agent:
            team = self.teams.team(q.agent)
        if team is None:
            self.s.unmapped["agent matches no --agent-team pattern"] += 1
            return None
        return safe_id(name), team

    def line(self, q: QueueLogLine) -> None:
        ev = q.event
        if ev == "RINGNOANSWER" and self.call_queue_observed(q):
            self.call(q)
        elif ev in NO_ROUTING_MEANING:
            self.s.ignored[ev] += 1
        elif ev in CALL_EVENTS:
            self.call(q)
        elif ev in LOGIN | LOGOFF | PAUSE | UNPAUSE:
            self.presence(q)
        else:
            self.s.unknown[ev] += 1

    def call_queue_observed(self, q: QueueLogLine) -> bool:
        call = self.calls.get(q.callid)
        return call is not None and self.observed(str(call[2]))

    # ----------------------------------------------------------------- calls
    def call(self, q: QueueLogLine) -> None:
        if q.event == "ENTERQUEUE":
            self.enter(q)
            return
        if q.callid in self.unmapped_calls:
            self.s.unmapped[f"{queue_label(q.queue)} not in --queue-map"] += 1
            return
        call = self.calls.get(q.callid)
        if call is None and q.event in (CLOSED_LINE, "FULL", "JOINEMPTY"):
            call = self.enter(q, quiet=True)  # turned away before it was queued
        if call is None:
            if q.callid in self.finished:
                self.s.ignored[f"{q.event} after the call left the queue"] += 1
            else:
                self.s.before_log += 1
            return
        contact_id, channel, queue = str(call[0]), str(call[1]), str(call[2])
        observe = self.observed(queue)
        if observe and not call[3]:
            queue = self.move(q, call) or queue
        self.check_wait(q, float(call[4]))  # type: ignore[arg-type]
        if q.event == "CONNECT":
            if q.agent in _NONE:
                self.s.skip(q.line, "CONNECT without an agent")
                return
            if self.answer(q, call, observe):
                call[3] = True
            return
        if q.event == "RINGNOANSWER":
            self.ring(q, contact_id, channel, queue)
            return
        if q.event in COMPLETED and observe and not call[3]:
            if q.agent in _NONE:
                self.s.warn(q.line, f"{q.event} without a CONNECT or an agent: counted unanswered")
            else:
                self.s.warn(q.line, f"{q.event} without a CONNECT: counted answered by its agent")
                call[3] = self.answer(q, call, observe)
        self.end(q, contact_id, observe)

    def check_wait(self, q: QueueLogLine, entered: float) -> None:
        """The log's own wait (``WAIT_FIELD``) against the time between the lines.

        The lines' times are what is fed (waits and handle times follow from
        them); a data field that disagrees by more than a second is reported.
        """
        i = WAIT_FIELD.get(q.event)
        if i is None or i >= len(q.data) or not q.data[i]:
            return
        off = (q.at - entered) - int(q.data[i])
        if abs(off) > 1:
            self.s.warn(
                q.line,
                f"{q.event}'s wait (data{i + 1}) differs from the time since ENTERQUEUE by "
                f"{off:+g} s: the lines' times are used",
            )

    def end(self, q: QueueLogLine, contact_id: str, observe: bool) -> None:
        del self.calls[q.callid]
        self.finished.add(q.callid)
        if q.event == CLOSED_LINE:
            self.s.classes["closed by the PBX (CLOSED)"] += 1
            if not observe and not self.f.closed(contact_id):
                self.s.warn(
                    q.line,
                    "CLOSED while the coverage plan has the queue open: counted as it ended",
                )
        elif q.event in TURNED_AWAY:
            self.s.classes["turned away by the PBX (FULL, DIVERT_*)"] += 1
        elif q.event in EMPTY and observe:
            self.s.classes["left an empty queue (EXITEMPTY, JOINEMPTY, LEAVEEMPTY)"] += 1
        if contact_id not in self.f.open:
            return  # rejected as closed at arrival: nothing more to end
        env: dict[str, Any] = {
            "event_id": q.event_id,
            "at": q.at,
            "source": SOURCE,
            "contact_id": contact_id,
        }
        reason = TURNED_AWAY_REASON.get(q.event)
        if observe and reason is not None:
            # The PBX turned the caller away: its fact, whatever the coverage plan says.
            self.f.send(ContactTurnedAway(**env, reason=reason), line=q.line)
            return
        kind = ContactEnded if q.event in COMPLETED else ContactAbandoned
        self.f.send(kind(**env), line=q.line)

    def answer(self, q: QueueLogLine, call: list[object], observe: bool) -> bool:
        who = self.agent(q)
        if who is None:
            return False
        agent_id, team = who
        contact_id, channel, queue = str(call[0]), str(call[1]), str(call[2])
        if observe:
            self.static_join(agent_id, queue, q)
        self.f.ensure_ready(
            agent_id, team, channel, at=q.at, eid=q.event_id, line=q.line, implied=observe
        )
        return self.f.send(
            ContactAnswered(
                event_id=q.event_id if q.event == "CONNECT" else f"{q.event_id}-answer",
                at=q.at,
                source=SOURCE,
                contact_id=contact_id,
                agent_id=agent_id,
            ),
            line=q.line,
        )

    def ring(self, q: QueueLogLine, contact_id: str, channel: str, queue: str) -> None:
        """An observed ring that ended unanswered (RINGNOANSWER: ``data1`` ms of ringing)."""
        if q.agent in _NONE:
            self.s.skip(q.line, "RINGNOANSWER without an agent")
            return
        who = self.agent(q)
        if who is None:
            return
        agent_id, team = who
        self.static_join(agent_id, queue, q)
        self.f.ensure_logged_in(agent_id, team, channel, at=q.at, eid=q.event_id, line=q.line)
        base = dict(at=q.at, source=SOURCE, contact_id=contact_id, agent_ids=(agent_id,))
        if self.f.send(ContactRang(event_id=f"{q.event_id}-rang", **base), line=q.line):  # type: ignore[arg-type]
            self.f.send(ContactRingEnded(event_id=q.event_id, **base), line=q.line)  # type: ignore[arg-type]
        self.f.release(agent_id, at=q.at, eid=f"{q.event_id}-out", line=q.line)

    def move(self, q: QueueLogLine, call: list[object]) -> str | None:
        """A later line of an unanswered call names another mapped queue: the call moved."""
        queue = self.queue_map.get(q.queue)
        if queue is None or queue == call[2] or self.channel_of(queue) != call[1]:
            return None
        if self.f.send(
            ContactMoved(
                event_id=f"{q.event_id}-move",
                at=q.at,
                source=SOURCE,
                contact_id=str(call[0]),
                queue=queue,
            ),
            line=q.line,
        ):
            call[2] = queue
            return queue
        return None

    def enter(self, q: QueueLogLine, *, quiet: bool = False) -> list[object] | None:
        queue = self.queue_map.get(q.queue)
        if queue is None:
            self.unmapped_calls.add(q.callid)
            self.s.unmapped[f"{queue_label(q.queue)} not in --queue-map"] += 1
            return None
        if q.callid in self.calls:
            self.s.skip(q.line, "the call entered a queue again before leaving it")
            return None
        # A caller who leaves one queue for another (overflow) keeps the uniqueid:
        # each entry is its own contact.
        n = self.entries[q.callid] = self.entries.get(q.callid, 0) + 1
        contact_id = safe_id(q.callid, prefix="aq-") + (f"-{n}" if n > 1 else "")
        channel = self.channel_of(queue)
        call: list[object] = [contact_id, channel, queue, False, q.at]
        self.calls[q.callid] = call
        self.finished.discard(q.callid)
        self.f.send(
            ContactArrived(
                event_id=q.event_id if not quiet else f"{q.event_id}-in",
                at=q.at,
                source=SOURCE,
                contact_id=contact_id,
                channel=channel,
                queue=queue,
            ),
            line=q.line,
            added="call turned away before it entered the queue" if quiet else None,
        )
        return call

    # ------------------------------------------------------------ membership
    def static_join(self, agent_id: str, queue: str, q: QueueLogLine) -> None:
        """A member the log never added, ringing or answering on a listed queue: a static one."""
        listed = self.listed.get(queue)
        if listed is not None and agent_id not in listed:
            self.member_event(q, agent_id, queue, join=True, static=True)

    def membership(self, q: QueueLogLine, agent_id: str, queues: set[str], join: bool) -> None:
        """ADDMEMBER / REMOVEMEMBER of an observed queue: its member list."""
        for queue in sorted(set(self.queue_map.values()) if "*" in queues else queues):
            if self.observed(queue) and join != (agent_id in self.listed.get(queue, ())):
                self.member_event(q, agent_id, queue, join=join)

    def member_event(
        self, q: QueueLogLine, agent_id: str, queue: str, *, join: bool, static: bool = False
    ) -> None:
        listed = self.listed.setdefault(queue, set())
        (listed.add if join else listed.discard)(agent_id)
        kind = AgentJoinedQueue if join else AgentLeftQueue
        self.f.send(
            kind(
                event_id=f"{q.event_id}-{'join' if static else queue}",
                at=q.at,
                source=SOURCE,
                agent_id=agent_id,
                queue=queue,
            ),
            line=q.line,
            added="static member joined at its first call" if static else None,
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
            self.s.unmapped[f"{queue_label(q.queue)} not in --queue-map"] += 1
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
            self.f.implied.discard(agent_id)  # a member now, not only while on a call
            self.membership(q, agent_id, queues, join=True)
            self.f.login(agent_id, team, channels, at=q.at, eid=eid, line=q.line)
        elif ev in LOGOFF:
            self.membership(q, agent_id, queues, join=False)
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
        self.f.implied.discard(agent_id)
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


_TECH = re.compile(r"^[A-Za-z0-9_]+/([^@/]+)")


def learn_aliases(lines: Iterable[QueueLogLine], given: Mapping[str, str]) -> dict[str, str]:
    """Member name -> interface: ``given`` (``--member-alias``) plus what the log shows.

    Asterisk names a member by its interface (``SIP/1001``) in ADDMEMBER and
    REMOVEMEMBER and by its member name elsewhere. Where the name is the
    interface's own (``1001`` for ``SIP/1001``, ``Local/1001@ctx/n``) and no
    other interface shares it, the two are one agent.
    """
    interfaces: dict[str, set[str]] = {}
    names: set[str] = set()
    for q in lines:
        if q.agent in _NONE:
            continue
        if q.event in LOGIN | LOGOFF:
            m = _TECH.match(q.agent)
            if m:
                interfaces.setdefault(m.group(1), set()).add(q.agent)
        else:
            names.add(q.agent)
    out = {n: next(iter(i)) for n, i in interfaces.items() if n in names and len(i) == 1}
    out.update(given)
    return out


def parse_member_aliases(specs: Iterable[str]) -> dict[str, str]:
    """``--member-alias NAME=INTERFACE[,...]``: a member name and its interface are one agent."""
    from router.errors import BadInput

    out: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, interface = part.partition("=")
            if not sep or not name or not interface:
                raise BadInput("--member-alias: expected MEMBERNAME=INTERFACE")
            out[name] = interface
    return out


def import_queue_log(
    lines: Iterable[str],
    *,
    sink: Sink,
    config: HelplineConfig,
    queue_map: Mapping[str, str],
    teams: TeamMap,
    member_aliases: Mapping[str, str] | None = None,
) -> ImportSummary:
    """Convert and ingest a queue_log; malformed lines are skipped and reported.

    Every skipped, reordered or truncated line is reported by its number; no
    report repeats a field's content.
    """
    summary = ImportSummary(source="asterisk queue_log")
    parsed: list[QueueLogLine] = []
    latest, text = -math.inf, ""
    for n, text in enumerate(lines, 1):
        summary.lines_read += 1
        if not text.strip():
            summary.skip(n, "empty line")
            continue
        q = parse_line(text, n)
        if isinstance(q, str):
            summary.skip(n, q)
            continue
        if q.at < latest:
            summary.warn(n, f"out of time order by {latest - q.at:g} s: fed at its own time")
        latest = max(latest, q.at)
        parsed.append(q)
    if text and not text.endswith("\n"):
        last = summary.lines_read
        if summary.skipped and summary.skipped[-1][0] == last:
            summary.skipped[-1] = (last, f"the last line is cut short: {summary.skipped[-1][1]}")
        elif parsed and parsed[-1].line == last:
            summary.warn(last, "the last line has no line end: it may be cut short")
    parsed.sort(key=lambda q: q.at)  # stable: Asterisk's order within a second is kept
    feeder = Feeder(sink, config, summary, source=SOURCE)
    run = _QueueLogImport(
        feeder, config, queue_map, teams, learn_aliases(parsed, member_aliases or {})
    )
    for q in parsed:
        run.line(q)
    summary.still_open = len(feeder.open)
    return summary
