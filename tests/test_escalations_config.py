"""The escalation part of a helpline's configuration: a bad one names file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config_file import load_config
from router import ConfigError
from router.config import HelplineConfig
from tests.conftest import VO_LINJEN

BASE = VO_LINJEN.read_text()


def test_the_first_users_escalations(vo_config: HelplineConfig) -> None:
    esc = vo_config.escalations
    assert esc.raise_window_s == 3600
    assert {k: (f.legal_hold, [c.code for c in f.categories]) for k, f in esc.flags.items()} == {
        "duty_to_avert": (
            True,
            ["risk_to_life", "serious_violence", "sexual_abuse", "child_at_risk"],
        ),
        "self_harm_risk": (False, []),
    }
    assert [(lv.role, lv.team, lv.ack_timeout_s) for lv in esc.chain] == [
        ("supervisor", "owner", 120.0),
        ("supervisor", "kss", 300.0),
        ("supervisor", "ok", 600.0),
    ]
    assert [(s.code, s.required) for s in esc.checklist] == [
        ("assess", True), ("police", True), ("trace", False), ("document", True)
    ]  # fmt: skip
    assert [r.code for r in esc.close_reasons] == [
        "not_triggered", "police_notified", "handed_over", "raised_in_error"
    ]  # fmt: skip
    assert all(s.nb and s.en for s in (*esc.checklist, *esc.close_reasons, *esc.chain))


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('team = "kss"\nack_timeout_s = 300', 'team = "police"\nack_timeout_s = 300',
         "escalations.chain[1].team", "unknown team 'police'"),
        ("ack_timeout_s = 120", "ack_timeout_s = 0", "escalations.chain[0].ack_timeout_s",
         "greater than 0"),
        ('code = "police"', 'code = "assess"', "escalations", "checklist: a code is listed twice"),
        ('{ code = "handed_over"', '{ code = "checklist_complete"', "escalations",
         "checklist_complete is reserved"),
        ("raise_window_s = 3600 ", "raise_window_s = 90000 ", "escalations.raise_window_s",
         "must not exceed ended_retention_s"),
        ("legal_hold = true", 'legal_hold = "maybe"', "escalations.flags.duty_to_avert.legal_hold",
         "boolean"),
        ('{ code = "risk_to_life"', '{ code = "Risk to life"',
         "escalations.flags.duty_to_avert.categories[0].code", "pattern"),
        ('nb = "Avvergelsesplikt"', 'nb = "Avvergelsesplikt"\nnote = "x"',
         "escalations.flags.duty_to_avert.note", "unknown key"),
    ],
)  # fmt: skip
def test_a_bad_escalation_config_names_file_key_and_reason(
    tmp_path: Path, old: str, new: str, key: str, reason: str
) -> None:
    assert old in BASE
    path = tmp_path / "helpline.toml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert (str(path) in message, key in message, reason in message) == (True, True, True), message
