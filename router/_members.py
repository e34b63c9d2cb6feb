"""Queue membership and the rosters sent as ``set_members``.

An agent takes a queue's contacts only if its team serves the queue now
(``router._dispatch._update_eligible``) and, where the queue has a member list,
it is on that list: the configured ``members`` plus ``agent.joined_queue``,
less ``agent.left_queue``. A queue without a list (none configured, no join
observed) takes every agent of its serving teams, as before.

For a queue with a list, the counts dispatch, census, fallback and gap checks
read are kept per (queue, team) here, beside the per (team, channel) counts of
``router._agents``, and follow the same changes (login, logout, occupancy,
join, leave), so nothing rescans agents on the hot path.

A queue's roster is who should be reachable on it now: the agents logged in on
its channel whose team serves it and who belong to it. Whenever that set
changes (a handover boundary, an absence, a fallback starting or ending, a
login or logout, a join or leave) the next settle emits ``set_members`` with the
whole list and a version that grows per queue, in either routing mode: a
carrier ring group or a PBX queue follows the schedule without a hand switch.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from router._registrations import RegistrationsMixin
from router._state import Agent, AgentChannel, QueueState
from router.commands import SetMembers
from router.config import HelplineConfig
from router.errors import UnknownName
from router.events import AgentJoinedQueue, AgentLeftQueue

__all__ = ["MembersMixin"]


@mypyc_attr(allow_interpreted_subclasses=True)
class MembersMixin(RegistrationsMixin):
    def __init__(self, config: HelplineConfig) -> None:
        super().__init__(config)
        cfg = self.config
        # queue -> its members (only queues that have a list), in the order they joined
        self._members: dict[str, dict[str, None]] = {
            name: dict.fromkeys(q.members) for name, q in cfg.queues.items() if q.members
        }
        self._member_of: dict[str, list[str]] = {}  # agent -> queues with a list it is on
        for name, ids in self._members.items():
            for aid in ids:
                self._member_of.setdefault(aid, []).append(name)
        # (queue, team) -> members logged in on the queue's channel / of them occupied
        self._qlogged: dict[tuple[str, str], int] = {}
        self._qocc: dict[tuple[str, str], int] = {}
        self._roster: dict[str, tuple[int, tuple[str, ...]]] = {}  # queue -> last sent
        self._roster_due: set[str] = set()  # channels whose rosters may have changed
        self._qchannel = {name: q.channel for name, q in cfg.queues.items()}

    # ------------------------------------------------------------- counts
    def _team_logged(self, q: QueueState, team: str) -> int:
        """Agents of ``team`` logged in who may take ``q``'s contacts (its members, if listed)."""
        if q.name in self._members:
            return self._qlogged.get((q.name, team), 0)
        return self._logged.get((team, q.channel), 0)

    def _team_counts(self, q: QueueState, team: str) -> tuple[int, int]:
        """(logged in, occupied) of ``team`` for ``q``."""
        if q.name in self._members:
            key = (q.name, team)
            return self._qlogged.get(key, 0), self._qocc.get(key, 0)
        key = (team, q.channel)
        return self._logged.get(key, 0), self._occ.get(key, 0)

    def _member_logged(self, a: Agent, ch: str, delta: int) -> None:
        """``a`` logged in on (``delta`` 1) or out of (-1) ``ch``: the member counts."""
        for name in self._member_of.get(a.id, ()):
            if self._qchannel[name] == ch:
                key = (name, a.team)
                self._qlogged[key] = self._qlogged.get(key, 0) + delta

    def _member_occupied(self, chs: AgentChannel, delta: int) -> None:
        for name in self._member_of.get(chs.agent_id, ()):
            if self._qchannel[name] == chs.channel:
                key = (name, chs.team)
                self._qocc[key] = self._qocc.get(key, 0) + delta

    def _may_take(self, q: QueueState, agent_id: str) -> bool:
        members = self._members.get(q.name)
        return members is None or agent_id in members

    # ------------------------------------------------------------- events
    def _check_member_event(self, ev: AgentJoinedQueue | AgentLeftQueue) -> None:
        if ev.queue not in self.config.queues:
            raise UnknownName(f"unknown queue {ev.queue!r}", field="queue")

    def _on_joined_queue(self, ev: AgentJoinedQueue) -> None:
        members = self._members.setdefault(ev.queue, {})
        if ev.agent_id in members:
            return  # already a member: a join reported twice
        members[ev.agent_id] = None
        self._member_of.setdefault(ev.agent_id, []).append(ev.queue)
        self._membership_moved(ev.queue, ev.agent_id, 1)

    def _on_left_queue(self, ev: AgentLeftQueue) -> None:
        members = self._members.get(ev.queue)
        if members is None:
            # The first observed change of a queue without a list: everyone else
            # stays, so the list starts as the agents logged in on its channel.
            members = self._members[ev.queue] = {}
            for aid in self._on[self._qchannel[ev.queue]]:
                members[aid] = None
                self._member_of.setdefault(aid, []).append(ev.queue)
                self._membership_moved(ev.queue, aid, 1)
        if ev.agent_id not in members:
            return  # not a member: nothing to leave
        self._membership_moved(ev.queue, ev.agent_id, -1)
        del members[ev.agent_id]
        queues = self._member_of[ev.agent_id]
        queues.remove(ev.queue)
        if not queues:
            del self._member_of[ev.agent_id]

    def _membership_moved(self, queue: str, agent_id: str, delta: int) -> None:
        ch = self._qchannel[queue]
        a = self._agents.get(agent_id)
        chs = a.channels.get(ch) if a is not None else None
        if a is not None and chs is not None:
            key = (queue, a.team)
            self._qlogged[key] = self._qlogged.get(key, 0) + delta
            if chs.occupied:
                self._qocc[key] = self._qocc.get(key, 0) + delta
        q = self._queues.get(queue)
        if q is not None:
            q.teams = None
        self._moved.add(ch)
        self._want.add(ch)
        self._gaps_due = True
        self._roster_due.add(ch)

    # ------------------------------------------------------------- rosters
    def _roster_of(self, q: QueueState) -> tuple[str, ...]:
        teams = q.teams if q.teams is not None else self._update_eligible(q)
        members = self._members.get(q.name)
        if len(teams) == 1:
            ids = self._names_of(teams[0], q.channel)
        else:  # sorted runs, one per team: the sort merges them
            ids = sorted([aid for t in teams for aid in self._names_of(t, q.channel)])
        if members is None:
            return tuple(ids)
        return tuple(aid for aid in ids if aid in members)

    def _send_rosters(self) -> None:
        """``set_members`` for every queue whose roster changed since it was last sent."""
        due = self._roster_due
        for q in self._queues.values():
            if q.channel in due:
                ids = self._roster_of(q)
                version, last = self._roster.get(q.name, (0, ()))
                if ids != last:
                    self._roster[q.name] = (version + 1, ids)
                    self._emit(SetMembers, queue=q.name, agent_ids=ids, version=version + 1)
        due.clear()
