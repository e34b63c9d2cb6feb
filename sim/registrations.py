"""A generated year of answered contacts and their content registrations (deterministic).

``registration_year`` gives the events of ``n`` contacts of one channel spread
evenly over a calendar year, each answered by the agent it was offered to,
ended and registered with the form version in force when it arrived. The
answers follow given shares exactly (largest-remainder rounding, then a seeded
shuffle), so the content statistics of the result must give back the shares
within rounding: what ``linje report --content`` is checked against.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from router.commands import Offer
from router.config import HelplineConfig
from router.core import Router
from router.events import (
    AgentLoggedIn,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    ContactRegistered,
    Event,
)

__all__ = ["allocate", "registration_year"]

Shares = Mapping[str, Mapping[str, float]]


def allocate(shares: Mapping[str, float], n: int) -> dict[str, int]:
    """Counts out of ``n`` for shares summing to 1 (largest remainder; ties by code)."""
    raw = {c: p * n for c, p in shares.items()}
    out = {c: int(v) for c, v in raw.items()}
    rest = n - sum(out.values())
    for c in sorted(raw, key=lambda c: (-(raw[c] - out[c]), c))[:rest]:
        out[c] += 1
    return out


def _answers(config: HelplineConfig, channel: str, shares: Shares, n: int, seed: int
             ) -> list[dict[str, object]]:  # fmt: skip
    form = config.form_for(channel)
    if form is None:
        raise ValueError(f"the helpline has no {channel} form")
    rng = random.Random(seed)
    out: list[dict[str, object]] = [{} for _ in range(n)]
    for name, f in form.newest.fields.items():
        p = shares.get(name)
        if p is None:
            continue
        if f.kind == "multi":
            # Each code for exactly round(p * n) contacts, in stripes that wrap around so
            # every contact gets one when the shares add up to 1 or more.
            start = 0
            picked: list[list[str]] = [[] for _ in range(n)]
            for code in f.codes:
                m = round(p.get(code, 0.0) * n)
                for j in range(m):
                    picked[(start + j) % n].append(code)
                start = (start + m) % n
            rng.shuffle(picked)
            for i in range(n):
                out[i][name] = picked[i]
        else:
            counts = allocate(p, n)
            codes = [c for c in f.codes for _ in range(counts.get(c, 0))]
            rng.shuffle(codes)
            for i in range(n):
                out[i][name] = codes[i]
    return out


def registration_year(
    config: HelplineConfig, year: int, channel: str, n: int, shares: Shares, *, seed: int = 1
) -> list[Event]:
    """The events of ``n`` answered and registered ``channel`` contacts in ``year``."""
    zone = ZoneInfo(config.timezone)
    start = dt.datetime(year, 1, 1, tzinfo=zone).timestamp()
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).timestamp()
    step = (end - start) / n
    router = Router(config)
    events: list[Event] = []

    def send(ev: Event) -> list[object]:
        result = router.apply(ev)
        if result.error is not None:
            raise ValueError(f"the generated event {ev.event_id} was refused: {result.error}")
        events.append(ev)
        return list(result.commands)

    for team in config.teams:
        send(AgentLoggedIn(event_id=f"gen-login-{team}", at=start, source="generator",
                           agent_id=f"{team}-1", team=team, channels=(channel,)))  # fmt: skip
    answers = _answers(config, channel, shares, n, seed)
    form = config.form_for(channel)
    assert form is not None
    for i in range(n):
        t = start + (i + 0.5) * step
        cid = f"gen-{year}-{channel}-{i}"
        cmds = send(ContactArrived(event_id=f"{cid}-a", at=t, source="generator",
                                   contact_id=cid, channel=channel, queue=channel))  # fmt: skip
        offer = next((c for c in cmds if isinstance(c, Offer)), None)
        if offer is None:
            raise ValueError(f"contact {cid} was offered to nobody (the {channel} queue closed?)")
        agent = offer.agent_ids[0]
        send(ContactAnswered(event_id=f"{cid}-b", at=t + 5, source="generator",
                             contact_id=cid, agent_id=agent))  # fmt: skip
        send(ContactEnded(event_id=f"{cid}-c", at=t + 600, source="generator", contact_id=cid))
        version = form.in_force(dt.datetime.fromtimestamp(t, zone).date())
        assert version is not None
        send(ContactRegistered(event_id=f"{cid}-d", at=t + 660, source=agent, contact_id=cid,
                               form=form.id, version=version.version, answers=answers[i],
                               by=agent))  # fmt: skip
    return events
