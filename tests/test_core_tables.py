"""Every row of every transition table, walked: the target it gives, the error it refuses with.

The core never assigns a state by hand (``router.tables``); these tests pin the
tables themselves, row by row, including the pairs that are not rows.
"""

from __future__ import annotations

import itertools

import pytest

from router._contacts import ContactsMixin
from router._state import Contact
from router.errors import ContactAlreadyEnded, InvalidTransition, NotOffered, RoutingError
from router.tables import (
    AGENT_REFUSALS,
    AGENT_TRANSITIONS,
    CHANNEL_DISPLAY,
    CHANNEL_PRESENCE,
    CONTACT_REFUSALS,
    CONTACT_TRANSITIONS,
    ChannelState,
    ContactState,
    Presence,
    agent_next,
    contact_next,
)

W, OF, S, E = ContactState
CONTACT_TRIGGERS = sorted({t for _, t in CONTACT_TRANSITIONS} | {t for _, t in CONTACT_REFUSALS})
AGENT_TRIGGERS = sorted({t for _, t in AGENT_TRANSITIONS} | {t for _, t in AGENT_REFUSALS})


def contact_in(state: ContactState) -> Contact:
    return Contact(
        id="c1", channel="phone", queue="phone", arrived_at=0.0, seq=1, team="kss", state=state
    )


@pytest.mark.parametrize(("pair", "target"), sorted(CONTACT_TRANSITIONS.items()))
def test_each_contact_row_moves_the_contact_to_its_target(
    pair: tuple[ContactState, str], target: ContactState | None
) -> None:
    state, trigger = pair
    c = contact_in(state)
    ContactsMixin._move(c, trigger)
    assert (target if target is not None else state) == c.state


@pytest.mark.parametrize(("pair", "error"), sorted(CONTACT_REFUSALS.items(), key=str))
def test_each_contact_refusal_raises_its_error_and_changes_nothing(
    pair: tuple[ContactState, str], error: type[RoutingError]
) -> None:
    state, trigger = pair
    c = contact_in(state)
    with pytest.raises(error):
        ContactsMixin._move(c, trigger)
    assert state == c.state


def test_every_other_contact_pair_is_an_invalid_transition_that_changes_nothing() -> None:
    others = [
        (s, t)
        for s, t in itertools.product(ContactState, CONTACT_TRIGGERS)
        if (s, t) not in CONTACT_TRANSITIONS and (s, t) not in CONTACT_REFUSALS
    ]
    assert others  # the tables are not total: some pairs are simply illegal
    for state, trigger in others:
        c = contact_in(state)
        with pytest.raises(InvalidTransition):
            ContactsMixin._move(c, trigger)
        assert state == c.state


def test_the_contact_tables_do_not_overlap_and_name_the_expected_refusals() -> None:
    assert set() == set(CONTACT_TRANSITIONS) & set(CONTACT_REFUSALS)
    assert ContactAlreadyEnded is CONTACT_REFUSALS[(E, "contact.answered")]
    assert NotOffered is CONTACT_REFUSALS[(W, "contact.answered")]
    # The one conditional row: a late pick-up goes to service from waiting or offered.
    assert S == contact_next(W, "late_answer", "c") == contact_next(OF, "late_answer", "c")


@pytest.mark.parametrize(("pair", "target"), sorted(AGENT_TRANSITIONS.items()))
def test_each_agent_row_gives_its_target(
    pair: tuple[Presence, str], target: Presence | None
) -> None:
    assert target == agent_next(pair[0], pair[1], "a")


def test_every_agent_pair_outside_the_table_is_refused() -> None:
    for presence, trigger in itertools.product(Presence, AGENT_TRIGGERS):
        if (presence, trigger) in AGENT_TRANSITIONS:
            continue
        expected = AGENT_REFUSALS.get((presence, trigger), InvalidTransition)
        with pytest.raises(expected):
            agent_next(presence, trigger, "a")


@pytest.mark.parametrize(("pair", "target"), sorted(CHANNEL_PRESENCE.items()))
def test_each_channel_presence_row(pair: tuple[Presence, str], target: Presence) -> None:
    expected = Presence.READY if pair[1] == "agent.ready" else Presence.AWAY
    assert expected == target


def test_the_display_table_shows_busy_then_offered_then_wrap_up_then_away_then_ready() -> None:
    assert len(CHANNEL_DISPLAY) == 16
    for (busy, offered, wrap, presence), shown in CHANNEL_DISPLAY.items():
        if busy:
            expected = ChannelState.BUSY
        elif offered:
            expected = ChannelState.OFFERED
        elif wrap:
            expected = ChannelState.WRAP_UP
        elif presence is Presence.AWAY:
            expected = ChannelState.AWAY
        else:
            expected = ChannelState.READY
        assert expected == shown, (busy, offered, wrap, presence)


def test_every_mode_bound_trigger_is_a_row_of_a_table_and_names_known_modes() -> None:
    from router.tables import MODE_TRIGGERS

    triggers = set(CONTACT_TRIGGERS) | set(AGENT_TRIGGERS) | {"offer"}
    assert sorted(t for t in MODE_TRIGGERS if t not in triggers) == []
    assert {m for modes in MODE_TRIGGERS.values() for m in modes} == {"decide", "observe"}
    # Observed rows: a PBX's ring puts a waiting contact on offer, its end sends it back
    # via "lapse", its pick-up needs no offer; none of them is reachable when ended.
    assert (
        CONTACT_TRANSITIONS[(W, "contact.rang")],
        CONTACT_TRANSITIONS[(OF, "contact.ring_ended")],
        CONTACT_TRANSITIONS[(W, "observed_answer")],
        CONTACT_TRANSITIONS[(OF, "observed_answer")],
    ) == (OF, OF, S, S)
    assert {ContactAlreadyEnded} == {
        CONTACT_REFUSALS[(E, t)]
        for t in (
            "contact.rang",
            "contact.ring_ended",
            "observed_answer",
            "contact.moved",
            "contact.turned_away",
        )
    }
    # The PBX turning a caller away ends a waiting or ringing contact, never an answered one.
    assert (
        CONTACT_TRANSITIONS[(W, "contact.turned_away")],
        CONTACT_TRANSITIONS[(OF, "contact.turned_away")],
        (S, "contact.turned_away") in CONTACT_TRANSITIONS,
        (S, "contact.turned_away") in CONTACT_REFUSALS,
        MODE_TRIGGERS["contact.turned_away"],
    ) == (E, E, False, False, frozenset({"observe"}))
