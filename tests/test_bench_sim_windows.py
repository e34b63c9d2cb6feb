"""The simulator benchmark's within-run figures (benchmarks/bench_sim.py)."""

from __future__ import annotations

from benchmarks.bench_sim import run_windows, window_figures


def test_window_figures_read_the_first_window_apart_and_halve_the_rest() -> None:
    # (callers, CPU s): 20, then 10, 10, 30, 30 us per caller.
    windows = [(100, 0.002), (100, 0.001), (200, 0.002), (100, 0.003), (100, 0.003)]
    assert {k: round(v, 9) for k, v in window_figures(windows).items()} == {
        "windows": 5.0,
        "first_us": 20.0,
        "later_median_us": 20.0,
        "late_over_early": 3.0,
    }


def test_one_run_cut_into_windows_accounts_for_every_caller() -> None:
    windows = run_windows(600, every_s=3600.0)
    assert sum(n for n, _ in windows) == 600
    assert len(windows) >= 2
    assert all(n > 0 and cpu_s >= 0 for n, cpu_s in windows)
