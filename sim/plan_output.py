"""What ``linje plan`` prints and writes: the staffing table, plan.json, plan.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.plan import Cell, CellResult, PlanResult

__all__ = ["plan_json", "render_plan", "write_plan"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def render_plan(result: PlanResult) -> str:
    """The staffing table (agents per hour; the current rota's in brackets) and a summary."""
    cols = sorted({(ch, team) for ch, team, _ in result.cells})
    head = "| hour | " + " | ".join(f"{team} {ch}" for ch, team in cols) + " |"
    lines = [
        f"# Staffing plan: {result.scenario}, a regular week of {result.month}",
        "",
        f"Target: {result.target}, in every hour each team owns the queue. "
        f"{result.weeks} simulated weeks x {result.replications} replications per round.",
    ]
    if result.volume_multiplier != 1.0:
        lines.append(f"Volumes multiplied by {result.volume_multiplier:g}.")
    if result.chat_hours:
        lines.append(f"Chat open {result.chat_hours} every day.")
    lines += [
        "",
        "Agents needed per hour (the current rota's in brackets):",
        "",
        head,
        "|---|" + "---|" * len(cols),
    ]
    for h in range(24):
        row = []
        for ch, team in cols:
            cell = (ch, team, h)
            if cell not in result.staff:
                row.append("")
                continue
            now = result.current_staff.get(cell, 0.0)
            now_text = f"{now:.0f}" if abs(now - round(now)) < 0.05 else f"{now:.1f}"
            row.append(f"{result.staff[cell]} ({now_text})")
        lines.append(f"| {h:02d} | " + " | ".join(row) + " |")
    lines += ["", "| channel | with this plan | with the current rota |", "|---|---|---|"]
    for ch in sorted(set(result.overall) | set(result.current_overall)):
        lines.append(
            f"| {ch} | {_pct(result.overall.get(ch))} | {_pct(result.current_overall.get(ch))} |"
        )
    short = [
        c
        for c in result.cells
        if (r := result.current.get(c))
        and r.value is not None
        and r.value < result.target.threshold
    ]
    lines += [
        "",
        f"Agent-hours per week: {result.agent_hours:.0f} with this plan, "
        f"{result.current_agent_hours:.0f} in the current rota.",
        f"Hours below the target with the current rota: {len(short)} of {len(result.cells)}.",
        "The target is met in every hour."
        if result.met
        else "The target is not met in every hour (see plan.json for the figures).",
    ]
    if result.saturated:
        names = ", ".join(f"{team} {ch} {h:02d}:00" for ch, team, h in result.saturated)
        lines.append(
            f"One more agent did not help in: {names}. Staffing alone does not reach the "
            "target there; look at the behaviour (time to answer against the ring time, "
            "time away) or the routing."
        )
    return "\n".join(lines) + "\n"


def plan_json(result: PlanResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "month": result.month,
        "target": str(result.target),
        "weeks": result.weeks,
        "replications": result.replications,
        "volume_multiplier": result.volume_multiplier,
        "chat_hours": result.chat_hours,
        "met": result.met,
        "rounds": result.rounds,
        "saturated": [{"channel": ch, "team": t, "hour": h} for ch, t, h in result.saturated],
        "agent_hours_per_week": round(result.agent_hours, 1),
        "current_agent_hours_per_week": round(result.current_agent_hours, 1),
        "overall": {k: _r(v) for k, v in result.overall.items()},
        "current_overall": {k: _r(v) for k, v in result.current_overall.items()},
        "cells": [
            {
                "channel": ch,
                "team": team,
                "hour": h,
                "erlang_a": result.erlang[(ch, team, h)],
                "agents": result.staff[(ch, team, h)],
                "current_agents": round(result.current_staff.get((ch, team, h), 0.0), 2),
                "owned_hours_per_week": round(result.owned_hours[(ch, team, h)], 2),
                "contacts_per_week": round(
                    _cr(result.achieved, (ch, team, h)).contacts_per_week, 2
                ),
                "achieved": _r(_cr(result.achieved, (ch, team, h)).value),
                "current_achieved": _r(_cr(result.current, (ch, team, h)).value),
            }
            for ch, team, h in result.cells
        ],
    }


def _cr(res: dict[Cell, CellResult], cell: Cell) -> CellResult:
    return res.get(cell, CellResult(0.0, None))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def write_plan(result: PlanResult, out: Path, *, plots: bool = True) -> list[Path]:
    """Write ``plan.json``, ``plan.md`` and (optionally) ``plan.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "plan.json", out / "plan.md"]
    files[0].write_text(json.dumps(plan_json(result), indent=2, sort_keys=True) + "\n")
    files[1].write_text(render_plan(result))
    if plots:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cols = sorted({(ch, team) for ch, team, _ in result.cells})
        fig, axes = plt.subplots(len(cols), 1, figsize=(8, 2.4 * len(cols)), squeeze=False)
        for ax, (ch, team) in zip(axes[:, 0], cols, strict=True):
            hours = list(range(24))
            plan = [result.staff.get((ch, team, h), 0) for h in hours]
            now = [result.current_staff.get((ch, team, h), 0.0) for h in hours]
            ax.step(hours, plan, where="post", label="plan")
            ax.step(hours, now, where="post", linestyle="--", label="current rota")
            ax.set_title(f"{team} {ch}")
            ax.set_xticks(range(0, 24, 2))
            ax.set_ylabel("agents")
            ax.legend(loc="upper left")
        fig.suptitle(f"{result.scenario}: {result.target}")
        fig.tight_layout()
        files.append(out / "plan.png")
        fig.savefig(files[-1], dpi=90, metadata={"Software": None})
        plt.close(fig)
    return files
