"""Erlang B, Erlang C and Erlang A (Palm): the queueing formulas planners start from.

Rates are per second and times in seconds throughout. ``load`` (offered
traffic, in Erlangs) is arrival rate x mean handle time.

* Erlang B (M/M/n/n): the share of callers blocked when there is no queue.
* Erlang C (M/M/n): every caller waits as long as it takes.
* Erlang A (M/M/n+M, Palm 1943): callers leave after an exponential patience.

The Erlang A measures follow Mandelbaum & Zeltyn, "The Palm/Erlang-A queue,
with applications to call centers" (Technion, 2005), written through the
offered-wait density of the M/M/n+G queue (Zeltyn & Mandelbaum, Queueing
Systems 51, 2005): with E the Erlang B of n-1 servers and
J(t) = integral from t to infinity of exp(lambda H(x) - n mu x) dx, where
H(x) = (1 - exp(-theta x)) / theta,

    P(V > t) = lambda J(t) / D,   D = 1 / E(n-1) + lambda J(0),

and J(t) reduces to a lower incomplete gamma function. Everything is computed
in logarithms so that loads of hundreds of Erlangs and long patience neither
overflow nor underflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ErlangA", "ErlangC", "erlang_b", "erlang_c"]

_EPS = 1e-16


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of ``servers`` lines offered ``load`` Erlangs (Erlang B)."""
    _check_servers(servers)
    if load < 0 or not math.isfinite(load):
        raise ValueError(f"load must be a finite number of Erlangs >= 0 (got {load})")
    b = 1.0
    for k in range(1, servers + 1):  # the stable recursion B(k) = aB(k-1) / (k + aB(k-1))
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that a caller has to wait (Erlang C); 1.0 when ``load >= servers``."""
    _check_servers(servers)
    if servers == 0 or load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1.0 - b))


def _check_servers(servers: int) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 0:
        raise ValueError(f"servers must be a whole number >= 0 (got {servers!r})")


def _check_rate(name: str, value: float, *, allow_inf: bool = False) -> None:
    if not (value > 0) or (math.isinf(value) and not allow_inf) or math.isnan(value):
        raise ValueError(f"{name} must be a positive number (got {value})")


@dataclass(frozen=True, slots=True)
class ErlangC:
    """M/M/n: Poisson arrivals, exponential handle times, ``servers`` agents, infinite patience."""

    arrival_rate: float  # callers per second
    mean_handle_s: float
    servers: int

    def __post_init__(self) -> None:
        _check_rate("arrival_rate", self.arrival_rate)
        _check_rate("mean_handle_s", self.mean_handle_s)
        _check_servers(self.servers)

    @property
    def load(self) -> float:
        return self.arrival_rate * self.mean_handle_s

    @property
    def stable(self) -> bool:
        return self.load < self.servers

    @property
    def occupancy(self) -> float:
        return min(1.0, self.load / self.servers) if self.servers else 1.0

    def p_wait(self) -> float:
        """Share of callers who find every agent busy."""
        return erlang_c(self.servers, self.load)

    def p_wait_longer(self, t: float) -> float:
        """Share of callers who wait longer than ``t`` seconds."""
        if not self.stable:
            return 1.0
        return self.p_wait() * math.exp(
            -(self.servers / self.mean_handle_s - self.arrival_rate) * t
        )

    def service_level(self, t: float) -> float:
        """Share of callers answered within ``t`` seconds."""
        return 1.0 - self.p_wait_longer(t)

    def asa(self) -> float:
        """Average speed of answer (mean wait of all callers, who are all answered)."""
        if not self.stable:
            return math.inf
        return self.p_wait() / (self.servers / self.mean_handle_s - self.arrival_rate)


def _log_gamma_series(a: float, x: float) -> float:
    """ln of sum x^k / (a (a+1) ... (a+k)): gamma(a, x) = x^a e^-x times it (NR 6.2.5)."""
    term = total = 1.0 / a
    k = 0
    while term > total * _EPS:
        k += 1
        term *= x / (a + k)
        total += term
    return math.log(total)


def _log_upper_gamma_ratio(a: float, x: float) -> float:
    """ln of Gamma(a, x) / Gamma(a), the regularized upper function, for x >= a + 1.

    Continued fraction by the modified Lentz method (Numerical Recipes 6.2.7).
    """
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    i = 0
    while True:
        i += 1
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return a * math.log(x) - x + math.log(h) - math.lgamma(a)


def _logaddexp(x: float, y: float) -> float:
    if x == -math.inf:
        return y
    if y == -math.inf:
        return x
    m = max(x, y)
    return m + math.log(math.exp(x - m) + math.exp(y - m))


def _log_inv_erlang_b(servers: int, load: float) -> float:
    """ln(1 / B(servers, load)) by the recursion 1/B(k) = 1 + (k / a) / B(k-1), in logs."""
    acc = 0.0
    log_load = math.log(load)
    for k in range(1, servers + 1):
        acc = _logaddexp(0.0, math.log(k) - log_load + acc)
    return acc


@dataclass(frozen=True, slots=True)
class ErlangA:
    """M/M/n+M: like Erlang C, but each caller leaves after an exponential patience.

    ``mean_patience_s`` may be ``math.inf`` (Erlang C); the queue is then only
    defined while ``load < servers``.
    """

    arrival_rate: float  # callers per second
    mean_handle_s: float
    mean_patience_s: float
    servers: int

    def __post_init__(self) -> None:
        _check_rate("arrival_rate", self.arrival_rate)
        _check_rate("mean_handle_s", self.mean_handle_s)
        _check_rate("mean_patience_s", self.mean_patience_s, allow_inf=True)
        _check_servers(self.servers)
        if math.isinf(self.mean_patience_s) and self.load >= self.servers:
            raise ValueError(
                f"with infinite patience the queue grows without bound: load {self.load:.3g} "
                f"Erlangs needs more than {self.servers} agents"
            )

    @property
    def load(self) -> float:
        return self.arrival_rate * self.mean_handle_s

    @property
    def _erlang_c(self) -> ErlangC | None:
        if math.isinf(self.mean_patience_s):
            return ErlangC(self.arrival_rate, self.mean_handle_s, self.servers)
        return None

    # The pieces of the offered-wait density, in logs (see the module docstring).
    def _theta(self) -> float:
        return 1.0 / self.mean_patience_s

    def _phi(self, t: float) -> float:
        lam, th = self.arrival_rate, self._theta()
        return lam / th * -math.expm1(-th * t) - self.servers / self.mean_handle_s * t

    def _log_j(self, t: float) -> float:
        lam, th = self.arrival_rate, self._theta()
        a = self.servers / self.mean_handle_s / th
        x = lam / th * math.exp(-th * t)
        if x <= 0.0:
            return -math.inf
        if x < a + 1.0:
            # J(t) = exp(phi(t)) S(a, x_t) / theta: the large terms of the gamma form cancel
            # exactly, so they are never computed.
            return -math.log(th) + self._phi(t) + _log_gamma_series(a, x)
        # Overloaded side: J(t) = exp(lambda/theta) (lambda/theta)^-a gamma(a, x_t) / theta.
        upper = math.exp(_log_upper_gamma_ratio(a, x))
        log_gamma = math.lgamma(a) + (math.log1p(-upper) if upper < 1.0 else -math.inf)
        return -math.log(th) + lam / th - a * math.log(lam / th) + log_gamma

    def _log_d(self) -> float:
        log_eps = _log_inv_erlang_b(self.servers - 1, self.load)
        return _logaddexp(log_eps, math.log(self.arrival_rate) + self._log_j(0.0))

    def _parts(self, t: float) -> tuple[float, float, float, float]:
        """(J(0)/D, (J(0) - J(t))/D, J(t)/D, exp(phi(t))/D) for the formulas below."""
        log_d = self._log_d()
        lj0 = self._log_j(0.0)
        ljt = self._log_j(t) if t > 0 else lj0
        j0 = math.exp(lj0 - log_d)
        jt = math.exp(ljt - log_d)
        diff = j0 * -math.expm1(ljt - lj0) if ljt > -math.inf else j0
        return j0, diff, jt, math.exp(self._phi(t) - log_d)

    def p_wait(self) -> float:
        """Share of callers who find every agent busy (P(W > 0))."""
        if self.servers == 0:
            return 1.0
        c = self._erlang_c
        if c is not None:
            return c.p_wait()
        return min(1.0, self.arrival_rate * math.exp(self._log_j(0.0) - self._log_d()))

    def p_abandon(self) -> float:
        """Share of callers who leave before an agent answers."""
        if self.servers == 0:
            return 1.0
        if self._erlang_c is not None:
            return 0.0
        j0, _, _, inv_d = self._parts(0.0)
        n_mu = self.servers / self.mean_handle_s
        return min(1.0, max(0.0, inv_d + (self.arrival_rate - n_mu) * j0))

    def p_answered(self) -> float:
        return 1.0 - self.p_abandon()

    def service_level(self, t: float) -> float:
        """Share of all callers answered within ``t`` seconds (abandoners count against it)."""
        if self.servers == 0:
            return 0.0
        c = self._erlang_c
        if c is not None:
            return c.service_level(t)
        if t < 0:
            raise ValueError("t must be >= 0")
        log_d = self._log_d()
        log_eps = _log_inv_erlang_b(self.servers - 1, self.load)
        _, diff, _, phi_t = self._parts(t)
        n_mu = self.servers / self.mean_handle_s
        # P(V = 0) + integral 0..t of f_V(x) P(patience > x) dx, using
        # lambda e^(-theta x) e^phi = (e^phi)' + n mu e^phi.
        value = math.exp(log_eps - log_d) - math.exp(-log_d) + phi_t + n_mu * diff
        return min(1.0, max(0.0, value))

    def p_abandon_within(self, t: float) -> float:
        """Share of all callers who leave within ``t`` seconds of arriving."""
        if self.servers == 0:
            return -math.expm1(-t / self.mean_patience_s)
        if self._erlang_c is not None:
            return 0.0
        if t < 0:
            raise ValueError("t must be >= 0")
        th = self._theta()
        _, diff, jt, phi_t = self._parts(t)
        _, _, _, inv_d = self._parts(0.0)
        n_mu = self.servers / self.mean_handle_s
        lam = self.arrival_rate
        # integral 0..t of theta e^(-theta s) P(V > s) ds, swapped and integrated by parts.
        value = (lam - n_mu) * diff + inv_d - phi_t + lam * -math.expm1(-th * t) * jt
        return min(1.0, max(0.0, value))

    def answer_rate(self, excluding_short_s: float = 0.0) -> float:
        """Answered / callers, leaving those who left within ``excluding_short_s`` out of both."""
        short = self.p_abandon_within(excluding_short_s) if excluding_short_s > 0 else 0.0
        return self.p_answered() / (1.0 - short) if short < 1.0 else 0.0

    def mean_wait(self) -> float:
        """Mean time in queue of all callers, answered or not (Little: P(Ab) / theta)."""
        c = self._erlang_c
        if c is not None:
            return c.asa()
        if self.servers == 0:
            return self.mean_patience_s
        return self.p_abandon() * self.mean_patience_s

    def asa(self) -> float:
        """Average speed of answer: mean wait of the callers who were answered."""
        c = self._erlang_c
        if c is not None:
            return c.asa()
        answered = self.p_answered()
        if self.servers == 0 or answered <= 0.0:
            return math.nan
        # E[V; answered] = (n mu K1 - J(0)) / D with K1 = integral 0..inf of J(t) dt.
        log_d = self._log_d()
        lj0 = self._log_j(0.0)
        k1 = _integrate_decreasing(lambda t: math.exp(self._log_j(t) - lj0)) * math.exp(lj0)
        n_mu = self.servers / self.mean_handle_s
        value = (n_mu * k1 - math.exp(lj0)) * math.exp(-log_d)
        return max(0.0, value) / answered


def _integrate_decreasing(f: Callable[[float], float], *, rel: float = 1e-12) -> float:
    """Integral 0..inf of a positive decreasing function with f(0) = 1 (Simpson, tail cut)."""
    end = 1.0
    while f(end) > rel:
        end *= 2.0
    n = 4096
    h = end / n
    total = f(0.0) + f(end)
    for i in range(1, n):
        total += (4.0 if i % 2 else 2.0) * f(i * h)
    return total * h / 3.0
