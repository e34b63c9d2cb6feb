"""``linje replay``: run a recorded event log through another configuration.

"What if chat had been open 24/7 last spring?" Two modes, chosen by the
replay itself and always stated (``mode_line``, ``"mode"`` in the JSON):

* **replay**: the events of the log (not its ticks: those were the old
  configuration's timers) are fed in order to a fresh ``Router`` built with
  the other configuration; the clock is moved to each logged instant so
  events behind the clock by less than the tolerance are treated as they
  were live, and finally to the log's last instant. Its records are folded
  and set beside the records stored in the log. Valid while the other
  configuration accepts what the people in the log did: the only refusals
  allowed are events about contacts it rejects as closed (a call answered
  that is now out of hours: the contact no longer exists, nothing else moves).
* **simulated**: any other refusal (an answer by an agent who, with a longer
  ring or another strategy, is no longer being rung: ``not-offered``) means
  the recorded behaviour no longer fits, and figures built on the refused
  events would be wrong (a 20 -> 40 s ring once showed the answer rate fall
  from 38.9 % to 2.7 %). The recorded arrivals are then re-run through the
  simulator on the other configuration with behaviour estimated from the log
  and the agents' presence as logged (``sim.whatif``), with a fixed seed;
  the estimates are stated, and the event replay's figures are not shown.

Refusals are counted per reason, never fatal. Both sides are folded with the
*other* configuration's time zone and thresholds so the figures compare like
with like.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters.store.entries import LogEntry, log_dir, read_entries
from router.config import HelplineConfig
from router.core import Router
from router.errors import BadInput
from router.records import OTHER_REASONS, UNANSWERED_CLASSES, ContactRecord, Record
from router.stats import Group, Stats, fold_for_config, stats_to_json
from router.step import replay_step

__all__ = [
    "DEFAULT_SEED",
    "ReplayResult",
    "comparison_rows",
    "mode_line",
    "render_replay",
    "replay",
    "replay_to_json",
]

MAX_REFUSALS_KEPT = 50
DEFAULT_SEED = 1
REPLAY, SIMULATED = "replay", "simulated"


@dataclass(slots=True)
class ReplayResult:
    config: HelplineConfig
    recorded: list[Record] = field(default_factory=list)
    replayed: list[Record] = field(default_factory=list)
    events: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    refusals: list[tuple[int, str]] = field(default_factory=list)  # (log seq, why)
    still_open: int = 0  # contacts the replay left waiting or in service
    last_at: float | None = None
    mode: str = REPLAY
    # Refusals of events about contacts the configuration rejected as closed (harmless).
    closed_refusals: int = 0
    arrivals: int = 0
    seed: int | None = None  # simulated mode only
    estimates: list[str] = field(default_factory=list)  # simulated mode: the behaviour used
    presence_refused: Counter[str] = field(default_factory=Counter)

    @property
    def blocking(self) -> int:
        """Refusals that mean the recorded behaviour no longer fits the configuration."""
        return sum(self.refused.values()) - self.closed_refusals

    def fold(self, which: str, group_by: tuple[str, ...] = ()) -> Stats:
        records = self.recorded if which == "recorded" else self.replayed
        return fold_for_config(records, self.config, group_by=group_by)


def replay(
    data_dir: str | Path, config: HelplineConfig, *, seed: int = DEFAULT_SEED
) -> ReplayResult:
    """Run the log in ``data_dir`` through ``config``: replay mode, or simulated if refused."""
    if not log_dir(data_dir).is_dir():
        raise BadInput(f"{data_dir}: no event log here (expected {log_dir(data_dir)})")
    entries = list(read_entries(data_dir))
    out = _replay_events(entries, config)
    if out.blocking:
        _simulate(out, entries, seed)
    return out


def _replay_events(entries: list[LogEntry], config: HelplineConfig) -> ReplayResult:
    """Feed the logged events to a fresh router with ``config``."""
    router = Router(config)
    out = ReplayResult(config=config)
    last: float | None = None
    refused_contacts: list[str | None] = []
    for entry in entries:
        out.recorded.extend(entry.records)
        last = entry.at if last is None else max(last, entry.at)
        if entry.kind != "event" or entry.event is None:
            continue
        event = entry.event
        out.events += 1
        out.arrivals += event.type == "contact.arrived"
        last = max(last, event.at)
        # As recovery replays it: the clock moves to the logged clock just before
        # the event so an event behind the clock replays exactly; timers due by
        # the event's own time fire first, as the live timer loop does.
        step = replay_step(router, entry.kind, entry.at, event)
        if step.error is not None:
            err = step.error
            out.refused[f"{event.type}: {err.code}"] += 1
            refused_contacts.append(getattr(event, "contact_id", None))
            if len(out.refusals) < MAX_REFUSALS_KEPT:
                out.refusals.append((entry.seq, f"{event.type} {event.event_id}: {err.detail}"))
        out.replayed.extend(step.records)
    if last is not None:
        out.replayed.extend(router.advance(last).records)
    out.last_at = last
    out.still_open = router.arrived_total - router.ended_total
    closed = {
        r.contact_id
        for r in out.replayed
        if isinstance(r, ContactRecord) and r.outcome == "rejected_closed"
    }
    out.closed_refusals = sum(1 for cid in refused_contacts if cid is not None and cid in closed)
    return out


def _simulate(out: ReplayResult, entries: list[LogEntry], seed: int) -> None:
    """Replace the refused replay's figures by a simulation of the recorded arrivals."""
    from sim.whatif import simulate_log  # the simulator only when it is needed

    records, whatif = simulate_log(entries, out.config, seed=seed)
    out.mode = SIMULATED
    out.seed = seed
    out.replayed = records
    out.estimates = whatif.estimates
    out.presence_refused = whatif.presence_refused
    out.still_open = whatif.still_open


def _reasons(refused: Counter[str]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(refused.items()))


def mode_line(result: ReplayResult) -> str:
    """Which mode the figures come from, and why."""
    if result.mode == SIMULATED:
        return (
            f"Mode: simulated (seed {result.seed}): the event replay refused "
            f"{result.blocking} recorded events the other routing depends on "
            f"({_reasons(result.refused)}), so its figures are not shown; the "
            f"{result.arrivals} recorded arrivals were re-run through the simulator with "
            "behaviour estimated from the log and the agents' presence as logged"
        )
    if result.closed_refusals:
        return (
            "Mode: replay: the recorded events fed as they were; the "
            f"{result.closed_refusals} refused concern contacts the configuration rejects "
            "as closed"
        )
    return "Mode: replay: the recorded events fed as they were"


def _cells(g: Group, sls: tuple[float, ...]) -> list[tuple[str, float | int | None, str]]:
    """(label, value, kind) rows for one group; kind is "n" (count), "r" (rate), "s" (seconds)."""
    d = g.to_dict(sls)
    rows: list[tuple[str, float | int | None, str]] = [
        ("contacts", d["contacts"], "n"),
        ("answered", d["answered"], "n"),
        ("rejected, line closed", d["rejected_closed"], "n"),
        ("unanswered", d["unanswered_total"], "n"),
    ]
    rows += [(f"  {k}", d["unanswered"][k], "n") for k in UNANSWERED_CLASSES]
    rows += [(f"    other: {k}", d["other_reasons"][k], "n") for k in OTHER_REASONS]
    rows += [
        ("answer rate", d["answer_rate"], "r"),
        ("answer rate without short abandons", d["answer_rate_excl_short"], "r"),
    ]
    rows += [(f"answered within {k} s", v, "r") for k, v in d["service_level"].items()]
    rows += [
        ("average wait, answered", d["wait_answered_avg_s"], "s"),
        ("longest wait", d["wait_max_s"], "s"),
        ("handover gaps", d["gaps"]["count"], "n"),
        ("offers not answered", sum(a["no_answer"] for a in d["no_answer_by_agent"].values()), "n"),
    ]
    return rows


def comparison_rows(result: ReplayResult) -> list[tuple[str, list[tuple[str, Any, Any, str]]]]:
    """Sections (total, then per channel) of (metric, recorded, replayed, kind)."""
    sls = tuple(result.config.service_level_s)
    rec_total = result.fold("recorded").groups[0]
    new_total = result.fold("replayed").groups[0]
    rec_ch = {str(g.key[0][1]): g for g in result.fold("recorded", ("channel",)).groups}
    new_ch = {str(g.key[0][1]): g for g in result.fold("replayed", ("channel",)).groups}
    sections = [("all channels", rec_total, new_total)]
    channels: list[str] = [c for c in result.config.channels if c in rec_ch or c in new_ch]
    channels += sorted((set(rec_ch) | set(new_ch)) - set(channels))
    for ch in channels:
        sections.append((ch, rec_ch.get(ch, Group(key=())), new_ch.get(ch, Group(key=()))))
    out = []
    for name, rec, new in sections:
        pairs = zip(_cells(rec, sls), _cells(new, sls), strict=True)
        out.append((name, [(a[0], a[1], b[1], a[2]) for a, b in pairs]))
    return out


def replay_to_json(result: ReplayResult) -> dict[str, Any]:
    """Both sides in the ``GET /v1/stats`` shape (total and per channel), the mode (and in
    simulated mode its seed and estimates), and the event replay's refusals."""

    def side(which: str) -> dict[str, Any]:
        return {
            "total": stats_to_json(result.fold(which))["groups"][0],
            "by_channel": stats_to_json(result.fold(which, ("channel",)))["groups"],
        }

    return {
        "helpline": result.config.id,
        "mode": result.mode,
        "mode_detail": mode_line(result),
        "seed": result.seed,
        "estimates": list(result.estimates),
        "events": result.events,
        "refused": dict(sorted(result.refused.items())),
        "refusals": [{"seq": seq, "detail": why} for seq, why in result.refusals],
        "presence_refused": dict(sorted(result.presence_refused.items())),
        "still_open": result.still_open,
        "recorded": side("recorded"),
        "replayed": side("replayed"),
    }


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "r":
        return f"{value * 100:.1f} %"
    if kind == "s":
        return f"{value:g} s"
    return str(value)


def _change(old: Any, new: Any, kind: str) -> str:
    if old is None or new is None or old == new:
        return "" if old == new else "n/a"
    delta = new - old
    if kind == "r":
        return f"{delta * 100:+.1f} pt"
    if kind == "s":
        return f"{delta:+.1f} s"
    return f"{delta:+d}"


def render_replay(result: ReplayResult, config_path: str, console: Console) -> None:
    """Recorded and replayed (or simulated) figures side by side, the mode, and refusals."""
    simulated = result.mode == SIMULATED
    other = "Simulated" if simulated else "Replayed"
    what = (
        f"{result.arrivals} recorded arrivals (of {result.events} logged events)"
        if simulated
        else f"{result.events} logged events"
    )
    console.print(
        f"{other} {what} through [bold]{config_path}[/bold] (helpline {result.config.id})"
    )
    console.print(mode_line(result), soft_wrap=True)
    for line in result.estimates:
        console.print(f"  {line}", soft_wrap=True)
    for name, rows in comparison_rows(result):
        t = Table(title=f"Recorded and {other.lower()}: {name}")
        t.add_column("")
        t.add_column("Recorded", justify="right")
        t.add_column(other, justify="right")
        t.add_column("Change", justify="right")
        for label, old, new, kind in rows:
            t.add_row(label, _fmt(old, kind), _fmt(new, kind), _change(old, new, kind))
        console.print(t)
    refused = sum(result.refused.values())
    if simulated:
        console.print(f"Events the event replay refused (its figures are not shown): {refused}")
    else:
        console.print(f"Events the new configuration refused: {refused}")
    for reason, n in sorted(result.refused.items()):
        console.print(f"  {reason}: {n}")
    for seq, why in result.refusals[:10]:
        console.print(f"  log record {seq}: {why}")
    if result.presence_refused:
        console.print(f"Agent events the simulation refused: {_reasons(result.presence_refused)}")
    run = "simulation" if simulated else "replay"
    console.print(f"Contacts still open at the end of the {run}: {result.still_open}")
