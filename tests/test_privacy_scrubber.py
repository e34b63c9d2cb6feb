"""The one scrubber, on a corpus of how people write numbers, e-mails and IP addresses."""

from __future__ import annotations

import re

import pytest

from router import ChatFeedback, ContactArrived, InvalidEvent
from router.privacy import REMOVED, identity_kind, scrub

PHONES = [
    "91234567",
    "912 34 567",
    "91 23 45 67",
    "+47 912 34 567",
    "+4791234567",
    "0047 91234567",
    "0047-912-34-567",
    "(+47) 91 23 45 67",
    "912.34.567",
    "tel/+47/912/34/567",
    "+47/912/34/567",
    "116 006 90 12",
]
EMAILS = ["kari.nordmann@example.no", "k+chat@mail.example.com", "KARI@EXAMPLE.NO"]
IPS = [
    "192.0.2.17",
    "10.0.0.1",
    "2001:db8::77",
    "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "::1",
    "fe80::1%eth0",
    "::ffff:192.0.2.1",
]
CORPUS = PHONES + EMAILS + IPS


@pytest.mark.parametrize("identity", CORPUS)
def test_every_spelling_is_removed_from_free_text(identity: str) -> None:
    text = f"Ring meg på {identity} i morgen, takk."
    out = scrub(text)
    assert identity not in out
    assert REMOVED in out
    assert re.search(r"\d{4}", out.replace(REMOVED, "")) is None  # no number left behind
    assert out == scrub(out)  # scrubbing scrubbed text changes nothing


def test_ordinary_text_is_kept_as_written() -> None:
    for text in ("Takk for hjelpen, 10 av 10!", "Ringte kl 10:30 og 21:05:10.", "Best på chat"):
        assert text == scrub(text)


def test_the_values_a_payload_carried_are_removed_wherever_they_appear() -> None:
    assert f"Hei, det er {REMOVED} igjen" == scrub("Hei, det er Solsikke igjen", ("solsikke",))


@pytest.mark.parametrize("identity", CORPUS)
def test_an_identifier_that_looks_like_identity_is_refused_naming_the_field(
    identity: str,
) -> None:
    # The identity as an adapter might pass it for an id: without the characters the
    # id alphabet does not admit (spaces, brackets, +, a zone index).
    token = re.sub(r"[^A-Za-z0-9._:@-]", "", identity.split("%", maxsplit=1)[0])
    with pytest.raises(InvalidEvent) as caught:
        ContactArrived(event_id="e1", at=1.0, source="carrier", contact_id=token,
                       channel="phone", queue="phone")  # fmt: skip
    assert caught.value.field == "contact_id"
    assert token not in caught.value.detail
    assert identity_kind(token) is not None


def test_adapters_own_tokens_are_accepted() -> None:
    for token in ("tn-88231", "aq-1636956000.123", "c1", "kss-1", "chat:4f2a", "s12345"):
        assert identity_kind(token) is None, token


def test_a_feedback_comment_is_stored_scrubbed_whatever_builds_the_event() -> None:
    ev = ChatFeedback(event_id="f1", at=1.0, source="chat", contact_id="c1", rating=9,
                      comment="Takk! Nå 2001:db8::77 og tel/+47/912/34/567, kari@example.no")  # fmt: skip
    assert f"Takk! Nå {REMOVED} og tel/{REMOVED}, {REMOVED}" == ev.comment
