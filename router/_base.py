"""The core's shared state and the primitives every part of it uses.

``Router`` (``router.core``) is assembled from parts that each own one job:
contacts (``router._contacts``), offers and ring time-outs
(``router._offers``), agents and the indexes kept where
an agent's channel changes (``router._agents``), dispatch and what waiting
contacts saw (``router._dispatch``), handover, gaps and alerts
(``router._handover``), duty to avert (``router._escalations``), observed
routing and queue membership (``router._observe``, ``router._members``) and
content registration (``router._registrations``). They share the state set up
here and these small primitives (commands, alerts, records, look-ups, time).

The parts form one chain of single inheritance, each module's class extending
the previous one's (``RouterBase`` <- registrations <- members <- observe <-
escalations <- handover <- dispatch <- agents <- offers <- contacts <-
``Router``): the same method resolution order as a class listing every part,
and a shape the native build (``make native``, docs/PERFORMANCE.md) compiles,
since compiled classes take a single base.
"""

from __future__ import annotations

import bisect
import math
from abc import ABCMeta, abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import Any

from mypy_extensions import mypyc_attr

from router._state import Agent, AgentChannel, AlertState, Contact, QueueState
from router._timers import Timers
from router.commands import Alert, Command
from router.config import HelplineConfig
from router.coverage import Absence, CoveragePlan
from router.errors import UnknownAgent, UnknownContact
from router.events import ContactAnswered
from router.records import Record
from router.today import Today

__all__ = ["RouterBase", "expired"]


def expired(order: deque[tuple[float, str]], horizon: float) -> Sequence[str]:
    """Take the keys off the front of a time-ordered ``(at, key)`` queue while ``at`` is
    before ``horizon``: what every retention window forgets (a plain call, as it runs
    once a minute of event time on every purge)."""
    if not order or order[0][0] >= horizon:
        return ()
    out = []
    popleft = order.popleft
    while order and order[0][0] < horizon:
        out.append(popleft()[1])
    return out


@mypyc_attr(allow_interpreted_subclasses=True)
class RouterBase(metaclass=ABCMeta):
    """State shared by the parts of ``Router``; see the module docstring."""

    def __init__(self, config: HelplineConfig) -> None:
        self.config = config
        self.plan = CoveragePlan(config)
        self.now: float | None = None
        self.started_at: float | None = None  # the first instant the core saw
        self._clock = -math.inf  # ``now`` as a float for the hot paths (set at the first step)
        self._tolerance = config.clock_tolerance_s
        self._dedup_s = config.dedup_window_s
        self._retention_s = config.ended_retention_s
        self._policy = config.agents
        self._cap: dict[str, int] = {ch: c.capacity for ch, c in config.channels.items()}
        self._ring: dict[str, float] = {ch: c.ring_timeout_s for ch, c in config.channels.items()}
        self._wrap: dict[str, float] = {ch: c.wrap_up_s for ch, c in config.channels.items()}
        self._blocks = config.agents.phone_blocks_chat and "chat" in config.channels
        self._queues: dict[str, QueueState] = {}
        self._contacts: dict[str, Contact] = {}
        self._agents: dict[str, Agent] = {}
        # channel -> contacts waiting or ringing, FIFO by arrival
        self._waiting: dict[str, dict[str, Contact]] = {ch: {} for ch in config.channels}
        self._qwaiting: dict[str, int] = dict.fromkeys(config.queues, 0)
        # channel -> seqs (sorted: FIFO) of the waiting contacts that ring nobody, and
        # seq -> contact: the queue a strategy other than ring-all offers from
        self._unrung: dict[str, list[int]] = {ch: [] for ch in config.channels}
        self._by_seq: dict[int, Contact] = {}
        # channels where some queue rings all (its ringing contacts take more agents)
        self._ring_all = {
            q.channel for q in config.queues.values() if q.effective_strategy == "ring_all"
        }
        # channel -> agents logged in on it (names for gap alerts)
        self._on: dict[str, dict[str, Agent]] = {ch: {} for ch in config.channels}
        # (team, channel) -> the sorted ids of its agents in ``_on``: built the first
        # time a roster or a gap alert asks, then kept in order where ``_on`` changes
        # (``_went_on``, ``_went_off``), so neither sorts every agent again
        self._names: dict[tuple[str, str], list[str]] = {}
        # Indexes kept where an agent's channel changes (``_agents._refresh``):
        # (team, channel) -> agents logged in / of them occupied, and
        # channel -> team -> agents that can be offered a contact now.
        self._logged: dict[tuple[str, str], int] = {}
        self._occ: dict[tuple[str, str], int] = {}
        self._ready: dict[str, dict[str, dict[str, AgentChannel]]] = {
            ch: {t: {} for t in config.teams} for ch in config.channels
        }
        self._n_ready: dict[str, int] = dict.fromkeys(config.channels, 0)
        # What the next settle has to look at (cost follows change).
        self._channels = tuple(config.channels)  # the order settles visit channels in
        self._want: set[str] = set()  # channels to dispatch
        self._moved: set[str] = set(config.channels)  # channels whose counts changed: census
        self._gaps_due = True  # logged-in counts, owners or a waiting contact: gaps
        self._gap_at = -math.inf  # the earliest time a gap opens by time alone
        self._fresh: list[Contact] = []  # arrived this step: take their first look
        self._absences: list[Absence] = []
        self._alerts: dict[str, AlertState] = {}
        self._closed_alerts: deque[tuple[float, str]] = deque()
        # event_id -> the event accepted, or the digest of its body (router.events)
        self._seen: dict[str, Any] = {}
        self._seen_order: deque[tuple[float, str]] = deque()
        self._ended: deque[tuple[float, str]] = deque()
        self._next_purge = -math.inf
        self._ev_at: float | None = None  # the applied event's own time (see _fact)
        self._timers = Timers()
        self._out: list[Command] = []
        self._records: list[Record] = []
        self._cmd_seq = 0
        self._contact_seq = 0
        self._agent_seq = 0
        self._alert_seq = 0
        self.arrived_total = 0
        self.ended_total = 0
        self.today = Today(self.plan, config)

    # ----------------------------------------------------------------- time
    @property
    def _fact(self) -> float:
        """The time to record as when something happened: the event's own time.

        The clock only moves forward, but an event up to ``clock_tolerance_s``
        late (another adapter's clock, a redelivery) still happened at its own
        time; waits and handle times use it, so figures do not depend on which
        adapter's event reached the core first.
        """
        return self._ev_at if self._ev_at is not None else self._clock

    # -------------------------------------------------------------- outputs
    def _emit(self, cmd_type: type[Command], **fields: Any) -> None:
        self._cmd_seq += 1
        self._out.append(cmd_type(seq=self._cmd_seq, at=self._clock, **fields))

    def _alert(self, kind: str, details: dict[str, Any]) -> str:
        self._alert_seq += 1
        alert_id = f"{kind}-{self._alert_seq}"
        self._alerts[alert_id] = AlertState(
            id=alert_id, kind=kind, raised_at=self._clock, details=details
        )
        self._emit(Alert, alert_id=alert_id, kind=kind, details=details)
        return alert_id

    def _close_alert(self, alert_id: str | None) -> None:
        if alert_id is not None:
            alert = self._alerts.get(alert_id)
            if alert is not None and alert.open:
                alert.open = False
                alert.closed_at = self._clock
                self._closed_alerts.append((self._clock, alert_id))

    def _record(self, record: Record) -> None:
        self._records.append(record)
        self.today.add(record)

    # ------------------------------------------------- who is logged in
    def _went_on(self, a: Agent, ch: str) -> None:
        self._on[ch][a.id] = a
        names = self._names.get((a.team, ch))
        if names is not None:
            bisect.insort(names, a.id)

    def _went_off(self, a: Agent, ch: str) -> None:
        del self._on[ch][a.id]
        names = self._names.get((a.team, ch))
        if names is not None:
            del names[bisect.bisect_left(names, a.id)]

    def _names_of(self, team: str, ch: str) -> list[str]:
        """The sorted ids of ``team``'s agents logged in on ``ch`` (the kept list itself:
        callers copy it before handing it out)."""
        key = (team, ch)
        names = self._names.get(key)
        if names is None:
            names = self._names[key] = sorted(
                aid for aid, a in self._on[ch].items() if a.team == team
            )
        return names

    # ------------------------------------------------------------ look-ups
    def _contact(self, contact_id: str) -> Contact:
        c = self._contacts.get(contact_id)
        if c is None:
            raise UnknownContact(f"unknown contact {contact_id!r}", field="contact_id")
        return c

    def _agent(self, agent_id: str) -> Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
        return a

    # Implemented by the parts further down the chain (router._contacts ... router._members);
    # declared abstract here so that every part may call them: mypy refuses to build a
    # Router that lacks one, and tests/test_core_chain.py checks each is defined.

    @abstractmethod
    def _refresh(self, a: Agent, ch: str) -> None: ...

    @abstractmethod
    def _unring(self, c: Contact, agent_id: str) -> None: ...

    @abstractmethod
    def _after_unring(self, c: Contact) -> None: ...

    @abstractmethod
    def _census(self, q: QueueState) -> tuple[int, int, int]: ...

    @abstractmethod
    def _census_now(self, q: QueueState) -> tuple[int, int]: ...

    @abstractmethod
    def _eligible(self, q: QueueState) -> tuple[frozenset[str], str, bool]: ...

    @abstractmethod
    def _set_away(self, a: Agent, reason: str) -> None: ...

    @abstractmethod
    def _refresh_segment(self, q: QueueState) -> None: ...

    @abstractmethod
    def _offer(self, c: Contact, targets: list[AgentChannel]) -> None: ...

    @abstractmethod
    def _transition(self, c: Contact, trigger: str) -> None: ...

    @abstractmethod
    def _set_retry(self, c: Contact) -> None: ...

    @abstractmethod
    def _check_gaps(self) -> None: ...

    # Observed routing and queue membership (router._observe, router._members).
    _observe: frozenset[str]
    _members: dict[str, dict[str, None]]
    _member_of: dict[str, list[str]]
    _reconcile_wait_s: dict[str, float]
    _roster_due: set[str]

    @abstractmethod
    def _answer_trigger(self, c: Contact, late: bool) -> str: ...

    @abstractmethod
    def _observed_answer(self, c: Contact, a: Agent, chs: AgentChannel) -> bool: ...

    @abstractmethod
    def _forget_rings(self, c: Contact) -> None: ...

    @abstractmethod
    def _leave_queue(self, c: Contact) -> None: ...

    @abstractmethod
    def _finish(self, c: Contact, trigger: str, ended_at: float) -> None: ...

    @abstractmethod
    def _team_logged(self, q: QueueState, team: str) -> int: ...

    @abstractmethod
    def _team_counts(self, q: QueueState, team: str) -> tuple[int, int]: ...

    @abstractmethod
    def _may_take(self, q: QueueState, agent_id: str) -> bool: ...

    @abstractmethod
    def _member_logged(self, a: Agent, ch: str, delta: int) -> None: ...

    @abstractmethod
    def _member_occupied(self, chs: AgentChannel, delta: int) -> None: ...

    @abstractmethod
    def _send_rosters(self) -> None: ...

    @abstractmethod
    def _update_eligible(self, q: QueueState) -> tuple[str, ...]: ...

    @abstractmethod
    def _on_answered(self, ev: ContactAnswered) -> None: ...
