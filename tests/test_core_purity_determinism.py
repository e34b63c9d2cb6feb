"""The core is pure (no I/O, no clock) and deterministic (same events, same everything)."""

from __future__ import annotations

import ast
import random
from pathlib import Path

from adapters.config_file import load_config
from router import Router, Step, command_to_dict, record_to_dict
from router.events import (
    AgentAway,
    AgentLoggedIn,
    AgentReady,
    ContactAbandoned,
    ContactAnswered,
    ContactArrived,
    ContactEnded,
    Event,
)
from tests.conftest import ROOT, VO_LINJEN

FORBIDDEN = {
    "asyncio", "aiohttp", "redis", "msgpack", "time", "socket", "os", "io", "pathlib",
    "subprocess", "threading", "random", "uvloop", "tomllib", "open",
}  # fmt: skip


def test_router_imports_no_io_clock_or_randomness() -> None:
    offenders = []
    for path in sorted((ROOT / "router").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = [node.func.id] if node.func.id == "open" else []
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in ("now", "today", "utcnow")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in ("datetime", "date")
            ):
                names = [f"datetime.{node.attr}"]
            offenders += [f"{path.name}: {n}" for n in names if n in FORBIDDEN or "." in n]
    assert offenders == []


def random_day(seed: int) -> list[Event]:
    """A seeded, realistic day of events: logins, arrivals, answers, abandons, ends."""
    rng = random.Random(seed)
    t = 1636956000.0  # Monday 07:00
    events: list[Event] = []
    n = 0

    def env() -> dict[str, object]:
        nonlocal n
        n += 1
        return {"event_id": f"e{n}", "at": t, "source": "det"}

    for a, team in (("kss-1", "kss"), ("kss-2", "kss"), ("ok-1", "ok"), ("ok-2", "ok")):
        events.append(AgentLoggedIn(**env(), agent_id=a, team=team, channels=("phone", "chat")))
    for i in range(300):
        t += rng.expovariate(1 / 240)
        ch = rng.choice(["phone", "phone", "chat"])
        events.append(ContactArrived(**env(), contact_id=f"c{i}", channel=ch, queue=ch))
        roll = rng.random()
        t += rng.uniform(1, 30)
        if roll < 0.6:
            agent = rng.choice(["kss-1", "kss-2", "ok-1", "ok-2"])
            events.append(ContactAnswered(**env(), contact_id=f"c{i}", agent_id=agent))
            t += rng.uniform(60, 600)
            events.append(ContactEnded(**env(), contact_id=f"c{i}"))
        elif roll < 0.9:
            events.append(ContactAbandoned(**env(), contact_id=f"c{i}"))
        elif roll < 0.95:
            events.append(AgentAway(**env(), agent_id="ok-2", reason="other_duties"))
        else:
            events.append(AgentReady(**env(), agent_id="ok-2"))
    return events


def run(events: list[Event], advance_every: float | None = None) -> tuple[list, list, dict]:  # type: ignore[type-arg]
    router = Router(load_config(VO_LINJEN))
    commands: list[dict] = []  # type: ignore[type-arg]
    records: list[dict] = []  # type: ignore[type-arg]

    def took(step: Step) -> None:
        commands.extend(command_to_dict(c) for c in step.commands)
        records.extend(record_to_dict(r) for r in step.records)

    for ev in events:
        if advance_every is not None and router.now is not None:
            t = router.now
            while t + advance_every < ev.at:
                t += advance_every
                took(router.advance(t))
        step = router.apply(ev)
        if step.error is not None:  # refused events are part of the conversation too
            commands.append({"refused": type(step.error).__name__, "event": ev.event_id})
        took(step)
    took(router.advance(events[-1].at + 7200))
    return commands, records, router.snapshot()


def test_same_events_twice_give_identical_commands_records_and_snapshots() -> None:
    events = random_day(7)
    assert run(events) == run(events)


def test_how_often_the_driver_calls_advance_does_not_change_the_outcome() -> None:
    events = random_day(11)
    lazy = run(events)
    eager = run(events, advance_every=1.0)

    def split(log: list) -> tuple[list, list]:  # type: ignore[type-arg]
        return [c for c in log if "refused" not in c], [c for c in log if "refused" in c]

    assert split(eager[0]) == split(lazy[0])
    assert eager[1] == lazy[1]


def test_the_checked_in_config_is_valid() -> None:
    cfg = load_config(Path(VO_LINJEN))
    assert cfg.queues["phone"].effective_strategy == "ring_all"
    assert cfg.queues["chat"].effective_strategy == "least_busy"


def test_an_answer_after_a_due_re_offer_is_accepted_without_an_advance_call(
    vo_config,  # type: ignore[no-untyped-def]
) -> None:
    from router.testing import Script, brief

    s = Script(Router(vo_config))
    s.at("2021-11-06 10:00")  # Saturday: OK owns every queue
    s.login("ok-2", "ok")
    s.login("ok-c", "ok", ("chat",))
    s.at("2021-11-06 13:00:00")
    s.arrive("p13")
    s.after(5)
    s.decline("p13", "ok-2")  # re-offered to ok-2 after retry_s = 5, at 13:00:10
    s.after(7)
    assert brief(s.answer("p13", "ok-2")) == [("offer", "p13", ("ok-2",))]
