"""Feed the store a workload in small batches, printing each acknowledgement.

Run as ``python -m tests.helpers.store_crash_writer DATA_DIR SEED N_EVENTS
SNAPSHOT_EVERY [--zygote]``. Like an adapter after a restart it sends the whole stream
again from the start; the store answers the events it already has as
duplicates. A line ``ack <event_id> <status>`` is printed only after
``ingest`` returned, i.e. after the batch was fsynced; ``test_store_crash``
kills this process with SIGKILL at random points and checks that every
acknowledged event survived exactly once.

With ``--zygote`` the script imports everything once and then, for each
``run`` line on stdin, forks a writer process and prints ``pid N``; when that
process has ended (done, or killed by the test) it prints ``exit STATUS``.
Each writer is still a separate process killed with SIGKILL; the fork only
saves the interpreter start-up, so 50+ crashes fit in a few seconds.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from adapters.config_file import load_config
from adapters.store import EmbeddedStore
from router import Event, HelplineConfig
from tests.helpers.store_workload import Op, workload

ROOT = Path(__file__).resolve().parents[2]


def write(
    data_dir: str, config: HelplineConfig, ops: list[Op], seed: int, snapshot_every: int
) -> None:
    """Open the store (recovering it) and send every op, acknowledging as it goes."""
    store = EmbeddedStore.open(data_dir, config, snapshot_every=snapshot_every)
    out = sys.stdout
    out.write(f"open {store.last_seq}\n")
    out.flush()
    # Batch sizes vary per run; they must not change any outcome.
    rng = random.Random(seed * 7919 + store.last_seq)
    batch: list[Event] = []

    def flush() -> None:
        for r in store.ingest(batch):
            out.write(f"ack {r.event_id} {r.status}\n")
        out.flush()
        batch.clear()

    for op in ops:
        if op.event is None:
            flush()
            store.tick(op.at)
            continue
        batch.append(op.event)
        if len(batch) >= rng.randint(1, 4):
            flush()
    flush()
    store.close()
    out.write("done\n")
    out.flush()


def main(argv: list[str]) -> int:
    data_dir, seed, n_events, snapshot_every = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    config = load_config(ROOT / "config" / "vo-linjen.toml")
    ops = workload(config, seed=seed, n_events=n_events)
    if "--zygote" not in argv:
        write(data_dir, config, ops, seed, snapshot_every)
        return 0
    for line in sys.stdin:
        if line.strip() != "run":
            break
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # the writer
            try:
                write(data_dir, config, ops, seed, snapshot_every)
            finally:
                os._exit(0)
        # One write per line: the writer shares this pipe, and print() writes the text
        # and its newline apart when stdout is unbuffered, so the writer's first line
        # could land between them.
        sys.stdout.write(f"pid {pid}\n")
        sys.stdout.flush()
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(f"exit {status}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
