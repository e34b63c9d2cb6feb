"""Conversations with the core about escalations (duty to avert, straffeloven section 196).

The first user's chain (config/vo-linjen.toml): the owning team's shift lead
(120 s), KSS leadership (300 s), OK's on-call lead (600 s); the checklist
assess, police, trace (optional), document. 2021-11-15 is a Monday: KSS owns
the phone 08:30-15:30, OK after.
"""

from __future__ import annotations

from typing import Any

import pytest

from router import Router, UnknownContact
from router.checkpoint import dump, load
from router.commands import Alert, Command, LegalHold
from router.config import HelplineConfig
from router.errors import LinjeError
from router.events_escalation import EscalationClosed, EscalationStepTicked, LegalHoldAcknowledged
from router.records import EscalationRecord
from router.testing import Script, brief


def staffed(s: Script, when: str = "2021-11-15 08:00") -> Script:
    s.at(when)
    s.login("kss-c", "kss", ("chat",))
    s.login("ok-1", "ok")
    s.login("kss-1", "kss")
    return s


def in_call(s: Script, cid: str = "c1", when: str = "2021-11-15 10:00") -> None:
    s.at(when)
    s.arrive(cid)
    s.after(3)
    s.answer(cid, "kss-1")
    s.after(60)


def tick(s: Script, esc: str, step: str, by: str = "sup-kss") -> list[Command]:
    return s.send(EscalationStepTicked(**s._env(None), escalation_id=esc, step=step, by=by))


def close(s: Script, esc: str, reason: str, by: str = "sup-kss") -> list[Command]:
    return s.send(EscalationClosed(**s._env(None), escalation_id=esc, reason=reason, by=by))


def actions(s: Script) -> list[tuple[Any, ...]]:
    return [
        (r.action, r.level, r.by, r.step, r.reason)
        for r in s.records
        if isinstance(r, EscalationRecord)
    ]


def alerts(commands: list[Command]) -> list[dict[str, Any]]:
    return [c.details for c in commands if isinstance(c, Alert) and c.kind == "escalation"]


def esc_alerts(s: Script) -> list[tuple[bool, str | None]]:
    return [(a.open, a.acked_by) for a in s.router.alert_states() if a.kind == "escalation"]


def view(s: Script) -> list[dict[str, Any]]:
    return s.router.snapshot()["escalations"]  # type: ignore[no-any-return]


def test_a_flag_during_a_call_alerts_both_organisations_and_asks_for_a_legal_hold(
    script: Script,
) -> None:
    s = staffed(script)
    in_call(s)
    out = s.flag("c1", "duty_to_avert", "risk_to_life", eid="flag-1")
    assert brief(out) == [("alert", "escalation"), ("legal_hold", "c1", "phone")]
    assert alerts(out) == [
        {
            "escalation_id": "esc-1",
            "contact_id": "c1",
            "channel": "phone",
            "queue": "phone",
            "team": "kss",
            "agent_id": "kss-1",
            "flag": "duty_to_avert",
            "category": "risk_to_life",
            "level": 1,
            "levels": 3,
            "role": "supervisor",
            "addressed": ["kss"],
            "to": ["kss", "ok"],
            "on_duty": "kss",
            "raised_at": s.t,
        }
    ]
    hold = out[1]
    assert isinstance(hold, LegalHold)
    assert (hold.contact_id, hold.channel, hold.escalation_id) == ("c1", "phone", "esc-1")
    [v] = view(s)
    assert (v["escalation_id"], v["alert_id"], v["level"], v["acknowledged_by"]) == (
        "esc-1",
        out[0].alert_id,  # type: ignore[attr-defined]
        1,
        None,
    )
    assert v["legal_hold"] == {"requested_at": s.t, "acknowledged_at": None}
    assert [c["step"] for c in v["checklist"]] == ["assess", "police", "trace", "document"]
    assert actions(s) == [
        ("raised", 0, "test", None, None),
        ("alerted", 1, None, None, None),
        ("legal_hold_requested", 0, "test", None, None),
    ]


def test_acknowledgement_stops_the_chain(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    [alert] = s.flag("c1", "self_harm_risk")  # no legal hold for this kind
    s.after(30)
    assert s.ack(alert.alert_id, "sup-ok") == []  # type: ignore[attr-defined]
    assert alerts(s.advance(3600)) == []
    [v] = view(s)
    assert (v["acknowledged_by"], v["acknowledged_at"], v["level"]) == ("sup-ok", s.t - 3600, 1)
    assert v["legal_hold"] is None
    assert esc_alerts(s) == [(False, "sup-ok")]
    assert actions(s)[-1] == ("acknowledged", 1, "sup-ok", None, None)


def test_each_level_is_alerted_when_the_one_before_does_not_acknowledge(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.flag("c1", "duty_to_avert")
    assert s.advance(119.9) == []
    second = s.advance(0.1)
    assert [(d["level"], d["addressed"], d["to"]) for d in alerts(second)] == [
        (2, ["kss"], ["kss"])
    ]
    assert s.advance(299.9) == []
    third = s.advance(0.1)
    assert [(d["level"], d["addressed"], d["to"]) for d in alerts(third)] == [
        (3, ["ok"], ["kss", "ok"])  # OK's on-call lead, and KSS still on duty
    ]
    assert alerts(s.advance(86400)) == []  # the last level: nobody further to alert
    [v] = view(s)
    assert v["level"] == 3
    assert [a["to"] for a in v["alerted"]] == [["kss", "ok"], ["kss"], ["kss", "ok"]]
    # Acknowledging the latest alert acknowledges the escalation and every alert of it.
    s.ack(third[0].alert_id, "sup-ok")  # type: ignore[attr-defined]
    assert esc_alerts(s) == [(False, "sup-ok")] * 3


def test_the_chain_goes_on_across_the_1530_handover_and_reaches_the_incoming_team(
    script: Script,
) -> None:
    s = staffed(script)
    in_call(s, when="2021-11-15 15:20")
    s.at("2021-11-15 15:29")
    s.flag("c1", "duty_to_avert")
    out = s.advance(to="2021-11-15 15:31")
    assert [(d["level"], d["addressed"], d["on_duty"], d["to"]) for d in alerts(out)] == [
        (2, ["kss"], "ok", ["kss", "ok"])
    ]
    [v] = view(s)
    assert (v["team"], v["on_duty"], v["level"]) == ("kss", "ok", 2)


def test_ticking_the_last_required_step_closes_the_escalation(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.flag("c1", "duty_to_avert", "child_at_risk")
    s.after(40)
    assert tick(s, "esc-1", "assess") == []  # the first tick also acknowledges
    s.after(60)
    tick(s, "esc-1", "police", by="sup-ok")
    [v] = view(s)
    assert [(c["step"], c["ticked_by"]) for c in v["checklist"]] == [
        ("assess", "sup-kss"),
        ("police", "sup-ok"),
        ("trace", None),
        ("document", None),
    ]
    s.after(60)
    tick(s, "esc-1", "document")  # "trace" is not required
    assert view(s) == []
    assert actions(s)[3:] == [
        ("acknowledged", 1, "sup-kss", None, None),
        ("step_ticked", 0, "sup-kss", "assess", None),
        ("step_ticked", 0, "sup-ok", "police", None),
        ("step_ticked", 0, "sup-kss", "document", None),
        ("closed", 0, "sup-kss", None, "checklist_complete"),
    ]
    assert alerts(s.advance(3600)) == []


def test_closing_with_a_reason_code(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.flag("c1", "duty_to_avert")
    s.after(10)
    assert close(s, "esc-1", "not_triggered", by="sup-ok") == []
    assert view(s) == []
    assert actions(s)[-2:] == [
        ("acknowledged", 1, "sup-ok", None, None),  # closing it is seeing it
        ("closed", 0, "sup-ok", None, "not_triggered"),
    ]
    assert esc_alerts(s) == [(False, "sup-ok")]
    assert alerts(s.advance(3600)) == []  # closed: the chain does not go on


def test_a_flag_after_the_end_within_the_window_and_on_an_abandoned_call(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.end("c1")
    s.after(3599)
    assert brief(s.flag("c1", "duty_to_avert")) == [
        ("alert", "escalation"),
        ("legal_hold", "c1", "phone"),
    ]
    s.arrive("c2")
    s.after(5)
    s.abandon("c2")
    out = s.flag("c2", "duty_to_avert")
    assert [(d["contact_id"], d["agent_id"], d["team"]) for d in alerts(out)] == [
        ("c2", None, "kss")
    ]


def test_a_second_flag_on_a_contact_with_an_open_escalation_adds_nothing(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.flag("c1", "duty_to_avert")
    assert s.flag("c1", "duty_to_avert") == []
    assert len(view(s)) == 1
    # Closed, a new flag raises a new escalation; the hold was already asked for.
    close(s, "esc-1", "raised_in_error")
    assert brief(s.flag("c1", "duty_to_avert")) == [("alert", "escalation")]
    assert [v["escalation_id"] for v in view(s)] == ["esc-2"]


def test_the_adapter_confirms_the_legal_hold(script: Script) -> None:
    s = staffed(script)
    in_call(s)
    s.flag("c1", "duty_to_avert")
    s.after(2)
    hold = LegalHoldAcknowledged(**s._env(None), contact_id="c1")
    assert s.send(hold) == []
    assert view(s)[0]["legal_hold"] == {"requested_at": s.t - 2, "acknowledged_at": s.t}
    assert actions(s)[-1] == ("legal_hold_acknowledged", 0, "test", None, None)


def state(router: Router) -> dict[str, Any]:
    """The router's whole state (a checkpoint holds the live timers, not the heap's layout)."""
    return dump(router)


def refused(s: Script, send: Any) -> LinjeError:
    """The error ``send()`` raises, and that the core's whole state stayed as it was."""
    before = state(s.router)
    with pytest.raises(LinjeError) as info:
        send()
    assert state(s.router) == before
    return info.value


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown contact", ("unknown-contact", "contact_id")),
        ("long ended", ("flag-refused", "contact_id")),
        ("unknown kind", ("flag-refused", "flag")),
        ("unknown category", ("flag-refused", "category")),
        ("category of another kind", ("flag-refused", "category")),
        ("unknown step", ("escalation-refused", "step")),
        ("step twice", ("escalation-refused", "step")),
        ("unknown reason", ("escalation-refused", "reason")),
        ("reserved reason", ("escalation-refused", "reason")),
        ("unknown escalation", ("unknown-escalation", "escalation_id")),
        ("closed escalation", ("escalation-refused", "escalation_id")),
        ("hold never asked", ("unknown-escalation", "contact_id")),
    ],
)
def test_refusals_are_typed_and_change_nothing(
    script: Script, name: str, expected: tuple[str, str]
) -> None:
    s = staffed(script)
    in_call(s)
    s.end("c1")
    in_call(s, "c2", when="2021-11-15 11:30")  # c1 ended 1 h 27 min ago
    s.flag("c2", "duty_to_avert")
    tick(s, "esc-1", "assess")
    s.end("c2")
    in_call(s, "c3", when="2021-11-15 11:40")
    s.flag("c3", "self_harm_risk")
    close(s, "esc-2", "raised_in_error")
    sends = {
        "unknown contact": lambda: s.flag("c-none", "duty_to_avert"),
        "long ended": lambda: s.flag("c1", "duty_to_avert"),
        "unknown kind": lambda: s.flag("c2", "worried"),
        "unknown category": lambda: s.flag("c2", "duty_to_avert", "other"),
        "category of another kind": lambda: s.flag("c2", "self_harm_risk", "risk_to_life"),
        "unknown step": lambda: tick(s, "esc-1", "pray"),
        "step twice": lambda: tick(s, "esc-1", "assess"),
        "unknown reason": lambda: close(s, "esc-1", "bored"),
        "reserved reason": lambda: close(s, "esc-1", "checklist_complete"),
        "unknown escalation": lambda: close(s, "esc-9", "not_triggered"),
        "closed escalation": lambda: tick(s, "esc-2", "assess"),
        "hold never asked": lambda: s.send(LegalHoldAcknowledged(**s._env(None), contact_id="c3")),
    }
    err = refused(s, sends[name])
    assert (err.code, err.field) == expected
    if name == "unknown contact":
        assert isinstance(err, UnknownContact)
    # A refused code is never quoted back (contact ids are the adapter's own tokens).
    assert "worried" not in err.detail and "bored" not in err.detail and "pray" not in err.detail


def test_a_checkpoint_in_mid_chain_goes_on_as_the_router_it_was_taken_from(
    vo_config: HelplineConfig,
) -> None:
    def scripted(router: Router) -> Script:
        s = staffed(Script(router))
        in_call(s)
        s.flag("c1", "duty_to_avert")
        s.advance(130)  # level 2 alerted
        tick(s, "esc-1", "assess")
        s.end("c1")
        in_call(s, "c2", when="2021-11-15 10:30")
        s.flag("c2", "self_harm_risk")
        return s

    a = scripted(Router(vo_config))
    b = Script(load(vo_config, dump(a.router)))
    b.t, b._n = a.t, a._n
    assert b.router.snapshot() == a.router.snapshot()
    for s in (a, b):
        s.records = []
    outs = []
    for s in (a, b):
        out = s.advance(200)
        out += tick(s, "esc-1", "police")
        out += s.advance(3600)
        out += close(s, "esc-2", "handed_over")
        outs.append((brief(out), [c.seq for c in out], s.records, s.router.snapshot()))
    assert outs[0] == outs[1]
    assert outs[0][0] == [("alert", "escalation"), ("alert", "escalation")]  # esc-2's levels 2, 3
