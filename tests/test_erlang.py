"""Erlang B, C and A against published worked examples, identities and an independent solver."""

from __future__ import annotations

import math

import pytest

from sim.erlang import ErlangA, ErlangC, erlang_b, erlang_c

# --------------------------------------------------------------------- Erlang B


@pytest.mark.parametrize(
    ("lines", "load"),
    [
        # Erlang B tables at 1 % grade of service (e.g. the table in Cooper,
        # "Introduction to Queueing Theory", and every traffic-engineering
        # handbook): 5 lines carry 1.36 E, 10 lines 4.46 E, 20 lines 12.03 E.
        (5, 1.361),
        (10, 4.461),
        (20, 12.031),
    ],
)
def test_erlang_b_matches_the_one_percent_column_of_the_published_tables(
    lines: int, load: float
) -> None:
    assert erlang_b(lines, load) == pytest.approx(0.01, abs=0.0002)


def test_erlang_b_wolfram_example_thirty_lines_twenty_five_erlangs_is_about_five_percent() -> None:
    # Wolfram Mathematica documentation, "Compute Loss Probabilities for a
    # Queue": "if there are 30 call lines and the traffic is 25 Erlangs, then
    # the blocking or loss probability is approximately 0.05".
    assert round(erlang_b(30, 25.0), 2) == 0.05


def test_erlang_b_of_one_line_offered_one_erlang_loses_half() -> None:
    assert erlang_b(1, 1.0) == 0.5


def test_erlang_b_refuses_a_negative_load_and_fractional_lines() -> None:
    with pytest.raises(ValueError, match="load"):
        erlang_b(3, -1.0)
    with pytest.raises(ValueError, match="servers"):
        erlang_b(2.5, 1.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------- Erlang C

# Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked
# Example" (callcentrehelper.com): 100 calls in 30 minutes, 180 s handle time,
# target 20 s. With 14 agents: probability of waiting 17.4 %, service level
# 88.8 %, occupancy 71.4 %.
CCH = ErlangC(arrival_rate=100 / 1800, mean_handle_s=180, servers=14)


def test_call_centre_helper_worked_example_with_fourteen_agents() -> None:
    assert CCH.load == pytest.approx(10.0)
    assert round(CCH.p_wait(), 3) == 0.174
    assert round(CCH.service_level(20), 3) == 0.888
    assert round(CCH.occupancy, 3) == 0.714


# Westbay Engineers, "The Erlang-C formula" (westbay.co.uk): 360 calls per half
# hour, 4 minute calls, 55 agents: traffic intensity 48 E, occupancy 0.873,
# probability of waiting 0.2387 and an average speed of answer of 8.2 s.
WESTBAY = ErlangC(arrival_rate=360 / 1800, mean_handle_s=240, servers=55)


def test_westbay_worked_example_360_calls_per_half_hour_55_agents() -> None:
    assert WESTBAY.load == pytest.approx(48.0)
    assert round(WESTBAY.occupancy, 3) == 0.873
    assert round(WESTBAY.p_wait(), 4) == 0.2387
    assert round(WESTBAY.asa(), 1) == 8.2


def test_erlang_c_of_an_overloaded_line_makes_everyone_wait_forever() -> None:
    q = ErlangC(arrival_rate=1 / 60, mean_handle_s=300, servers=4)  # 5 E on 4 agents
    assert q.p_wait() == 1.0
    assert q.service_level(20) == 0.0
    assert q.asa() == math.inf


def test_erlang_c_is_erlang_b_with_the_blocked_calls_held() -> None:
    # C = n B / (n - a (1 - B)), the textbook relation between the two.
    b = erlang_b(7, 5.0)
    assert erlang_c(7, 5.0) == pytest.approx(7 * b / (7 - 5.0 * (1 - b)))


# --------------------------------------------------------------------- Erlang A


def _birth_death(
    lam: float, handle: float, patience: float, n: int, *, t: float, size: int = 250
) -> tuple[float, float, float, float]:
    """(P(wait), P(abandon), P(answered within t), P(abandon within t)) of M/M/n+M.

    An independent computation: the stationary birth-death chain seen by an
    arriving caller (PASTA), then the caller's own fate from its queue position
    as an absorbing chain solved by uniformization.
    """
    mu, theta = 1 / handle, 1 / patience
    logw = [0.0]
    for k in range(1, size + 1):
        logw.append(logw[-1] + math.log(lam / (mu * min(k, n) + theta * max(k - n, 0))))
    top = max(logw)
    w = [math.exp(x - top) for x in logw]
    pi = [x / sum(w) for x in w]
    p_wait = sum(pi[n:])
    # Caller at position j (j - 1 ahead) moves up at rate n mu + (j - 1) theta, leaves at theta.
    positions = size - n + 1
    rate = n * mu + positions * theta
    steps = int(rate * t + 12 * math.sqrt(rate * t + 1) + 40)
    state = [pi[n + j] for j in range(positions)]  # probability mass by position
    served = abandoned = 0.0
    served_t = abandoned_t = 0.0
    log_poisson = -rate * t
    for k in range(steps + 1):
        if k:
            log_poisson += math.log(rate * t / k)
            nxt = [0.0] * positions
            for j, mass in enumerate(state):
                up = n * mu + j * theta
                if j == 0:
                    served += mass * up / rate
                else:
                    nxt[j - 1] += mass * up / rate
                abandoned += mass * theta / rate
                nxt[j] += mass * (1 - (up + theta) / rate)
            state = nxt
        weight = math.exp(log_poisson)
        served_t += weight * served
        abandoned_t += weight * abandoned
    p_ab = 0.0
    for j in range(positions):
        keep = math.prod((n * mu + i * theta) / (n * mu + (i + 1) * theta) for i in range(j + 1))
        p_ab += pi[n + j] * (1 - keep)
    return p_wait, p_ab, sum(pi[:n]) + served_t, abandoned_t


@pytest.mark.parametrize(
    ("calls_per_hour", "handle", "patience", "agents"),
    [
        (1, 1200, 3600, 1),
        (12, 600, 60, 3),
        (90, 180, 300, 5),
        (60, 300, 120, 2),  # overloaded: 5 E on 2 agents, only abandonment keeps it stable
        (200, 216, 600, 14),
    ],
)
def test_erlang_a_agrees_with_an_independent_birth_death_solution(
    calls_per_hour: float, handle: float, patience: float, agents: int
) -> None:
    lam = calls_per_hour / 3600
    q = ErlangA(lam, handle, patience, agents)
    p_wait, p_ab, sl, ab_t = _birth_death(lam, handle, patience, agents, t=20.0)
    assert q.p_wait() == pytest.approx(p_wait, abs=1e-9)
    assert q.p_abandon() == pytest.approx(p_ab, abs=1e-9)
    assert q.service_level(20) == pytest.approx(sl, abs=1e-7)
    assert q.p_abandon_within(20) == pytest.approx(ab_t, abs=1e-7)


def test_erlang_a_with_patience_equal_to_handle_time_is_an_infinite_server_queue() -> None:
    # Mandelbaum & Zeltyn, "The Palm/Erlang-A queue" (2005), section 3: with
    # theta = mu every caller in the system leaves at rate mu, waiting or not,
    # so the number in the system is Poisson(lambda / mu) as in M/M/infinity.
    q = ErlangA(arrival_rate=100 / 1800, mean_handle_s=180, mean_patience_s=180, servers=12)
    load = 10.0
    poisson = [math.exp(-load + k * math.log(load) - math.lgamma(k + 1)) for k in range(200)]
    assert q.p_wait() == pytest.approx(sum(poisson[12:]), abs=1e-12)
    # Abandonment rate theta E[queue] over arrival rate lambda.
    queue = sum((k - 12) * p for k, p in enumerate(poisson) if k > 12)
    assert q.p_abandon() == pytest.approx(queue / load, abs=1e-12)


def test_erlang_a_becomes_erlang_c_as_patience_grows() -> None:
    q = ErlangA(arrival_rate=100 / 1800, mean_handle_s=180, mean_patience_s=1e12, servers=14)
    assert q.p_wait() == pytest.approx(CCH.p_wait(), abs=1e-9)
    assert q.service_level(20) == pytest.approx(CCH.service_level(20), abs=1e-9)
    assert q.p_abandon() == pytest.approx(0.0, abs=1e-9)
    infinite = ErlangA(100 / 1800, 180, math.inf, 14)
    assert infinite.p_wait() == CCH.p_wait()
    assert infinite.asa() == CCH.asa()


def test_erlang_a_cross_checked_with_pyworkforce() -> None:
    # The same line in pyworkforce's exact Erlang A (an independent open-source
    # implementation, its regression test): 100 calls per 30 minutes, 3 minute
    # calls, 5 minute patience, 14 agents -> P(wait) 0.14526, P(abandon)
    # 0.013984, 91.6792 % answered within 20 s, mean wait 0.069919 minutes.
    q = ErlangA(arrival_rate=100 / 1800, mean_handle_s=180, mean_patience_s=300, servers=14)
    assert round(q.p_wait(), 5) == 0.14526
    assert round(q.p_abandon(), 6) == 0.013984
    assert round(q.service_level(20), 6) == 0.916792
    assert round(q.mean_wait() / 60, 6) == 0.069919


def test_erlang_a_average_speed_of_answer_is_the_mean_wait_of_the_answered() -> None:
    q = ErlangA(arrival_rate=90 / 3600, mean_handle_s=180, mean_patience_s=300, servers=5)
    # E[wait of all] = E[wait | answered] P(answered) + E[patience; patience < V].
    assert 0 < q.asa() < q.mean_wait() / q.p_answered()
    # Little's law for exponential patience: P(abandon) = theta E[wait of all].
    assert q.mean_wait() == pytest.approx(q.p_abandon() * 300)


def test_erlang_a_answer_rate_leaves_the_early_leavers_out_of_both_sides() -> None:
    q = ErlangA(arrival_rate=90 / 3600, mean_handle_s=180, mean_patience_s=300, servers=5)
    short = q.p_abandon_within(10)
    assert q.answer_rate(excluding_short_s=10) == pytest.approx(q.p_answered() / (1 - short))
    assert q.answer_rate() == pytest.approx(q.p_answered())


def test_erlang_a_without_agents_loses_everyone() -> None:
    q = ErlangA(arrival_rate=1 / 60, mean_handle_s=300, mean_patience_s=60, servers=0)
    assert (q.p_wait(), q.p_abandon(), q.service_level(20)) == (1.0, 1.0, 0.0)
    assert q.p_abandon_within(60) == pytest.approx(1 - math.exp(-1))


def test_erlang_a_with_infinite_patience_refuses_an_overload() -> None:
    with pytest.raises(ValueError, match="grows without bound"):
        ErlangA(arrival_rate=1 / 60, mean_handle_s=300, mean_patience_s=math.inf, servers=4)


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("arrival_rate", (0.0, 180.0, 60.0, 2)),
        ("mean_handle_s", (0.1, -1.0, 60.0, 2)),
        ("mean_patience_s", (0.1, 180.0, float("nan"), 2)),
        ("servers", (0.1, 180.0, 60.0, -1)),
    ],
)
def test_erlang_a_names_the_bad_parameter(
    field: str, args: tuple[float, float, float, int]
) -> None:
    with pytest.raises(ValueError, match=field.split("_", maxsplit=1)[0]):
        ErlangA(*args)


def test_erlang_a_handles_hundreds_of_erlangs_without_overflow() -> None:
    q = ErlangA(arrival_rate=3.0, mean_handle_s=180, mean_patience_s=120, servers=560)  # 540 E
    assert 0 < q.p_wait() < 1
    assert 0 < q.p_abandon() < q.p_wait()
    assert 0 < q.service_level(20) < 1
