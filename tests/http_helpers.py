"""Shared pieces for the service tests: tokens, a hand-moved clock, event builders."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from adapters.http.auth import AuthConfig, Authenticator
from adapters.http.clock import Clock

TZ = ZoneInfo("Europe/Oslo")
TOKENS = {
    "carrier": "carrier-token-0000000001",
    "chat": "chat-token-0000000000001",
    "supervisor": "supervisor-token-000001",
    "planner": "planner-token-000000001",
    "agent": "agent-kss-1-token-000001",  # the agent kss-1 (content registration)
}
WEBHOOK_SECRET = "carrier-webhook-secret-1"

# A valid example of every event type's own fields (the envelope is added by Events).
# ``by`` of alert.acknowledged is the sender's token name, never sent.
EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "contact.arrived": {"contact_id": "c-9", "channel": "phone", "queue": "phone"},
    "contact.answered": {"contact_id": "c-9", "agent_id": "kss-1"},
    "contact.abandoned": {"contact_id": "c-9"},
    "contact.ended": {"contact_id": "c-9"},
    "offer.declined": {"contact_id": "c-9", "agent_id": "kss-1"},
    "agent.logged_in": {"agent_id": "kss-1", "team": "kss", "channels": ["phone"]},
    "agent.logged_out": {"agent_id": "kss-1", "channels": ["phone"]},
    "agent.ready": {"agent_id": "kss-1", "channels": ["phone"]},
    "agent.away": {"agent_id": "kss-1", "reason": "break"},
    "chat.feedback": {"contact_id": "c-9", "rating": 7, "comment": "thanks"},
    "contact.flagged": {"contact_id": "c-9", "flag": "duty_to_avert"},
    "team.absent": {"team": "kss", "from": "2021-11-16T08:00:00+01:00",
                    "to": "2021-11-16T16:00:00+01:00"},
    "alert.acknowledged": {"alert_id": "al-1"},
    "escalation.step_ticked": {"escalation_id": "esc-1", "step": "assess"},
    "escalation.closed": {"escalation_id": "esc-1", "reason": "not_triggered"},
    "legal_hold.acknowledged": {"contact_id": "c-9"},
    "contact.rang": {"contact_id": "c-9", "agent_ids": ["kss-1"]},
    "contact.ring_ended": {"contact_id": "c-9", "agent_ids": ["kss-1"]},
    "contact.moved": {"contact_id": "c-9", "queue": "phone"},
    "contact.turned_away": {"contact_id": "c-9", "reason": "full"},
    "agent.joined_queue": {"agent_id": "kss-1", "queue": "phone"},
    "agent.left_queue": {"agent_id": "kss-1", "queue": "phone"},
    "contact.registered": {"contact_id": "c-9", "form": "phone", "version": 4,
                           "answers": {"who": "exposed"}},
}  # fmt: skip


def auth() -> Authenticator:
    return Authenticator(
        AuthConfig.model_validate(
            {
                "tokens": [
                    {"role": "adapter", "name": "carrier", "token": TOKENS["carrier"]},
                    {"role": "adapter", "name": "chat", "token": TOKENS["chat"]},
                    {"role": "supervisor", "name": "supervisor", "token": TOKENS["supervisor"]},
                    {"role": "planner", "name": "planner", "token": TOKENS["planner"]},
                    {"role": "agent", "name": "kss-1", "token": TOKENS["agent"]},
                ],
                "webhook_keys": [
                    {"adapter": "carrier", "key_id": "car-1", "secret": WEBHOOK_SECRET},
                ],
            }
        )
    )


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


class ManualClock(Clock):
    """Time that moves only when the test says so."""

    def __init__(self, local: str) -> None:
        self.t = local_ts(local)

    def now(self) -> float:
        return self.t

    def real_seconds_until(self, t: float) -> float:
        return t - self.t


def local_ts(local: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=TZ).timestamp()


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, TZ).isoformat()


class Events:
    """Builds wire events (JSON dicts) with fresh ids at the clock's time."""

    def __init__(self, clock: ManualClock, source: str = "carrier") -> None:
        self.clock = clock
        self.source = source
        self.n = 0

    def __call__(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        return {
            "event_id": f"{self.source}-{self.n}",
            "type": type_,
            "at": iso(self.clock.now()),
            "source": self.source,
            **fields,
        }
