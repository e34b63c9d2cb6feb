"""Figures of a run and their spread over replications (mean, 95 % confidence interval).

Every figure is read from the statistics fold (``router.stats``), the same
code the live service reports with; this module only picks figures out of
its groups and summarises independent replications.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router.records import OTHER_REASONS, UNANSWERED_CLASSES
from router.stats import Stats, fold_for_config
from sim.run import RunResult

__all__ = ["Estimate", "figures", "run_stats", "summarise", "t_quantile"]

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t (a 95 % two-sided interval)."""
    if df < 1:
        raise ValueError("at least one degree of freedom is needed")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    # Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5).
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure over replications: mean, standard error and 95 % half-width."""

    mean: float | None
    se: float | None
    half_width: float | None
    n: int

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, digits)

        return {"mean": r(self.mean), "se": r(self.se), "ci95": r(self.half_width), "n": self.n}


def _estimate(values: Sequence[float | None]) -> Estimate:
    xs = [v for v in values if v is not None]
    if not xs:
        return Estimate(None, None, None, 0)
    mean = math.fsum(xs) / len(xs)
    if len(xs) < 2:
        return Estimate(mean, None, None, len(xs))
    se = statistics.stdev(xs) / math.sqrt(len(xs))
    return Estimate(mean, se, t_quantile(len(xs) - 1) * se, len(xs))


def run_stats(result: RunResult, group_by: Sequence[str] = ()) -> Stats:
    """The live statistics of one run, for contacts that arrived inside its period."""
    return fold_for_config(
        result.records, result.config, group_by=group_by, start=result.start, end=result.end
    )


def figures(result: RunResult) -> dict[str, dict[str, float | None]]:
    """Headline figures per channel and for all channels, from one run's fold."""
    out: dict[str, dict[str, float | None]] = {}
    stats = run_stats(result, ("channel",))
    sl = _sl_key(stats)
    groups = {str(dict(g.key)["channel"]): g.to_dict(stats.service_levels) for g in stats.groups}
    total = stats.total().to_dict(stats.service_levels)
    for name, g in [*sorted(groups.items()), ("all", total)]:
        unanswered = g["unanswered_total"]
        row: dict[str, float | None] = {
            "contacts": g["contacts"],
            "answered": g["answered"],
            "rejected_closed": g["rejected_closed"],
            "unanswered": unanswered,
            "answer_rate": g["answer_rate"],
            "answer_rate_excl_short": g["answer_rate_excl_short"],
            f"service_level_{sl}s": g["service_level"].get(sl),
            "wait_answered_avg_s": g["wait_answered_avg_s"],
        }
        for klass in UNANSWERED_CLASSES:
            n = g["unanswered"][klass]
            row[f"unanswered.{klass}"] = n
            row[f"unanswered_share.{klass}"] = round(n / unanswered, 4) if unanswered else None
        for reason in OTHER_REASONS:
            n = g["other_reasons"][reason]
            row[f"other_reason_share.{reason}"] = round(n / unanswered, 4) if unanswered else None
        out[name] = row
    return out


def _sl_key(stats: Stats) -> str:
    first = stats.service_levels[0] if stats.service_levels else 20.0
    return str(int(first)) if float(first).is_integer() else str(first)


def summarise(
    per_replication: Sequence[dict[str, dict[str, float | None]]],
) -> dict[str, dict[str, Estimate]]:
    """Mean and 95 % confidence interval of every figure over independent replications."""
    out: dict[str, dict[str, Estimate]] = {}
    groups = sorted({g for rep in per_replication for g in rep}, key=lambda g: (g == "all", g))
    for g in groups:
        names = sorted({k for rep in per_replication for k in rep.get(g, {})})
        out[g] = {
            name: _estimate([rep.get(g, {}).get(name) for rep in per_replication]) for name in names
        }
    return out
