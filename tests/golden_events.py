"""A fixed, scripted event log for the report's golden tests.

Two days of VO-linjen (config/vo-linjen.toml): Friday 29 Oct 2021 (KSS by day,
OK in the evening, chat 09-20) and Saturday 6 Nov 2021 (OK all day, chat
closed). Each contact's expected outcome is in the comment beside it; the
tests check the key figures by hand as well as against the golden files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.store import EmbeddedStore
from router import HelplineConfig
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    ChatFeedback,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    Event,
    OfferDeclined,
)

OSLO = ZoneInfo("Europe/Oslo")
FRI = "2021-10-29 "
SAT = "2021-11-06 "

# (local time, action, arguments)
SCRIPT: list[tuple[str, str, tuple[Any, ...]]] = [
    (FRI + "08:20", "login", ("kss-1", "kss", ("phone", "chat"))),
    (FRI + "08:25", "login", ("kss-2", "kss", ("phone",))),
    (FRI + "09:02:00", "arrive", ("p1", "phone")),
    (FRI + "09:02:07", "answer", ("p1", "kss-1")),  # answered, wait 7
    (FRI + "09:12:07", "end", ("p1",)),
    (FRI + "09:30:00", "arrive", ("p2", "phone")),
    (FRI + "09:30:04", "abandon", ("p2",)),  # short_abandon
    (FRI + "10:00:00", "arrive", ("c1", "chat")),
    (FRI + "10:00:30", "answer", ("c1", "kss-1")),  # answered, wait 30
    (FRI + "10:20:00", "end", ("c1",)),
    (FRI + "10:20:30", "feedback", ("c1", 9)),
    (FRI + "11:00:00", "arrive", ("p3", "phone")),
    (FRI + "11:00:03", "answer", ("p3", "kss-2")),  # answered, wait 3
    (FRI + "11:00:10", "arrive", ("p4", "phone")),
    (FRI + "11:00:40", "answer", ("p4", "kss-1")),  # rang out at 20 s; answered, wait 30
    (FRI + "11:10:00", "end", ("p3",)),
    (FRI + "11:12:00", "end", ("p4",)),
    (FRI + "11:30:00", "arrive", ("p5", "phone")),  # rings both 20 s, again after 5 s
    (FRI + "11:30:40", "abandon", ("p5",)),  # other / rang_unanswered
    (FRI + "12:00:00", "away", ("kss-1", "lunch")),
    (FRI + "12:00:00", "away", ("kss-2", "lunch")),
    (FRI + "12:05:00", "arrive", ("p6", "phone")),
    (FRI + "12:05:40", "abandon", ("p6",)),  # other / agents_away
    (FRI + "12:30:00", "ready", ("kss-1",)),
    (FRI + "12:30:00", "ready", ("kss-2",)),
    (FRI + "14:00:00", "arrive", ("p7", "phone")),
    (FRI + "14:00:05", "answer", ("p7", "kss-1")),  # answered, wait 5
    (FRI + "14:00:10", "arrive", ("p8", "phone")),
    (FRI + "14:00:12", "answer", ("p8", "kss-2")),  # answered, wait 2
    (FRI + "14:00:20", "arrive", ("p9", "phone")),
    (FRI + "14:01:20", "abandon", ("p9",)),  # agents_busy
    (FRI + "14:10:00", "end", ("p7",)),
    (FRI + "14:11:00", "end", ("p8",)),
    (FRI + "15:25:00", "logout", ("kss-1",)),
    (FRI + "15:25:00", "logout", ("kss-2",)),  # OK takes over at 15:30 with nobody: a gap
    (FRI + "15:50:00", "login", ("ok-1", "ok", ("phone", "chat"))),
    (FRI + "16:00:00", "arrive", ("c2", "chat")),
    (FRI + "16:00:50", "answer", ("c2", "ok-1")),  # answered, wait 50
    (FRI + "16:31:00", "end", ("c2",)),
    (FRI + "16:31:30", "feedback", ("c2", 6)),
    (FRI + "19:00:00", "arrive", ("p10", "phone")),
    (FRI + "19:00:25", "answer", ("p10", "ok-1")),  # rang out at 20 s; answered, wait 25
    (FRI + "19:20:00", "end", ("p10",)),
    (FRI + "21:00:00", "arrive", ("c3", "chat")),  # rejected: chat closes at 20:00
    (FRI + "21:00:40", "end", ("c3",)),
    (FRI + "22:00:00", "logout", ("ok-1",)),
    (FRI + "23:00:00", "arrive", ("c4", "chat")),  # rejected: closed
    (FRI + "23:00:20", "end", ("c4",)),
    (FRI + "23:30:00", "arrive", ("p11", "phone")),
    (FRI + "23:31:00", "abandon", ("p11",)),  # no_agent
    (SAT + "10:00:00", "login", ("ok-2", "ok", ("phone",))),
    (SAT + "10:10:00", "arrive", ("p12", "phone")),
    (SAT + "10:10:15", "answer", ("p12", "ok-2")),  # answered, wait 15
    (SAT + "10:25:00", "end", ("p12",)),
    (SAT + "11:00:00", "arrive", ("c5", "chat")),  # rejected: no chat on Saturdays
    (SAT + "11:00:30", "end", ("c5",)),
    (SAT + "13:00:00", "arrive", ("p13", "phone")),
    (SAT + "13:00:05", "decline", ("p13", "ok-2")),  # re-offered 5 s later
    (SAT + "13:00:12", "answer", ("p13", "ok-2")),  # answered, wait 12
    (SAT + "13:20:00", "end", ("p13",)),
    (SAT + "14:00:00", "arrive", ("p14", "phone")),
    (SAT + "14:00:09", "abandon", ("p14",)),  # short_abandon
    (SAT + "18:00:00", "logout", ("ok-2",)),
    (SAT + "20:00:00", "arrive", ("p15", "phone")),  # no end: missing_data at 21:00
]
FINAL_TICK = SAT + "23:59:00"


def ts(local: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=OSLO).timestamp()


def events() -> list[Event]:
    """The script as router events, ids g1, g2, ..."""
    out: list[Event] = []
    for n, (local, action, args) in enumerate(SCRIPT, 1):
        env: dict[str, Any] = {"event_id": f"g{n}", "at": ts(local), "source": "golden"}
        if action == "login":
            out.append(AgentLoggedIn(**env, agent_id=args[0], team=args[1], channels=args[2]))
        elif action == "logout":
            out.append(AgentLoggedOut(**env, agent_id=args[0]))
        elif action == "away":
            out.append(AgentAway(**env, agent_id=args[0], reason=args[1]))
        elif action == "ready":
            out.append(AgentReady(**env, agent_id=args[0]))
        elif action == "arrive":
            out.append(ContactArrived(**env, contact_id=args[0], channel=args[1], queue=args[1]))
        elif action == "answer":
            out.append(ContactAnswered(**env, contact_id=args[0], agent_id=args[1]))
        elif action == "decline":
            out.append(OfferDeclined(**env, contact_id=args[0], agent_id=args[1]))
        elif action == "abandon":
            out.append(ContactAbandoned(**env, contact_id=args[0]))
        elif action == "end":
            out.append(ContactEnded(**env, contact_id=args[0]))
        elif action == "feedback":
            out.append(ChatFeedback(**env, contact_id=args[0], rating=args[1]))
        else:  # pragma: no cover - a typo in the script
            raise AssertionError(action)
    return out


def build_log(data_dir: Path, config: HelplineConfig) -> None:
    """Write the scripted log into ``data_dir`` through the embedded store."""
    with EmbeddedStore.open(data_dir, config, fsync=False) as store:
        for event in events():
            store.tick(event.at)  # the live service's timer loop
            (result,) = store.ingest([event])
            assert result.status == "accepted", (event, result.error)
        store.tick(ts(FINAL_TICK))
