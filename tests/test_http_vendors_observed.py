"""The vendor webhooks' observed facts map to the core's events, identity dropped."""

from __future__ import annotations

import pytest

from adapters.http.vendors import CarrierEvent, ChatVendorEvent, carrier_to_event, chat_to_event
from router.errors import InvalidEvent
from router.events import event_to_dict

T = "2021-11-15T15:29:50+01:00"
AT = 1636986590.0


def chat(event: str, **fields: object) -> dict[str, object]:
    body = ChatVendorEvent.model_validate(
        {"event": event, "timestamp": T, "delivery_id": "d1", "visitor_ip": "10.0.0.7", **fields}
    )
    out = event_to_dict(chat_to_event(body, "chat"))  # type: ignore[arg-type]
    assert "10.0.0.7" not in repr(out)
    return out


def carrier(event: str, **fields: object) -> dict[str, object]:
    body = CarrierEvent.model_validate(
        {"event": event, "timestamp": T, "caller_number": "+4791234567", **fields}
    )
    out = event_to_dict(carrier_to_event(body, "carrier"))  # type: ignore[arg-type]
    assert "4791234567" not in repr(out)
    return out


def test_the_chat_vendors_observed_facts() -> None:
    env = {"event_id": "d1", "at": AT, "source": "chat"}
    assert chat("chat_offered", chat_id="ch1", operators=["ok-c", "kss-c"]) == {
        "type": "contact.rang",
        **env,
        "contact_id": "ch1",
        "agent_ids": ["ok-c", "kss-c"],
    }
    assert chat("offer_expired", chat_id="ch1", operator="ok-c") == {
        "type": "contact.ring_ended",
        **env,
        "contact_id": "ch1",
        "agent_ids": ["ok-c"],
    }
    assert chat("chat_moved", chat_id="ch1", queue="chat") == {
        "type": "contact.moved",
        **env,
        "contact_id": "ch1",
        "queue": "chat",
    }
    assert chat("operator_joined_queue", operator="ok-c", queue="chat") == {
        "type": "agent.joined_queue",
        **env,
        "agent_id": "ok-c",
        "queue": "chat",
    }
    assert chat("operator_left_queue", operator="ok-c", queue="chat") == {
        "type": "agent.left_queue",
        **env,
        "agent_id": "ok-c",
        "queue": "chat",
    }


def test_the_carriers_observed_facts_and_what_they_need() -> None:
    rang = carrier("ring_started", call_id="c1", extensions=["kss-1", "kss-2"])
    again = carrier("ring_started", call_id="c1", extensions=["kss-1", "kss-2"])
    assert (rang["type"], rang["agent_ids"], rang["event_id"]) == (
        "contact.rang",
        ["kss-1", "kss-2"],
        again["event_id"],  # a redelivery without a delivery id is a duplicate
    )
    other = carrier("ring_started", call_id="c1", extension="kss-1")
    assert other["event_id"] != rang["event_id"]
    assert carrier("member_joined_queue", extension="kss-1", queue="phone")["type"] == (
        "agent.joined_queue"
    )
    with pytest.raises(InvalidEvent) as err:
        carrier("ring_no_answer", call_id="c1")
    assert (err.value.field, str(err.value)) == ("extensions", "ring_no_answer needs extensions")
    with pytest.raises(InvalidEvent) as err:
        carrier("call_moved", queue="phone")
    assert err.value.field == "call_id"


def test_a_call_the_carrier_rejected_is_turned_away_with_its_reason() -> None:
    assert carrier("call_rejected", delivery_id="d2", call_id="c1", reason="diverted") == {
        "type": "contact.turned_away",
        "event_id": "d2",
        "at": AT,
        "source": "carrier",
        "contact_id": "c1",
        "reason": "diverted",
    }
    with pytest.raises(InvalidEvent) as err:
        carrier("call_rejected", call_id="c1")
    assert (err.value.field, str(err.value)) == ("reason", "call_rejected needs reason")
