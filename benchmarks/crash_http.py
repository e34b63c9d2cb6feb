"""The full HTTP crash loop: 50,000 events while the service is SIGKILLed at least 200 times.

The same loop as ``tests/test_http_crash.py`` at full size (see
``tests/helpers/http_crash.py`` for what is checked after every kill and at
the end). Prints the run's figures as JSON; docs/RELIABILITY.md quotes them.

Run: ``.venv/bin/python benchmarks/crash_http.py`` (env LINJE_CRASH_EVENTS,
LINJE_CRASH_KILLS, LINJE_CRASH_SEED).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.config_file import load_config
from tests.helpers.http_crash import CrashReport, run_crash_loop

EVENTS = int(os.environ.get("LINJE_CRASH_EVENTS", "50000"))
KILLS = int(os.environ.get("LINJE_CRASH_KILLS", "200"))
SEED = int(os.environ.get("LINJE_CRASH_SEED", "20211115"))


def main() -> dict[str, object]:
    config = load_config(ROOT / "config" / "vo-linjen.toml")

    def progress(r: CrashReport) -> None:
        if r.runs % 20 == 0:
            print(f"  run {r.runs}: {r.kills} kills, {r.accepted} accepted, log {r.log_sizes[-1]}",
                  file=sys.stderr, flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        report = run_crash_loop(Path(tmp) / "data", config, n_events=EVENTS, kills=KILLS,
                                seed=SEED, snapshot_every=1000, progress=progress)  # fmt: skip
    out = asdict(report)
    sizes = out.pop("log_sizes")
    out["distinct_log_sizes_at_kill"] = len(set(sizes))
    out["seconds"] = round(report.seconds, 1)
    out["verdict"] = "every acknowledged event logged exactly once; no gaps; stats equal clean run"
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
