"""What-if replay when the other configuration changes who is offered what.

The reproduction of the issue: with ``ring_timeout_s`` 20 -> 40 the recorded
answers that came on a second ring are refused as not offered, and a table
built on the refused events showed the phone answer rate collapse. The
replay must notice, say so, and re-run the recorded arrivals through the
simulator instead (``sim.whatif``), with a fixed seed.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from adapters.cli import main
from adapters.config_file import load_config
from adapters.replay import mode_line, render_replay, replay, replay_to_json
from router import ContactRecord, Record
from router.stats import stats_to_json
from tests.conftest import VO_LINJEN
from tests.test_replay import variant
from tests.whatif_log import build_whatif_log

RING_20 = "ring_timeout_s = 20            # four rings"
RING_40 = "ring_timeout_s = 40            # four rings"


@pytest.fixture(scope="module")
def whatif_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("whatif") / "data"
    build_whatif_log(data, load_config(VO_LINJEN))
    return data


@pytest.fixture(scope="module")
def ring_40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return variant(tmp_path_factory.mktemp("ring40"), "ring-40.toml", RING_20, RING_40)


def phone_answer_rate(records: list[Record]) -> tuple[float, int]:
    """answered / (answered + unanswered) over phone contacts, as router.stats defines it."""
    phone = [r for r in records if isinstance(r, ContactRecord) and r.channel == "phone"]
    answered = sum(1 for r in phone if r.outcome == "answered")
    decided = sum(1 for r in phone if r.outcome in ("answered", "unanswered"))
    return answered / decided, decided


def test_a_longer_ring_is_simulated_not_replayed_from_refused_answers(
    whatif_log: Path, ring_40: Path
) -> None:
    result = replay(whatif_log, load_config(ring_40))
    # The plain event replay refuses the answers that came on a second ring.
    assert dict(result.refused) == {"contact.answered: not-offered": 65}
    assert result.mode == "simulated"
    assert mode_line(result) == (
        "Mode: simulated (seed 1): the event replay refused 65 recorded events the other "
        "routing depends on (contact.answered: not-offered: 65), so its figures are not "
        "shown; the 401 recorded arrivals were re-run through the simulator with behaviour "
        "estimated from the log and the agents' presence as logged"
    )
    recorded, n = phone_answer_rate(result.recorded)
    simulated, m = phone_answer_rate(result.replayed)
    assert (n, m) == (401, 401)  # every recorded arrival, no more
    assert recorded == 167 / 401  # 41.6 %
    # The simulated run is one replication of a model fitted to this log (and the
    # 40 s ring is a real change): it differs from the record by about the sampling
    # error of an answer rate over n calls. Allowed: two binomial standard errors
    # (4.9 points here). Seeds 1-10 gave 36.7-40.9 %, 38.8 % on average.
    tolerance = 2 * math.sqrt(recorded * (1 - recorded) / n)
    assert abs(simulated - recorded) <= tolerance
    assert simulated == 152 / 401  # 37.9 %, seed 1

    out = io.StringIO()
    render_replay(result, "ring-40.toml", Console(file=out, width=100, color_system=None))
    text = out.getvalue()
    assert text.splitlines()[:2] == [
        "Simulated 401 recorded arrivals (of 999 logged events) through ring-40.toml "
        "(helpline vo_linjen)",
        mode_line(result),
    ]
    assert "  patience, phone: Kaplan-Meier from 234 abandons of 401 callers" in text
    assert "Recorded and simulated: phone" in text
    assert "Replayed" not in text
    assert "│ answer rate                        │   41.6 % │    37.9 % │ -3.7 pt │" in text
    assert "Events the event replay refused (its figures are not shown): 65" in text


def test_the_simulated_what_if_is_deterministic_for_a_seed(whatif_log: Path, ring_40: Path) -> None:
    cfg = load_config(ring_40)
    first = replay_to_json(replay(whatif_log, cfg, seed=3))
    assert first == replay_to_json(replay(whatif_log, cfg, seed=3))
    assert (first["mode"], first["seed"]) == ("simulated", 3)
    assert first["estimates"][0].startswith("patience, phone: Kaplan-Meier")


def test_the_cli_says_which_mode_it_used(
    whatif_log: Path, ring_40: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "--data", str(whatif_log), "--config", str(ring_40)]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(replay_to_json(replay(whatif_log, load_config(ring_40)))))
    assert (out["mode"], out["seed"], out["refused"]) == (
        "simulated",
        1,
        {"contact.answered: not-offered": 65},
    )
    assert main(args) == 0
    assert "Mode: simulated (seed 1)" in capsys.readouterr().out


def test_the_same_configuration_replays_the_log_exactly(whatif_log: Path) -> None:
    result = replay(whatif_log, load_config(VO_LINJEN))
    assert (result.mode, dict(result.refused), result.seed) == ("replay", {}, None)
    assert mode_line(result) == "Mode: replay: the recorded events fed as they were"
    assert stats_to_json(result.fold("replayed", ("channel",))) == stats_to_json(
        result.fold("recorded", ("channel",))
    )


def test_chat_hours_on_a_phone_only_log_keep_the_replay(whatif_log: Path, tmp_path: Path) -> None:
    # Opening the chat around the clock changes nothing that was offered on the phone.
    cfg = variant(tmp_path, "chat-24-7.toml", 'default = "closed"', 'default = "ok"')
    result = replay(whatif_log, load_config(cfg))
    assert (result.mode, dict(result.refused)) == ("replay", {})
    assert phone_answer_rate(result.replayed) == phone_answer_rate(result.recorded)


def test_the_cli_takes_the_seed_of_a_simulated_what_if(
    whatif_log: Path, ring_40: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "--data", str(whatif_log), "--config", str(ring_40), "--format", "json"]
    assert main([*args, "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(
        json.dumps(replay_to_json(replay(whatif_log, load_config(ring_40), seed=3)))
    )
    assert (out["mode"], out["seed"]) == ("simulated", 3)
