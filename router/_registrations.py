"""Content registration: which answered contacts can be registered, and the checks.

The core keeps a compact index of the contacts answered within the amendment
window (``content.amend_days``): contact id -> channel, the answering agent's
team, the agent, arrival, answer and how many registrations it has had. The
contact itself may be forgotten long before (``ended_retention_s``); the index
is what a registration is checked against and what an agent's to-do list is.

A ``contact.registered`` event is accepted only for a contact in the index,
from the agent who answered it (``by``, from the authenticated token), with
the form of the contact's channel, the version of that form in force on the
local date the contact arrived, and answers that fit that version. A later
registration of the same contact replaces the earlier one (the statistics
count the last); every one stays in the log.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from mypy_extensions import mypyc_attr

from router._base import RouterBase, expired
from router.config import HelplineConfig
from router.errors import UnknownContact
from router.events import ContactAnswered, ContactRegistered
from router.forms import Form, RegistrationRefused, UnknownForm, WrongFormVersion
from router.records import RegistrationRecord

__all__ = ["Answered", "RegistrationsMixin"]

DAY_S = 86400.0


@dataclass(slots=True, init=False)  # init=False: see router._state.Contact
class Answered:
    """One answered contact in the amendment window."""

    channel: str
    team: str  # the answering agent's team
    agent_id: str
    arrived_at: float
    answered_at: float
    registrations: int = 0

    def __init__(  # noqa: PLR0917 - the dataclass's positional signature, kept
        self,
        channel: str,
        team: str,
        agent_id: str,
        arrived_at: float,
        answered_at: float,
        registrations: int = 0,
    ) -> None:
        self.channel = channel
        self.team = team
        self.agent_id = agent_id
        self.arrived_at = arrived_at
        self.answered_at = answered_at
        self.registrations = registrations


@mypyc_attr(allow_interpreted_subclasses=True)
class RegistrationsMixin(RouterBase):
    def __init__(self, config: HelplineConfig) -> None:
        super().__init__(config)
        self._answered: dict[str, Answered] = {}
        self._answered_order: deque[tuple[float, str]] = deque()
        self._amend_s = config.content.amend_days * DAY_S
        self._zone = ZoneInfo(config.timezone)

    # ------------------------------------------------------------- index
    def _on_answered_noted(self, ev: ContactAnswered) -> None:
        """``contact.answered``, and the contact enters the index of answered contacts."""
        self._on_answered(ev)
        c = self._contacts[ev.contact_id]
        if c.id not in self._answered and c.agent_id is not None and c.answered_at is not None:
            a = self._agents[c.agent_id]
            self._answered[c.id] = Answered(c.channel, a.team, a.id, c.arrived_at, c.answered_at)
            self._answered_order.append((c.answered_at, c.id))

    def _purge_answered(self, now: float) -> None:
        for cid in expired(self._answered_order, now - self._amend_s):
            self._answered.pop(cid, None)

    # ------------------------------------------------------------- checks
    def _form(self, form_id: str) -> Form:
        for f in self.config.forms:
            if f.id == form_id:
                return f
        raise UnknownForm(f"unknown form {form_id!r}", field="form")

    def local_date(self, t: float) -> dt.date:
        """The helpline's local date at POSIX time ``t``."""
        return dt.datetime.fromtimestamp(t, self._zone).date()

    def _check_registered(self, ev: ContactRegistered) -> None:
        form = self._form(ev.form)
        cid = ev.contact_id
        entry = self._answered.get(cid)
        if entry is None:
            c = self._contacts.get(cid)
            if c is None:
                raise UnknownContact(f"unknown contact {cid!r}", field="contact_id")
            if c.agent_id is None:
                raise RegistrationRefused(
                    f"contact {cid} was not answered; only an answered contact is registered",
                    field="contact_id",
                )
            raise RegistrationRefused(
                f"contact {cid} was answered more than {self.config.content.amend_days:g} days "
                "ago; its registration can no longer change",
                field="contact_id",
            )
        if max(self._clock, ev.at) > entry.answered_at + self._amend_s:
            raise RegistrationRefused(
                f"contact {cid}'s amendment window of {self.config.content.amend_days:g} days "
                "has closed",
                field="contact_id",
            )
        if entry.agent_id != ev.by:
            raise RegistrationRefused(
                f"contact {cid} is not one of your contacts; the agent who answered it "
                "registers it",
                field="contact_id",
            )
        if form.channel != entry.channel:
            raise RegistrationRefused(
                f"form {form.id} is for {form.channel} contacts; contact {cid} is a "
                f"{entry.channel} contact",
                field="form",
            )
        day = self.local_date(entry.arrived_at)
        version = form.in_force(day)
        if version is None:
            raise WrongFormVersion(
                f"form {form.id} had no version in force on {day.isoformat()}, when contact "
                f"{cid} arrived",
                field="version",
            )
        if version.version != ev.version:
            raise WrongFormVersion(
                f"contact {cid} arrived on {day.isoformat()}, when version {version.version} "
                f"of form {form.id} was in force, not version {ev.version}",
                field="version",
            )
        version.check(ev.answers)

    def _on_registered(self, ev: ContactRegistered) -> None:
        entry = self._answered[ev.contact_id]
        entry.registrations += 1
        self._record(
            RegistrationRecord(
                contact_id=ev.contact_id,
                channel=entry.channel,
                team=entry.team,
                arrived_at=entry.arrived_at,
                at=self._fact,
                form=ev.form,
                version=ev.version,
                answers=dict(ev.answers),
                amends=entry.registrations - 1,
            )
        )

    # ------------------------------------------------------------- reads
    def to_register(self, agent_id: str) -> list[dict[str, object]]:
        """The agent's answered contacts in the window without a registration, oldest first."""
        out: list[dict[str, object]] = []
        for cid, e in self._answered.items():
            if e.agent_id != agent_id or e.registrations:
                continue
            form = self.config.form_for(e.channel)
            version = form.in_force(self.local_date(e.arrived_at)) if form else None
            out.append(
                {
                    "contact_id": cid,
                    "channel": e.channel,
                    "arrived_at": e.arrived_at,
                    "answered_at": e.answered_at,
                    "form": form.id if form else None,
                    "version": version.version if version else None,
                }
            )
        out.sort(key=lambda x: (x["answered_at"], x["contact_id"]))
        return out

    def registration_count(self, contact_id: str) -> int | None:
        """Registrations of an answered contact in the window (None: not in the window)."""
        e = self._answered.get(contact_id)
        return None if e is None else e.registrations
