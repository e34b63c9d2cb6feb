"""At-least-once delivery: redelivered and reordered events, against one ordered delivery.

Adapters deliver at least once: a request whose answer was lost is sent again,
maybe much later, after a reconnect. Every event here is delivered one to
three times, the extra copies arriving at random later points (most within
the clock tolerance of the original, some hundreds of events later); the
service's statistics, log and records must equal those of one ordered
delivery. The service runs on a clock that follows the events
(``EventClock``), so a timer never fires past the next event (see
``tests/helpers/http_crash_server.py``).

Reordering the *first* deliveries within the clock tolerance is accepted by
the core (no event is refused), and a late event is recorded at its own time
(the core's clock only moves forward, but waits and handle times use the
event's time), so the figures do not move.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from adapters.http.app import ENGINES
from adapters.store import read_entries
from router import Event, HelplineConfig, Record, Router
from router.stats import fold_for_config, stats_to_json
from router.step import REFUSED
from tests.helpers.http_crash import clean_run, to_wire, wire_events
from tests.helpers.http_crash_server import EventClock
from tests.http_helpers import auth, bearer

GROUP_BY = ("channel", "team")


def redelivered(events: list[Event], tolerance: float, rng: random.Random) -> list[Event]:
    """Each event once in order, plus 0-2 copies later (70 % within the tolerance window)."""
    keyed: list[tuple[int, int, Event]] = []
    for i, e in enumerate(events):
        keyed.append((i, 0, e))
        for c in range(rng.randint(0, 2)):
            j = i
            if rng.random() < 0.7:
                while (j + 1 < len(events) and events[j + 1].at <= e.at + tolerance
                       and rng.random() < 0.8):  # fmt: skip
                    j += 1
            else:
                j = min(len(events) - 1, i + rng.randint(1, 200))
            keyed.append((j, 1 + c, e))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [e for _, _, e in keyed]


def stats_json(records: list[Any], config: HelplineConfig) -> Any:
    return json.loads(
        json.dumps(stats_to_json(fold_for_config(records, config, group_by=GROUP_BY)))
    )


@pytest.mark.parametrize("seed", [1, 2])
async def test_events_delivered_one_to_three_times_give_the_statistics_of_one_delivery(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, seed: int
) -> None:
    from adapters.http.app import build_app

    events = wire_events(vo_config, seed=seed, n_events=700)
    deliveries = redelivered(events, vo_config.clock_tolerance_s, random.Random(seed))
    assert len(deliveries) > 1.6 * len(events)
    clock = EventClock(events[0].at)
    app = build_app([vo_config], tmp_path, auth(), clock=clock)
    clock.engine = app[ENGINES][vo_config.id]
    client = await aiohttp_client(app)
    while (await client.get("/readyz")).status != 200:
        pass
    rng = random.Random(seed)
    statuses: dict[str, list[str]] = {}
    i = 0
    while i < len(deliveries):
        batch = deliveries[i : i + rng.randint(1, 3)]
        i += len(batch)
        r = await client.post("/v1/events", json={"events": [to_wire(e) for e in batch]},
                              headers=bearer("carrier"))  # fmt: skip
        assert r.status == 200, await r.text()
        for x in (await r.json())["results"]:
            statuses.setdefault(x["event_id"], []).append(x["status"])
    r = await client.get(f"/v1/stats?group_by={','.join(GROUP_BY)}", headers=bearer("planner"))
    served = await r.json()

    clean_ids, clean_records = clean_run(vo_config, events)
    assert served == stats_json(clean_records, vo_config)
    entries = list(read_entries(tmp_path / vo_config.id))
    assert [e.event.event_id for e in entries if e.event is not None] == clean_ids
    assert [r for e in entries for r in e.records] == clean_records
    # Every copy after an accepted first delivery was answered "duplicate".
    for eid in clean_ids:
        first, *copies = statuses[eid]
        assert first == "accepted" and set(copies) <= {"duplicate"}, (eid, statuses[eid])


def two_sources_shuffled(events: list[Event], tolerance: float, rng: random.Random) -> list[Event]:
    """Phone events (carrier) and chat events (chat vendor) each in order, interleaved
    so that an event may overtake the other source's events up to ``tolerance`` older."""
    chat_contacts = {e.contact_id for e in events
                     if getattr(e, "channel", None) == "chat"}  # fmt: skip
    is_chat = [getattr(e, "contact_id", None) in chat_contacts for e in events]
    # Each event's delivery time: its own time plus a delay within the tolerance;
    # within one source the order is kept (a source's stream is ordered).
    keyed: list[tuple[float, int, Event]] = []
    last = {True: -1e18, False: -1e18}
    for i, e in enumerate(events):
        t = max(e.at + rng.uniform(0, tolerance), last[is_chat[i]])
        last[is_chat[i]] = t
        keyed.append((t, i, e))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [e for _, _, e in keyed]


def fold_in_memory(events: list[Event], config: HelplineConfig) -> tuple[Any, int]:
    router = Router(config)
    refused = 0
    records: list[Record] = []
    for e in events:
        step = router.apply(e)
        records += step.records
        refused += step.status == REFUSED
    return stats_json(records, config), refused


def test_two_sources_interleaved_within_the_tolerance_are_all_accepted(
    vo_config: HelplineConfig,
) -> None:
    events = wire_events(vo_config, seed=3, n_events=3000)
    _, refused_ordered = fold_in_memory(events, vo_config)
    for seed in range(5):
        shuffled = two_sources_shuffled(events, vo_config.clock_tolerance_s, random.Random(seed))
        assert shuffled != events
        stats, refused = fold_in_memory(shuffled, vo_config)
        # No event is refused for arriving late, and every contact is counted once.
        assert refused == refused_ordered
        ordered_stats, _ = fold_in_memory(events, vo_config)
        assert [(g["channel"], g["contacts"]) for g in stats["groups"]] == [
            (g["channel"], g["contacts"]) for g in ordered_stats["groups"]
        ]


def test_two_sources_interleaved_within_the_tolerance_give_identical_statistics(
    vo_config: HelplineConfig,
) -> None:
    events = wire_events(vo_config, seed=3, n_events=3000)
    ordered, _ = fold_in_memory(events, vo_config)
    for seed in range(5):
        shuffled = two_sources_shuffled(events, vo_config.clock_tolerance_s, random.Random(seed))
        assert fold_in_memory(shuffled, vo_config)[0] == ordered
