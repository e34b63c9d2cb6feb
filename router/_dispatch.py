"""Dispatch: offer waiting contacts to ready agents, and note what waiting contacts saw.

``_settle`` runs after every applied event and fired timer, but only looks at
what changed: a channel is dispatched only if something that could lead to an
offer happened on it (a contact arrived or stopped ringing someone, an agent
became able to take a contact, eligibility or a cool-down changed), and the
candidates come from the ready index of ``router._agents``, never from a scan
of every logged-in agent. What a waiting contact saw ("an eligible agent was
logged in / free at some point") is kept per queue as epochs that move when a
count leaves zero, so a contact's facts cost O(1) however long it waits.
"""

from __future__ import annotations

import math

from mypy_extensions import mypyc_attr

from router._handover import HandoverMixin
from router._state import AgentChannel, Contact, QueueState
from router.config import CLOSED
from router.errors import InternalError

__all__ = ["DispatchMixin"]


@mypyc_attr(allow_interpreted_subclasses=True)
class DispatchMixin(HandoverMixin):
    def _settle(self) -> None:
        """After every change: offer what can be offered, check gaps, take the census."""
        want = self._want
        if want:
            for ch in self._channels:
                if ch in want:
                    want.discard(ch)
                    if self._n_ready[ch] and self._waiting[ch]:
                        self._dispatch(ch)
        if self._gaps_due or self._clock >= self._gap_at:
            self._check_gaps()
        moved = self._moved
        if moved:
            for q in self._queues.values():
                if q.channel in moved:
                    self._take_census(q)
            moved.clear()
        if self._roster_due:
            self._send_rosters()
        fresh = self._fresh
        if fresh:
            queues = self._queues
            for c in fresh:
                q = queues[c.queue]
                c.saw_logged_in, c.logged_epoch = q.any_logged, q.logged_epoch
                c.saw_free, c.free_epoch = q.any_free, q.free_epoch
            fresh.clear()

    def _take_census(self, q: QueueState) -> None:
        """Whether an eligible agent is logged in / free now; epochs move when one appears."""
        logged, busy, _ = self._census(q)
        q.census = (logged, busy)
        if logged:
            if not q.any_logged:
                q.any_logged = True
                q.logged_epoch += 1
        else:
            q.any_logged = False
        if logged > busy:
            if not q.any_free:
                q.any_free = True
                q.free_epoch += 1
        else:
            q.any_free = False

    def _eligible(self, q: QueueState) -> tuple[frozenset[str], str, bool]:
        """Teams whose agents may be offered this queue's contacts now, the serving team,
        and whether a fallback team is among them."""
        teams = q.teams if q.teams is not None else self._update_eligible(q)
        return frozenset(teams), q.serving, q.fallback_active

    def _update_eligible(self, q: QueueState) -> tuple[str, ...]:
        """The owning team; if it has nobody logged in on the channel, also its
        fallback teams that do (the coverage plan's fallback rule). A closed
        queue keeps serving the contacts already queued with its last open owner.
        """
        owner = q.segment.owner
        if owner == CLOSED:
            owner = q.last_team
        count = self._team_logged
        if owner == CLOSED:
            teams: tuple[str, ...] = ()
        elif count(q, owner) > 0 or not q.fallback:
            teams = (owner,)
        else:
            fbs = [t for t in self.plan.fallbacks(owner) if count(q, t) > 0]
            teams = (owner, *fbs)
        if teams != q.teams_were:
            q.teams_were = teams
            self._roster_due.add(q.channel)  # who should be reachable on it changed
        q.teams, q.serving, q.fallback_active = teams, owner, len(teams) > 1
        return teams

    def _census_now(self, q: QueueState) -> tuple[int, int]:
        """(logged in, occupied) now: the last census unless its channel's counts moved since."""
        if q.channel in self._moved or q.teams is None:
            logged, busy, _ = self._census(q)
            return logged, busy
        return q.census

    def _census(self, q: QueueState) -> tuple[int, int, int]:
        """(eligible agents logged in, of them occupied, of them free) on the queue's channel."""
        teams = q.teams if q.teams is not None else self._update_eligible(q)
        ch = q.channel
        logged = busy = 0
        if q.name in self._members:
            for t in teams:
                n, b = self._team_counts(q, t)
                logged += n
                busy += b
            return logged, busy, logged - busy
        for t in teams:
            key = (t, ch)
            logged += self._logged.get(key, 0)
            busy += self._occ.get(key, 0)
        return logged, busy, logged - busy

    def _dispatch(self, ch: str) -> None:
        now = self._clock
        ready = self._ready[ch]
        n_ready = self._n_ready
        queues = self._queues
        for q in queues.values():  # anyone ready whom some queue on ch may offer to?
            if q.channel == ch and self._qwaiting[q.name] and q.name not in self._observe:
                teams = q.teams if q.teams is not None else self._update_eligible(q)
                if any(ready[t] for t in teams):
                    break
        else:
            return
        if ch in self._ring_all:
            # Offers never add or remove waiting contacts: the FIFO is walked in place.
            for c in self._waiting[ch].values():
                if self._try_offer(c, now, ready) and not n_ready[ch]:
                    return
            return
        # No queue here rings all: only contacts that ring nobody can be offered, and
        # they are indexed in FIFO order; an offer takes the contact out of the index.
        keys, by_seq = self._unrung[ch], self._by_seq
        i = 0
        while i < len(keys):
            if not self._try_offer(by_seq[keys[i]], now, ready):
                i += 1
            elif not n_ready[ch]:
                return

    def _try_offer(self, c: Contact, now: float, ready: dict[str, dict[str, AgentChannel]]) -> bool:
        """Offer ``c`` to whom its queue's strategy picks among the ready agents; True if it did."""
        q = self._queues[c.queue]
        if q.name in self._observe:
            return False  # the carrier or PBX rings its own agents
        ringing = c.ringing
        ring_all = q.strategy == "ring_all"
        if ringing and not ring_all:
            return False  # one agent at a time for the other strategies
        teams = q.teams if q.teams is not None else self._update_eligible(q)
        cooldown = c.cooldown
        members = self._members.get(q.name)
        cands: list[AgentChannel] = []
        for t in teams:
            for chs in ready[t].values():
                aid = chs.agent_id
                if (
                    aid not in ringing
                    and (not cooldown or cooldown.get(aid, -math.inf) <= now)
                    and (members is None or aid in members)
                ):
                    cands.append(chs)
        if not cands:
            return False
        targets = cands if ring_all else [self._pick(q, cands)]
        owner = q.serving
        if q.fallback_active and any(chs.team != owner for chs in targets):
            c.fallback = True
        self._offer(c, targets)
        return True

    def _pick(self, q: QueueState, cands: list[AgentChannel]) -> AgentChannel:
        if q.strategy == "longest_idle":
            return min(cands, key=lambda chs: (chs.idle_since, chs.seq))
        if q.strategy == "least_busy":
            return min(
                cands, key=lambda chs: (len(chs.active) + len(chs.offered), chs.idle_since, chs.seq)
            )
        if q.strategy == "round_robin":
            ordered = sorted(cands, key=lambda chs: chs.agent_id)
            last = q.rr_last
            pick = next((x for x in ordered if last is None or x.agent_id > last), ordered[0])
            q.rr_last = pick.agent_id
            return pick
        raise InternalError(f"unknown strategy {q.strategy!r}")  # pragma: no cover
