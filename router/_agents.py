"""Agents: presence events, and the indexes kept current where a channel changes.

Every change to an agent's channel (presence, a contact offered or taken,
wrap-up) ends in ``_refresh``, which reads what the channel shows off the
display table and keeps three indexes exact: agents logged in and occupied per
(team, channel), and the agents that can be offered a contact now per
(channel, team). Dispatch, the census and gap checks read those counts instead
of rescanning agents, so the cost of an event does not grow with the number
of agents logged in.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from router._dispatch import DispatchMixin
from router._state import Agent, AgentChannel
from router.commands import CancelOffer
from router.errors import AgentBusy, AlreadyLoggedIn, InvalidEvent, InvalidTransition, UnknownName
from router.events import AgentAway, AgentLoggedIn, AgentLoggedOut, AgentReady
from router.tables import (
    CHANNEL_DISPLAY,
    CHANNEL_PRESENCE,
    ChannelState,
    Presence,
    TimerKind,
    agent_next,
)

__all__ = ["AgentsMixin"]

READY = Presence.READY


@mypyc_attr(allow_interpreted_subclasses=True)
class AgentsMixin(DispatchMixin):
    # --------------------------------------------------------------- index
    def _refresh(self, a: Agent, ch: str) -> None:
        """After a change to ``a`` on ``ch``: its displayed state and the indexes."""
        self._refresh_one(a, a.channels[ch])
        if self._blocks and ch == "phone":
            chat = a.channels.get("chat")
            if chat is not None:
                self._refresh_one(a, chat)  # a busy phone blocks new chats

    def _refresh_one(self, a: Agent, chs: AgentChannel) -> None:
        ch = chs.channel
        n_active, n_offered = len(chs.active), len(chs.offered)
        wrap = chs.wrap_until is not None
        state = CHANNEL_DISPLAY[(n_active > 0, n_offered > 0, wrap, chs.presence)]
        if state is not chs.state:
            chs.state = state
            chs.since = self._clock
        occupied = wrap or n_active + n_offered >= self._cap[ch]
        if not occupied and ch == "chat" and self._blocks:
            phone = a.channels.get("phone")
            occupied = phone is not None and bool(phone.active or phone.offered)
        takes = not occupied and chs.presence is READY
        if occupied is not chs.occupied:
            chs.occupied = occupied
            key = (chs.team, ch)
            self._occ[key] = self._occ.get(key, 0) + (1 if occupied else -1)
            if self._member_of:
                self._member_occupied(chs, 1 if occupied else -1)
            self._moved.add(ch)
        if takes is not chs.takes:
            chs.takes = takes
            if takes:
                self._ready[ch][chs.team][chs.agent_id] = chs
                self._n_ready[ch] += 1
                self._want.add(ch)
            else:
                del self._ready[ch][chs.team][chs.agent_id]
                self._n_ready[ch] -= 1

    def _logins_changed(self, ch: str) -> None:
        """Who is logged in on ``ch`` changed: eligibility (fallback), census, gaps, dispatch."""
        for q in self._queues.values():
            if q.channel == ch:
                q.teams = None
        self._moved.add(ch)
        self._want.add(ch)
        self._gaps_due = True
        self._roster_due.add(ch)

    # -------------------------------------------------------------- events
    def _check_logged_in(self, ev: AgentLoggedIn) -> None:
        if ev.team not in self.config.teams:
            raise UnknownName(f"unknown team {ev.team!r}", field="team")
        for ch in ev.channels:
            if ch not in self.config.channels:
                raise InvalidEvent(f"channel {ch!r} is not configured", field="channels")
        a = self._agents.get(ev.agent_id)
        if a is None or not a.channels:
            return
        agent_next(a.presence, "agent.logged_in", a.id)
        if a.team != ev.team:
            raise AlreadyLoggedIn(
                f"agent {a.id} is logged in for team {a.team}; log out before joining {ev.team}",
                field="team",
            )

    def _on_logged_in(self, ev: AgentLoggedIn) -> None:
        now = self._clock
        a = self._agents.get(ev.agent_id)
        if a is None:
            self._agent_seq += 1
            a = Agent(id=ev.agent_id, team=ev.team, seq=self._agent_seq)
            self._agents[a.id] = a
        a.team = ev.team
        # Logging in on more channels adds them (the phone and the chat vendor
        # each report their own channel); they take the agent's presence.
        presence = agent_next(a.presence, "agent.logged_in", a.id)
        assert presence is not None
        for ch in ev.channels:
            if ch not in a.channels:
                a.channels[ch] = AgentChannel(
                    agent_id=a.id,
                    team=a.team,
                    channel=ch,
                    seq=a.seq,
                    presence=presence,
                    since=now,
                    idle_since=now,
                    state=ChannelState.LOGGED_OUT,
                )
                self._went_on(a, ch)
                key = (a.team, ch)
                self._logged[key] = self._logged.get(key, 0) + 1
                self._member_logged(a, ch, 1)
                self._logins_changed(ch)
                self._refresh(a, ch)

    def _drop_channel(self, a: Agent, ch: str) -> None:
        self._withdraw_offers(a, (ch,))
        chs = a.channels.pop(ch)
        if chs.occupied:
            self._occ[(chs.team, ch)] -= 1
            self._member_occupied(chs, -1)
        self._member_logged(a, ch, -1)
        if chs.takes:
            del self._ready[ch][chs.team][a.id]
            self._n_ready[ch] -= 1
        self._went_off(a, ch)
        self._logged[(a.team, ch)] -= 1
        self._logins_changed(ch)
        self._timers.cancel(TimerKind.WRAP, (a.id, ch))
        if ch == "phone" and self._blocks and "chat" in a.channels:
            self._refresh_one(a, a.channels["chat"])

    def _check_logged_out(self, ev: AgentLoggedOut) -> None:
        a = self._agent(ev.agent_id)
        agent_next(a.presence, "agent.logged_out", a.id)
        leaving = ev.channels or tuple(a.channels)
        busy = [ch for ch in leaving if ch in a.channels and a.channels[ch].active]
        if busy:
            raise AgentBusy(
                f"agent {a.id} is busy on {busy[0]}; end the contact before logging out",
                field="agent_id",
            )

    def _on_logged_out(self, ev: AgentLoggedOut) -> None:
        a = self._agents[ev.agent_id]
        for ch in ev.channels or tuple(a.channels):
            if ch in a.channels:
                self._drop_channel(a, ch)
        if not a.channels:
            a.away_reason = None
            a.no_answer_streak = 0
            self._close_alert(a.auto_away_alert)

    def _check_ready(self, ev: AgentReady) -> None:
        a = self._agent(ev.agent_id)
        agent_next(a.presence, "agent.ready", a.id)
        for ch in ev.channels:
            if ch not in a.channels:
                raise InvalidTransition(f"agent {a.id} is not logged in on {ch}", field="channels")

    def _on_ready(self, ev: AgentReady) -> None:
        a = self._agents[ev.agent_id]
        for ch in ev.channels or tuple(a.channels):
            chs = a.channels[ch]
            presence = CHANNEL_PRESENCE[(chs.presence, "agent.ready")]
            if presence is not chs.presence:
                chs.presence = presence
                chs.idle_since = self._clock
                self._refresh(a, ch)
        if all(c.presence is READY for c in a.channels.values()):
            a.away_reason = None
        a.no_answer_streak = 0
        self._close_alert(a.auto_away_alert)

    def _check_away(self, ev: AgentAway) -> None:
        a = self._agent(ev.agent_id)
        agent_next(a.presence, "agent.away", a.id)

    def _on_away(self, ev: AgentAway) -> None:
        self._set_away(self._agents[ev.agent_id], ev.reason, "agent.away")

    def _set_away(self, a: Agent, reason: str, trigger: str = "auto_away") -> None:
        self._withdraw_offers(a, tuple(a.channels))
        for ch, chs in a.channels.items():
            chs.presence = CHANNEL_PRESENCE[(chs.presence, trigger)]
            self._refresh(a, ch)
        a.away_reason = reason

    def _withdraw_offers(self, a: Agent, channels: tuple[str, ...]) -> None:
        for ch in channels:
            chs = a.channels[ch]
            for cid in list(chs.offered):
                c = self._contacts[cid]
                self._unring(c, a.id)
                self._emit(CancelOffer, contact_id=cid, agent_ids=(a.id,))
                self._after_unring(c)
