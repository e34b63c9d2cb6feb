"""Crash loop over HTTP: the live service SIGKILLed at random points while events stream in.

A reduced size of ``benchmarks/crash_http.py`` (50,000 events, 200+ kills;
figures in docs/RELIABILITY.md). What is checked, after every kill and at the
end, is described in ``tests/helpers/http_crash.py``: every acknowledged event
is in the log exactly once, sequence numbers have no gaps, and the log, its
records and the statistics served over HTTP equal a clean run.
"""

from __future__ import annotations

from pathlib import Path

from router import HelplineConfig
from tests.helpers.http_crash import run_crash_loop

SEED = 8_2021_11


def test_acknowledged_events_survive_sigkill_of_the_service_exactly_once(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    report = run_crash_loop(tmp_path / "data", vo_config, n_events=1_500, kills=20, seed=SEED,
                            snapshot_every=200)  # fmt: skip
    assert report.kills >= 20
    # The kills landed in every phase, and all along the stream.
    assert report.kills_in_recovery and report.kills_in_flight and report.kills_after_ack
    assert len(set(report.log_sizes)) >= 10
    assert report.duplicates > 0 and report.rejected > 0
