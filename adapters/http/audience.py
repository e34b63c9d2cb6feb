"""Which adapter's command stream each command belongs to.

An adapter token serves some channels (``adapters.http.auth``: the carrier
``phone``, the chat vendor ``chat`` by default). An offer, a cancel or a
reject goes to the adapters of its contact's channel; an alert that names a
channel (``handover_gap``, ``long_wait``) to that channel's adapters, one that
names none (``agent_auto_away``) to every adapter; a ``legal_hold`` to the adapters
of the channel it names; a ``set_members`` roster to the adapters of its queue's
channel (the carrier's ring group). Supervisors see every alert
in the live state. A command whose contact is unknown (it cannot happen: see
``ContactChannels``) goes to every adapter rather than to none. ``seq`` stays
the helpline-wide command number, so one adapter's stream has gaps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from router.events import ContactArrived, Event
from router.records import ContactRecord, Record

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["ContactChannels", "command_channel", "stream_filter"]


class ContactChannels:
    """The channel of every contact a command can name, on both stores.

    Learnt from accepted arrivals as they are staged (the embedded store stages
    the next batch while the last is being fsynced, so the core may already have
    forgotten a contact whose commands are not yet published), from the core's
    live contacts (waiting, ringing, in service) and from the contact records of
    ended ones (the log: commands of an earlier run's contacts on resume).
    """

    def __init__(self) -> None:
        self.known: dict[str, str] = {}
        self._records: Sequence[Record] | None = None
        self._indexed = 0

    def note(self, events: Iterable[Event], statuses: Iterable[str]) -> None:
        for ev, status in zip(events, statuses, strict=True):
            if isinstance(ev, ContactArrived) and status == "accepted":
                self.known[ev.contact_id] = ev.channel

    def learn_live(self, router: Router) -> None:
        for c in router.waiting_contacts():
            self.known[c.id] = c.channel
        for a in router.agent_states():
            for channel, state in a.channels.items():
                for cid in (*state.active, *state.offered):
                    self.known[cid] = channel

    def _learn_records(self, records: Sequence[Record]) -> None:
        if records is not self._records:  # another list (a Redis node folded anew)
            self._records, self._indexed = records, 0
        for r in records[self._indexed :]:
            if isinstance(r, ContactRecord):
                self.known.setdefault(r.contact_id, r.channel)
        self._indexed = len(records)

    def channel_of(
        self, contact_id: str, router: Router, records: Callable[[], Sequence[Record]]
    ) -> str | None:
        if contact_id not in self.known:
            self.learn_live(router)
        if contact_id not in self.known:
            self._learn_records(records())
        return self.known.get(contact_id)


def command_channel(
    command: dict[str, Any],
    contact_channel: Callable[[str], str | None],
    queue_channel: Mapping[str, str] | None = None,
) -> str | None:
    """The channel whose adapters get ``command``; None: every adapter."""
    if command["type"] == "set_members":
        return (queue_channel or {}).get(command.get("queue", ""))
    if command["type"] == "alert":
        channel = command.get("details", {}).get("channel")
        return channel if isinstance(channel, str) else None
    if isinstance(command.get("channel"), str):  # legal_hold names its channel
        return command["channel"]  # type: ignore[no-any-return]
    contact_id = command.get("contact_id")
    return contact_channel(contact_id) if isinstance(contact_id, str) else None


def stream_filter(
    channels: frozenset[str] | None, channel_of: Callable[[dict[str, Any]], str | None]
) -> Callable[[dict[str, Any]], bool]:
    """Whether a command goes on the stream of an adapter serving ``channels``."""
    if channels is None:
        return lambda command: True

    def keep(command: dict[str, Any]) -> bool:
        channel = channel_of(command)
        return channel is None or channel in channels

    return keep
