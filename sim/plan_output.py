"""What ``linje plan`` prints and writes: staffing tables by day type, plan.json, plan.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.plan import Cell, Figure, PlanResult, day_type_label

__all__ = ["fmt_figure", "plan_json", "render_plan", "write_plan"]

STATUS = {
    "met": "",
    "undecided": "undecided",
    "below": "below target",
    "saturated": "staffing does not help",
    "low_volume": "low volume",
}


def fmt_figure(f: Figure | None) -> str:
    """``96.1 % [94.0-97.9] n=412``: share, 95 % interval, contacts it is taken over."""
    if f is None or f.value is None or f.low is None or f.high is None:
        return "-"
    return f"{100 * f.value:.1f} % [{100 * f.low:.1f}-{100 * f.high:.1f}] n={f.judged}"


def _agents(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def render_plan(result: PlanResult) -> str:
    """One table per day type (a row per hour, team and channel) and a summary."""
    t = result.target
    lines = [
        f"# Staffing plan: {result.scenario}, regular weeks of {result.month}",
        "",
        f"Target: {t}, in every hour each team owns the queue; an hour with under one "
        f"contact a week is judged over its {result.period}. {result.weeks} simulated weeks "
        f"x {result.replications} replications per candidate ({result.candidates} staffings "
        "simulated, the same random numbers for each).",
        "Figures: share [95 % interval] n = contacts behind it in all simulated weeks.",
    ]
    if result.volume_multiplier != 1.0:
        lines.append(f"Volumes multiplied by {result.volume_multiplier:g}.")
    if result.chat_hours:
        lines.append(f"Chat open {result.chat_hours} every day.")
    for kind, _ in result.day_types:
        rows = [c for c in result.cells if c[0] == kind]
        if not rows:
            continue
        lines += [
            "",
            f"## {day_type_label(kind, result.day_types)}",
            "",
            "| hour | team | channel | agents | current rota | with the plan "
            "| with the current rota | contacts a week | note |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in sorted(rows, key=lambda c: (c[3], c[2], c[1])):
            _, ch, team, h = c
            d = result.decisions[c]
            lines.append(
                f"| {h:02d} | {team} | {ch} | {result.staff[c]} "
                f"| {_agents(result.current_staff.get(c, 0.0))} "
                f"| {fmt_figure(result.achieved[c])} | {fmt_figure(result.current[c])} "
                f"| {result.achieved[c].contacts_per_week:.2f} | {STATUS[d.status]} |"
            )
    lines += [
        "",
        f"## Over each {result.period}",
        "",
        "| period | with the plan | with the current rota |",
        "|---|---|---|",
    ]
    for key, f in result.periods.items():
        lines.append(
            f"| {' '.join(key)} | {fmt_figure(f)} | {fmt_figure(result.current_periods.get(key))} |"
        )
    for ch, f in result.overall.items():
        lines.append(
            f"| {ch}, whole week | {fmt_figure(f)} | {fmt_figure(result.current_overall.get(ch))} |"
        )
    below = result.below
    current_below = [
        c
        for c in result.cells
        if (v := result.current[c].value) is not None and v < result.target.threshold
    ]
    lines += [
        "",
        f"Agent-hours per week: {result.agent_hours:.0f} with this plan, "
        f"{result.current_agent_hours:.0f} in the current rota.",
        f"Hours below the target with the current rota: {len(current_below)} of "
        f"{len(result.cells)}; with this plan: {len(below)}.",
        "The target is met in every hour and period."
        if result.met
        else "The target is not met everywhere; see the cells below.",
    ]
    if below:
        lines += ["", "Cells below the target with this plan:", ""]
        for c in below:
            d = result.decisions[c]
            lines.append(
                f"- {c[0]} {c[2]} {c[1]} {c[3]:02d}:00, {result.staff[c]} agent(s): "
                f"{fmt_figure(result.achieved[c])} ({STATUS[d.status] or 'met in its ladder'})"
            )
    undecided = [c for c in result.cells if result.decisions[c].status == "undecided"]
    if undecided:
        lines += [
            "",
            f"Undecided after {result.replications} replications (one agent fewer may be "
            "enough; the plan keeps the staffing whose lower bound clears the target):",
            "",
        ]
        for c in undecided:
            lad = result.decisions[c].ladder
            fewer = [f for n, f in lad if n == result.staff[c] - 1]
            lines.append(
                f"- {c[0]} {c[2]} {c[1]} {c[3]:02d}:00: {result.staff[c] - 1} agent(s) give "
                f"{fmt_figure(fewer[-1] if fewer else None)}"
            )
    saturated = [c for c in result.cells if result.decisions[c].status == "saturated"]
    if saturated:
        names = ", ".join(f"{c[0]} {c[2]} {c[1]} {c[3]:02d}:00" for c in saturated)
        lines.append(
            f"\nMore agents did not help in: {names}. Staffing alone does not reach the "
            "target there; look at the behaviour (time to answer against the ring time, "
            "time away) or the routing."
        )
    return "\n".join(lines) + "\n"


def _fig(f: Figure | None) -> dict[str, Any] | None:
    if f is None or f.value is None:
        return None
    return {
        "value": _r(f.value),
        "low": _r(f.low),
        "high": _r(f.high),
        "judged": f.judged,
        "contacts_per_week": round(f.contacts_per_week, 3),
    }


def _cell(result: PlanResult, c: Cell) -> dict[str, Any]:
    kind, ch, team, h = c
    d = result.decisions[c]
    return {
        "day_type": kind,
        "channel": ch,
        "team": team,
        "hour": h,
        "erlang_a": result.erlang[c],
        "agents": result.staff[c],
        "status": d.status,
        "current_agents": round(result.current_staff.get(c, 0.0), 2),
        "owned_hours_per_week": round(result.owned_hours[c], 2),
        "achieved": _fig(result.achieved[c]),
        "current_achieved": _fig(result.current[c]),
        "ladder": [
            {"agents": n, "figure": _fig(f), "simulated": _r(r.value)}
            for (n, f), r in zip(d.ladder, d.raw, strict=True)
        ],
    }


def plan_json(result: PlanResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "month": result.month,
        "target": str(result.target),
        "period": result.period,
        "day_types": {name: list(days) for name, days in result.day_types},
        "weeks": result.weeks,
        "replications": result.replications,
        "candidates": result.candidates,
        "volume_multiplier": result.volume_multiplier,
        "chat_hours": result.chat_hours,
        "met": result.met,
        "agent_hours_per_week": round(result.agent_hours, 1),
        "current_agent_hours_per_week": round(result.current_agent_hours, 1),
        "overall": {k: _fig(v) for k, v in result.overall.items()},
        "current_overall": {k: _fig(v) for k, v in result.current_overall.items()},
        "periods": {" ".join(k): _fig(v) for k, v in result.periods.items()},
        "current_periods": {" ".join(k): _fig(v) for k, v in result.current_periods.items()},
        "cells": [_cell(result, c) for c in result.cells],
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def write_plan(result: PlanResult, out: Path, *, plots: bool = True) -> list[Path]:
    """Write ``plan.json``, ``plan.md`` and (optionally) ``plan.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "plan.json", out / "plan.md"]
    files[0].write_text(json.dumps(plan_json(result), indent=2, sort_keys=True) + "\n")
    files[1].write_text(render_plan(result))
    if plots:
        files.append(out / "plan.png")
        _plot(result, files[-1])
    return files


def _plot(result: PlanResult, path: Path) -> None:
    """Agents per hour (plan and current rota) and the figure with its interval, a row
    per team and channel, a colour per day type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = sorted({(ch, team) for _, ch, team, _ in result.cells})
    fig, axes = plt.subplots(len(cols), 2, figsize=(13, 2.8 * len(cols)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, (ch, team) in enumerate(cols):
        ax, ax2 = axes[row]
        for i, (kind, _) in enumerate(result.day_types):
            mine = [c for c in result.cells if c[0] == kind and c[1] == ch and c[2] == team]
            if not mine:
                continue
            colour = colours[i % len(colours)]
            # Steps over 0..24 so that hour 23 has its full width.
            plan = [result.staff.get((kind, ch, team, h), 0) for h in range(24)]
            now = [result.current_staff.get((kind, ch, team, h), 0.0) for h in range(24)]
            ax.step(range(25), [*plan, plan[-1]], where="post", color=colour, label=kind)
            ax.step(range(25), [*now, now[-1]], where="post", color=colour, linestyle="--")
            xs, ys, lo, hi = [], [], [], []
            for c in sorted(mine, key=lambda c: c[3]):
                f = result.achieved[c]
                if f.value is None or f.low is None or f.high is None:
                    continue
                xs.append(c[3] + 0.5 + 0.15 * (i - 1))
                ys.append(100 * f.value)
                lo.append(100 * (f.value - f.low))
                hi.append(100 * (f.high - f.value))
            ax2.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=3, color=colour, label=kind)
        ax.set_title(f"{team} {ch}: agents (dashed: current rota)")
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 2))
        ax.set_ylabel("agents")
        ax.legend(loc="upper left", fontsize="small")
        ax2.axhline(100 * result.target.threshold, color="grey", linewidth=0.8)
        ax2.set_title(f"{team} {ch}: achieved with the plan (95 % interval)")
        ax2.set_xlim(0, 24)
        ax2.set_xticks(range(0, 25, 2))
        ax2.set_ylabel("%")
    fig.suptitle(f"{result.scenario}: {result.target}")
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
