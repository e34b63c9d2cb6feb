"""``linje replay``: the scripted log through the same and through other configurations.

Golden output in ``tests/golden/replay-chat-24-7.txt``; regenerate with
``LINJE_REGEN_GOLDEN=1`` (see tests/test_report.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from adapters.cli import main
from adapters.config_file import load_config
from adapters.replay import mode_line, render_replay, replay, replay_to_json
from adapters.store import EmbeddedStore
from adapters.store.entries import read_entries
from router import HelplineConfig, record_to_dict
from router.stats import stats_to_json
from sim.whatif import estimate
from tests.conftest import VO_LINJEN
from tests.golden_events import build_log
from tests.helpers.store_workload import workload
from tests.test_report import check_golden

CHAT_DEFAULT = 'default = "closed"'
PHONE_DEFAULT = 'default = "ok"                 # OK: 15:30-08:30 every day'


def variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of config/vo-linjen.toml with one line changed."""
    text = VO_LINJEN.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def golden_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("replay") / "data"
    build_log(data, load_config(VO_LINJEN))
    return data


def test_replaying_with_the_same_configuration_reproduces_the_recorded_figures(
    golden_log: Path,
) -> None:
    result = replay(golden_log, load_config(VO_LINJEN))
    assert result.events == 64
    assert dict(result.refused) == {}
    for group_by in ((), ("channel", "team"), ("hour", "weekday")):
        assert stats_to_json(result.fold("replayed", group_by)) == stats_to_json(
            result.fold("recorded", group_by)
        )


def test_a_log_that_starts_with_an_event_replays_to_exactly_its_records(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    # The replay starts the clock with the first event, as the store did live
    # (no zero-length handover gaps from a clock started by a tick first).
    ops = workload(vo_config, seed=3, n_events=300)
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        for op in ops:
            if op.event is None:
                store.tick(op.at)
            else:
                store.ingest([op.event])
    result = replay(tmp_path, vo_config)
    assert dict(result.refused) == {}
    assert len(result.recorded) > 100
    assert [record_to_dict(r) for r in result.replayed] == [
        record_to_dict(r) for r in result.recorded
    ]


def test_chat_open_around_the_clock_turns_closed_chats_into_unanswered_ones(
    golden_log: Path, tmp_path: Path
) -> None:
    cfg = load_config(variant(tmp_path, "chat-24-7.toml", CHAT_DEFAULT, 'default = "ok"'))
    result = replay(golden_log, cfg)
    assert dict(result.refused) == {}
    # Who is offered what does not change for anything that was recorded: replay mode.
    assert (result.mode, result.seed) == ("replay", None)
    chat = {which: result.fold(which, ("channel",)).groups[0] for which in ("recorded", "replayed")}
    assert chat["recorded"].key == chat["replayed"].key == (("channel", "chat"),)
    assert (chat["recorded"].rejected_closed, chat["replayed"].rejected_closed) == (3, 0)
    assert chat["recorded"].unanswered_total == 0
    # c3 (21:00, ok-1 on chat: pushed, not taken), c4 (23:00) and c5 (Saturday): nobody on chat.
    assert chat["replayed"].unanswered == {
        "missing_data": 0,
        "no_agent": 2,
        "short_abandon": 0,
        "agents_busy": 0,
        "other": 1,
    }
    assert chat["replayed"].other_reasons["rang_unanswered"] == 1
    rates = [g.to_dict((20,))["answer_rate"] for g in chat.values()]
    assert rates == [1.0, 0.4]
    phone = [
        result.fold(w, ("channel",)).groups[1].to_dict((20,)) for w in ("recorded", "replayed")
    ]
    assert phone[0]["unanswered"] == phone[1]["unanswered"]  # the phone did not change

    out = io.StringIO()
    render_replay(result, "chat-24-7.toml", Console(file=out, width=100, color_system=None))
    check_golden("replay-chat-24-7.txt", out.getvalue())


def test_events_the_other_configuration_refuses_are_counted_not_fatal(
    golden_log: Path, tmp_path: Path
) -> None:
    # Phone only in KSS's day hours: evening, night and weekend calls are rejected as closed,
    # so the pick-ups, hang-ups and a decline that followed them are refused.
    cfg = load_config(variant(tmp_path, "day-only.toml", PHONE_DEFAULT, 'default = "closed" #'))
    result = replay(golden_log, cfg)
    assert dict(result.refused) == {
        "contact.abandoned: contact-ended": 2,  # p11, p14
        "contact.answered: contact-ended": 3,  # p10, p12, p13
        "offer.declined: contact-ended": 1,  # p13
    }
    # All six concern calls the day-only line rejects as closed: nothing the agents did
    # is lost, so the replay stands (and says why).
    assert (result.mode, result.closed_refusals, result.blocking) == ("replay", 6, 0)
    assert mode_line(result) == (
        "Mode: replay: the recorded events fed as they were; the 6 refused concern contacts "
        "the configuration rejects as closed"
    )
    phone = result.fold("replayed", ("channel",)).groups[1]
    assert (phone.rejected_closed, phone.answered) == (6, 5)
    seqs = [seq for seq, _ in result.refusals]
    assert seqs == sorted(seqs)
    assert "p10" in result.refusals[0][1]


def test_the_cli_prints_json_and_tables(
    golden_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = variant(tmp_path, "chat-24-7.toml", CHAT_DEFAULT, 'default = "ok"')
    assert (
        main(["replay", "--data", str(golden_log), "--config", str(cfg), "--format", "json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(replay_to_json(replay(golden_log, load_config(cfg)))))
    assert (out["mode"], out["seed"], out["estimates"]) == ("replay", None, [])
    assert out["recorded"]["total"]["rejected_closed"] == 3
    assert out["replayed"]["total"]["rejected_closed"] == 0
    assert main(["replay", "--data", str(golden_log), "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "Recorded and replayed: chat" in text
    assert "Events the new configuration refused: 0" in text


def test_replay_needs_a_log_and_a_valid_configuration(
    tmp_path: Path, golden_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--data", str(tmp_path), "--config", str(VO_LINJEN)]) == 2
    assert "no event log here" in capsys.readouterr().err
    bad = variant(tmp_path, "bad.toml", CHAT_DEFAULT, 'default = "nobody"')
    assert main(["replay", "--data", str(golden_log), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err
    assert "queues.chat.default" in err


def test_behaviour_is_estimated_from_the_golden_log(golden_log: Path) -> None:
    whatif = estimate(read_entries(golden_log), load_config(VO_LINJEN))
    assert [a.channel for a in whatif.arrivals].count("phone") == 15
    assert [e.type for e in whatif.presence].count("agent.logged_in") == 4
    # Phone: 14 callers who could leave (p15 has no end), 6 left (p2 4 s and p14 9 s
    # within 10 s; p5, p6 40 s; p9, p11 60 s). Exponential tail mean: every wait
    # (213 s abandoned + 99 s answered) over the 6 abandons = 52 s.
    assert whatif.estimates == [
        "patience, phone: Kaplan-Meier from 6 abandons of 14 callers (answered waits "
        "censored), 2 within 10 s; beyond the longest (60 s, 0.0 % still waiting) "
        "exponential mean 52 s",
        "handle, phone: resampled from 8 answered contacts (mean 796 s)",
        "patience, chat: none of 2 callers left unanswered; they wait until answered",
        "handle, chat: resampled from 2 answered contacts (mean 1490 s)",
        "pick-up, kss: phone 59.4 % of 15 rings never picked up; chat 0.0 % of 1 ring "
        "never picked up; 55.7 % used for both; phone reach resampled from 5 answers; "
        "chat reach resampled from 1 answer",
        "pick-up, ok: phone 44.4 % of 6 rings never picked up; chat 0.0 % of 1 ring never "
        "picked up; 38.1 % used for both; phone reach resampled from 3 answers; chat reach "
        "resampled from 1 answer",
    ]
