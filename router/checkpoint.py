"""A router's state as plain data, and back: what snapshots store instead of a pickle.

``dump(router)`` gives nested dicts and lists of str, int, float, bool and
None only (msgpack or JSON can hold them; nothing in them can run code when
read back); ``load(config, data)`` rebuilds a ``Router`` that behaves exactly as
the one dumped: same commands, records and supervisor view for the same events.
Everything derived from the configuration (the coverage plan, capacities,
caches) is rebuilt from ``config``, not stored. Insertion orders that the core
iterates in are kept (lists, not sets). A malformed ``data`` raises
``CheckpointError``; the caller falls back to replaying the log.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from router._escalations import EscalationState
from router._registrations import Answered
from router._state import Agent, AgentChannel, AlertState, Contact, GapState, QueueState
from router.config import HelplineConfig
from router.core import Router
from router.coverage import Absence, Segment
from router.errors import CheckpointError
from router.tables import ChannelState, ContactState, Presence, TimerKind

__all__ = ["FORMAT", "CheckpointError", "dump", "load"]

FORMAT = 1

# A state by its value: a dict lookup, where calling the enum class (``ContactState(v)``)
# costs microseconds per contact and agent of a large checkpoint (a bad value: KeyError,
# reported by ``load`` like any other malformed checkpoint).
_CONTACT_STATES: dict[str, ContactState] = {s.value: s for s in ContactState}
_PRESENCES: dict[str, Presence] = {p.value: p for p in Presence}
_CHANNEL_STATES: dict[str, ChannelState] = {s.value: s for s in ChannelState}


def _contact(c: Contact) -> list[Any]:
    return [
        c.id, c.channel, c.queue, c.arrived_at, c.seq, c.team, c.state.value,
        list(c.ringing.items()), None if c.cooldown is None else list(c.cooldown.items()),
        None if c.lapsed is None else list(c.lapsed.items()), sorted(c.rung), c.offers,
        c.saw_logged_in, c.saw_free, c.logged_epoch, c.free_epoch, c.fallback,
        c.logged_in_at_arrival, c.busy_at_arrival, c.agent_id, c.answered_at, c.ended_at,
        list(c.flags), c.long_wait_alert, c.feedback,
    ]  # fmt: skip


def _contact_from(v: list[Any]) -> Contact:
    return Contact(
        id=v[0], channel=v[1], queue=v[2], arrived_at=v[3], seq=v[4], team=v[5],
        state=_CONTACT_STATES[v[6]], ringing=dict(v[7]),
        cooldown=None if v[8] is None else dict(v[8]),
        lapsed=None if v[9] is None else dict(v[9]), rung=set(v[10]), offers=v[11],
        saw_logged_in=v[12], saw_free=v[13], logged_epoch=v[14], free_epoch=v[15],
        fallback=v[16], logged_in_at_arrival=v[17], busy_at_arrival=v[18], agent_id=v[19],
        answered_at=v[20], ended_at=v[21], flags=tuple(v[22]), long_wait_alert=v[23],
        feedback=v[24],
    )  # fmt: skip


def _agent(a: Agent) -> list[Any]:
    channels = [
        [ch, x.presence.value, x.since, x.idle_since, x.state.value, list(x.active),
         list(x.offered), x.wrap_until, x.occupied, x.takes]
        for ch, x in a.channels.items()
    ]  # fmt: skip
    return [a.id, a.team, a.seq, channels, a.away_reason, a.no_answer_streak, a.auto_away_alert]


def _agent_from(v: list[Any]) -> Agent:
    a = Agent(id=v[0], team=v[1], seq=v[2], away_reason=v[4], no_answer_streak=v[5],
              auto_away_alert=v[6])  # fmt: skip
    for ch, presence, since, idle, state, active, offered, wrap, occupied, takes in v[3]:
        a.channels[ch] = AgentChannel(
            agent_id=a.id, team=a.team, channel=ch, seq=a.seq, presence=_PRESENCES[presence],
            since=since, idle_since=idle, state=_CHANNEL_STATES[state],
            active=dict.fromkeys(active), offered=dict.fromkeys(offered), wrap_until=wrap,
            occupied=occupied, takes=takes,
        )  # fmt: skip
    return a


def _queue(q: QueueState) -> list[Any]:
    s, g = q.segment, q.gap
    return [
        q.name, [s.owner, s.start, s.end, s.change_at_end], q.last_team,
        None if g is None else [g.team, g.boundary_at, g.start, g.alert_id], q.rr_last,
        list(q.census), q.any_logged, q.any_free, q.logged_epoch, q.free_epoch,
    ]  # fmt: skip


def _alert(al: AlertState) -> list[Any]:
    return [al.id, al.kind, al.raised_at, al.details, al.open, al.closed_at, al.acked_by,
            al.acked_at]  # fmt: skip


def _plain_key(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _timer_key(kind: TimerKind, key: Any) -> Any:
    return tuple(key) if kind is TimerKind.WRAP else key  # (agent_id, channel)


def _dump_escalations(r: Router) -> dict[str, Any]:
    """The escalations (router._escalations) as plain lists, in their insertion order."""
    return {
        "items": [
            [e.id, e.contact_id, e.channel, e.queue, e.team, e.agent_id, e.flag, e.category,
             e.raised_at, e.raised_by, e.level, list(e.alert_ids),
             [[t, list(to)] for t, to in e.alerted], e.acked_by, e.acked_at,
             [[step, by, at] for step, (by, at) in e.ticks.items()], e.hold_requested_at,
             e.hold_acked_at, e.closed_at, e.closed_by, e.close_reason]
            for e in r._escalations.values()
        ],
        "by_contact": [list(x) for x in r._esc_by_contact.items()],
        "closed": [list(x) for x in r._closed_escalations],
        "seq": r._esc_seq,
    }  # fmt: skip


def _load_escalations(r: Router, d: dict[str, Any]) -> None:
    for v in d["items"]:
        e = EscalationState(
            id=v[0], contact_id=v[1], channel=v[2], queue=v[3], team=v[4], agent_id=v[5],
            flag=v[6], category=v[7], raised_at=v[8], raised_by=v[9], level=v[10],
            alert_ids=list(v[11]), alerted=[(t, tuple(to)) for t, to in v[12]],
            acked_by=v[13], acked_at=v[14], ticks={s: (by, at) for s, by, at in v[15]},
            hold_requested_at=v[16], hold_acked_at=v[17], closed_at=v[18], closed_by=v[19],
            close_reason=v[20],
        )  # fmt: skip
        r._escalations[e.id] = e
    r._esc_by_contact = {c: i for c, i in d["by_contact"]}
    r._closed_escalations = deque((t, i) for t, i in d["closed"])
    r._esc_seq = d["seq"]


def _dump_members(r: Router) -> dict[str, Any]:
    """Queue membership, observed rings and the rosters last sent (router._members, _observe)."""
    return {
        "lists": [[q, list(ids)] for q, ids in r._members.items()],
        "counts": [[q, tm, n, r._qocc.get((q, tm), 0)] for (q, tm), n in r._qlogged.items()],
        "occ_only": [[q, tm, n] for (q, tm), n in r._qocc.items() if (q, tm) not in r._qlogged],
        "rosters": [[q, v, list(ids)] for q, (v, ids) in r._roster.items()],
        "due": sorted(r._roster_due),
        "rang": [[cid, list(x.items())] for cid, x in r._rang.items()],
    }


def _load_members(r: Router, d: dict[str, Any]) -> None:
    r._members = {q: dict.fromkeys(ids) for q, ids in d["lists"]}
    r._member_of = {}
    for q, ids in r._members.items():
        for aid in ids:
            r._member_of.setdefault(aid, []).append(q)
    r._qlogged = {(q, tm): n for q, tm, n, _ in d["counts"]}
    r._qocc = {(q, tm): occ for q, tm, _, occ in d["counts"] if occ}
    r._qocc.update({(q, tm): occ for q, tm, occ in d["occ_only"]})
    r._roster = {q: (v, tuple(ids)) for q, v, ids in d["rosters"]}
    r._roster_due = set(d["due"])
    r._rang = {cid: dict(x) for cid, x in d["rang"]}


def _dump_registrations(r: Router) -> list[Any]:
    """The index of answered contacts in the amendment window, in answer order."""
    return [
        [[t, cid] for t, cid in r._answered_order],
        [[cid, e.channel, e.team, e.agent_id, e.arrived_at, e.answered_at, e.registrations]
         for cid, e in r._answered.items()],
    ]  # fmt: skip


def _load_registrations(r: Router, v: list[Any]) -> None:
    order, entries = v
    r._answered_order = deque((t, cid) for t, cid in order)
    r._answered = {x[0]: Answered(*x[1:]) for x in entries}


def dump(router: Router) -> dict[str, Any]:
    """The router's whole state as plain data (between steps: nothing half-applied)."""
    r = router
    t = r._timers
    return {
        "format": FORMAT,
        "now": r.now,
        "started_at": r.started_at,
        "queues": [_queue(q) for q in r._queues.values()],
        "contacts": [_contact(c) for c in r._contacts.values()],
        "agents": [_agent(a) for a in r._agents.values()],
        "waiting": {ch: list(w) for ch, w in r._waiting.items()},
        "on": {ch: list(on) for ch, on in r._on.items()},
        "ready": {ch: {tm: list(x) for tm, x in teams.items()} for ch, teams in r._ready.items()},
        "counts": [[tm, ch, n, r._occ.get((tm, ch), 0)] for (tm, ch), n in r._logged.items()],
        "occ_only": [[tm, ch, n] for (tm, ch), n in r._occ.items() if (tm, ch) not in r._logged],
        "moved": sorted(r._moved),
        "want": sorted(r._want),
        "gaps_due": r._gaps_due,
        "gap_at": r._gap_at,
        "absences": [[a.team, a.start, a.end] for a in r._absences],
        "alerts": [_alert(al) for al in r._alerts.values()],
        "closed_alerts": [list(x) for x in r._closed_alerts],
        "seen": [list(r._seen), [r.seen_digest(eid) for eid in r._seen]],
        "seen_order": [[x[0] for x in r._seen_order], [x[1] for x in r._seen_order]],
        "ended": [list(x) for x in r._ended],
        "next_purge": r._next_purge,
        "registrations": _dump_registrations(r),
        # The live timers only: the heap's layout (and its dead entries) depends on
        # when it was pruned, so a restored router rebuilds it (same firing order).
        "timers": {
            "live": [
                [int(k), [[_plain_key(key), s, d] for key, s, d in entries]]
                for k, entries in t.live()
            ],
            "seq": t._seq,
        },
        "seqs": [r._cmd_seq, r._contact_seq, r._agent_seq, r._alert_seq],
        "members": _dump_members(r),
        "totals": [r.arrived_total, r.ended_total],
        "today": {
            "date": r.today.date,
            "end": r.today.end,
            "start": r.today._start,
            "bounds": list(r.today._bounds),
            "counts": r.today.counts,
            "hours": r.today.hours,
        },
        "escalations": _dump_escalations(r),
    }


def load(config: HelplineConfig, data: Any) -> Router:
    """A router in exactly the dumped state, for ``config`` (the one it was dumped under)."""
    try:
        return _load(config, data)
    except CheckpointError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"not a checkpoint of this format ({type(exc).__name__})") from None


def _load(config: HelplineConfig, d: Any) -> Router:
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CheckpointError("not a checkpoint of this format")
    r = Router(config)
    r.now = d["now"]
    r._clock = d["now"] if d["now"] is not None else r._clock
    r.started_at = d["started_at"]
    for name, seg, last, gap, rr, census, any_l, any_f, ep_l, ep_f in d["queues"]:
        qc = config.queues[name]
        q = QueueState(
            name=name, channel=qc.channel, strategy=qc.effective_strategy,
            segment=Segment(owner=seg[0], start=seg[1], end=seg[2], change_at_end=seg[3]),
            last_team=last, fallback=qc.fallback, grace_s=qc.grace_min * 60,
            gap=None if gap is None else GapState(*gap), rr_last=rr, census=tuple(census),
            any_logged=any_l, any_free=any_f, logged_epoch=ep_l, free_epoch=ep_f,
        )  # fmt: skip
        r._queues[name] = q
    for v in d["contacts"]:
        c = _contact_from(v)
        r._contacts[c.id] = c
    for v in d["agents"]:
        a = _agent_from(v)
        r._agents[a.id] = a
    for ch, ids in d["waiting"].items():
        r._waiting[ch] = {cid: r._contacts[cid] for cid in ids}
        for c in r._waiting[ch].values():
            r._qwaiting[c.queue] += 1
            if c.state is ContactState.WAITING:
                r._unrung[ch].append(c.seq)
                r._by_seq[c.seq] = c
        r._unrung[ch].sort()
    for ch, ids in d["on"].items():
        r._on[ch] = {aid: r._agents[aid] for aid in ids}
    for ch, teams in d["ready"].items():
        for tm, ids in teams.items():
            r._ready[ch][tm] = {aid: r._agents[aid].channels[ch] for aid in ids}
        r._n_ready[ch] = sum(len(x) for x in r._ready[ch].values())
    for tm, ch, n, occ in d["counts"]:
        r._logged[(tm, ch)] = n
        if occ:
            r._occ[(tm, ch)] = occ
    for tm, ch, occ in d["occ_only"]:
        r._occ[(tm, ch)] = occ
    r._moved = set(d["moved"])
    r._want = set(d["want"])
    r._gaps_due, r._gap_at = d["gaps_due"], d["gap_at"]
    r._absences = [Absence(team=tm, start=s, end=e) for tm, s, e in d["absences"]]
    for v in d["alerts"]:
        r._alerts[v[0]] = AlertState(*v)
    r._closed_alerts = deque((t, i) for t, i in d["closed_alerts"])
    ids, digests = d["seen"]
    r._seen = dict(zip(ids, digests, strict=True))
    times, ids = d["seen_order"]
    r._seen_order = deque(zip(times, ids, strict=True))
    r._ended = deque((t, i) for t, i in d["ended"])
    r._next_purge = d["next_purge"]
    _load_registrations(r, d["registrations"])
    t = d["timers"]
    for k, entries in t["live"]:
        kind = TimerKind(k)
        # Restored timers go in the heap (no lane): the same firing order.
        for key, s, dl in entries:
            r._timers.restore(dl, s, kind, _timer_key(kind, key))
    r._timers._seq = t["seq"]
    r._timers.compact()
    r._cmd_seq, r._contact_seq, r._agent_seq, r._alert_seq = d["seqs"]
    _load_members(r, d["members"])
    r.arrived_total, r.ended_total = d["totals"]
    td = d["today"]
    today = r.today
    today.date, today.end, today._start = td["date"], td["end"], td["start"]
    today._bounds = list(td["bounds"])
    today.counts = {ch: dict(v) for ch, v in td["counts"].items()}
    today.hours = {ch: {k: list(x) for k, x in v.items()} for ch, v in td["hours"].items()}
    _load_escalations(r, d["escalations"])
    return r
