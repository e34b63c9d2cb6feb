"""Bad input: every row of docs/ROUTING.md's table, each with no state change.

Each case sets up a line, takes a snapshot, sends the bad event and asserts
the error class, its HTTP status, and that the snapshot, the timers and the
records are exactly as before (or, for the no-op rows, that nothing happens).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router import (
    AgentBusy,
    AlreadyAnswered,
    AlreadyLoggedIn,
    ContactAlreadyEnded,
    ContactArrived,
    InvalidEvent,
    InvalidTransition,
    LinjeError,
    NotOffered,
    RoutingError,
    TimeWentBackwards,
    UnknownAgent,
    UnknownAlert,
    UnknownContact,
    UnknownName,
    event_from_dict,
)
from router.events import ChatFeedback
from router.testing import Script


def setup(s: Script) -> None:
    """c1 ringing kss-1 and kss-2, c2 answered by kss-2 earlier, c3 abandoned."""
    s.at("2021-11-15 09:00")
    s.login("kss-c", "kss", ("chat",))
    s.login("kss-1", "kss")
    s.login("kss-2", "kss")
    s.at("2021-11-15 10:00")
    s.arrive("c2", eid="ev-c2")
    s.answer("c2", "kss-2")
    s.arrive("c3")
    s.abandon("c3")
    s.arrive("c1")
    s.advance(2)


def state(s: Script) -> tuple[object, ...]:
    r = s.router
    return (r.snapshot(), r.next_deadline(), len(r._timers), r.now)


ERRORS: list[tuple[str, Callable[[Script], object], type[LinjeError], int]] = [
    ("unknown agent", lambda s: s.answer("c1", "nobody"), UnknownAgent, 422),
    ("unknown contact", lambda s: s.answer("zz", "kss-1"), UnknownContact, 422),
    ("unknown contact on abandon", lambda s: s.abandon("zz"), UnknownContact, 422),
    ("answer after the caller left", lambda s: s.answer("c3", "kss-1"), ContactAlreadyEnded, 409),
    ("abandon twice", lambda s: s.abandon("c3"), ContactAlreadyEnded, 409),
    ("answer by an agent not offered", lambda s: s.answer("c1", "kss-c"), InvalidTransition, 409),
    ("answer already answered by another", lambda s: s.answer("c2", "kss-1"), AlreadyAnswered, 409),
    ("decline by an agent not ringing", lambda s: s.decline("c2", "kss-1"), NotOffered, 409),
    ("logout while busy", lambda s: s.logout("kss-2"), AgentBusy, 409),
    (
        "ready while logged out",
        lambda s: (s.logout("kss-c"), s.ready("kss-c")),
        InvalidTransition,
        409,
    ),
    ("join another team while logged in", lambda s: s.login("kss-1", "ok"), AlreadyLoggedIn, 409),
    ("unknown team", lambda s: s.login("x-1", "police"), UnknownName, 422),
    ("unknown queue", lambda s: s.arrive("c9", "phone", "sms"), UnknownName, 422),
    ("channel not the queue's", lambda s: s.arrive("c9", "chat", "phone"), InvalidEvent, 422),
    ("contact id reused", lambda s: s.arrive("c1"), RoutingError, 409),
    ("unknown alert", lambda s: s.ack("nope-1", "sup"), UnknownAlert, 422),
    ("time going backwards", lambda s: (s.after(-2.5), s.arrive("c9")), TimeWentBackwards, 422),
]


@pytest.mark.parametrize(("name", "send", "error", "status"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_event_is_refused_and_changes_nothing(
    script: Script,
    name: str,
    send: Callable[[Script], object],
    error: type[LinjeError],
    status: int,
) -> None:
    setup(script)
    if name == "ready while logged out":
        script.logout("kss-c")
        send = lambda s: s.ready("kss-c")  # noqa: E731
    before = state(script)
    n_records = len(script.records)
    with pytest.raises(error) as caught:
        send(script)
    assert caught.value.status == status
    assert caught.value.detail
    assert state(script) == before
    assert len(script.records) == n_records


def test_answer_by_an_agent_on_the_channel_but_not_offered_is_not_offered(script: Script) -> None:
    setup(script)
    script.arrive("c9")  # nobody free: c9 waits
    before = state(script)
    with pytest.raises(NotOffered):
        script.answer("c9", "kss-1")
    assert state(script) == before


def test_small_clock_skew_within_tolerance_is_accepted(script: Script) -> None:
    setup(script)
    script.after(-1.5)  # 2 s tolerated
    assert script.arrive("c9") == []


NOOPS: list[tuple[str, Callable[[Script], object]]] = [
    # A redelivery: the same event_id with the same body (its own time).
    (
        "duplicate event id",
        lambda s: s.send(
            ContactArrived(
                event_id="ev-c2",
                at=s.ts("2021-11-15 10:00"),
                source=s.source,
                contact_id="c2",
                channel="phone",
                queue="phone",
            )
        ),
    ),
    ("end after abandon", lambda s: s.end("c3")),
    ("same pick-up twice", lambda s: s.answer("c2", "kss-2")),
    ("logout twice", lambda s: (s.logout("kss-c"), s.logout("kss-c"))),
]


@pytest.mark.parametrize(("name", "send"), NOOPS, ids=[n[0] for n in NOOPS])
def test_idempotent_repeats_are_accepted_no_ops(
    script: Script, name: str, send: Callable[[Script], object]
) -> None:
    setup(script)
    if name == "logout twice":
        script.logout("kss-c")
        send = lambda s: s.logout("kss-c")  # noqa: E731
    before = state(script)
    assert send(script) == []
    # Only the clock may not move: every repeat here is sent at the same instant.
    assert state(script) == before


def test_a_duplicate_is_recognised_before_it_is_applied(script: Script) -> None:
    setup(script)
    assert script.router.is_duplicate("ev-c2")
    assert not script.router.is_duplicate("ev-never")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "contact.arrived", "event_id": "e", "at": 1.0, "source": "s"}, "channel"),
        ({"type": "nope", "event_id": "e", "at": 1.0, "source": "s"}, "type"),
        (
            {
                "type": "agent.away",
                "event_id": "e",
                "at": 1.0,
                "source": "s",
                "agent_id": "a",
                "reason": "x",
                "phone": "+4799999999",
            },
            "phone",
        ),
        (
            {
                "type": "contact.arrived",
                "event_id": "e",
                "at": 1.0,
                "source": "s",
                "contact_id": "c",
                "channel": "fax",
                "queue": "phone",
            },
            "channel",
        ),
        (
            {
                "type": "contact.abandoned",
                "event_id": "e",
                "at": float("nan"),
                "source": "s",
                "contact_id": "c",
            },
            "at",
        ),
        (
            {
                "type": "contact.abandoned",
                "event_id": "a b",
                "at": 1.0,
                "source": "s",
                "contact_id": "c",
            },
            "event_id",
        ),
        (
            {
                "type": "team.absent",
                "event_id": "e",
                "at": 1.0,
                "source": "s",
                "team": "kss",
                "from": 10.0,
                "to": 5.0,
            },
            "to",
        ),
    ],
)
def test_malformed_events_name_the_field(data: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidEvent) as caught:
        event_from_dict(data)
    assert caught.value.field == field


def test_rating_must_be_one_to_ten() -> None:
    with pytest.raises(InvalidEvent) as caught:
        ChatFeedback(event_id="e", at=1.0, source="chat", contact_id="c", rating=11)
    assert caught.value.field == "rating"


def test_trusted_construction_equals_the_validated_one_and_still_needs_every_field() -> None:
    from router.events import ContactArrived

    fields = {"event_id": "e1", "at": 1.0, "source": "sim", "contact_id": "c1"}
    full = {**fields, "channel": "phone", "queue": "phone"}
    assert ContactArrived.trusted(**full) == ContactArrived(**full)
    with pytest.raises(InvalidEvent) as caught:
        ContactArrived.trusted(**fields, channel="phone")
    assert caught.value.field == "queue"


def test_a_comment_must_be_text_the_log_can_hold() -> None:
    with pytest.raises(InvalidEvent) as caught:
        ChatFeedback(event_id="e", at=1.0, source="chat", contact_id="c", rating=5,
                     comment="x \ud800")  # fmt: skip
    assert (caught.value.field, caught.value.detail) == (
        "comment",
        "ChatFeedback.comment must be valid Unicode text of at most 2000 characters",
    )
