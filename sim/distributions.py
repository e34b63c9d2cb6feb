"""Distributions for scenario files: validated specs that compile to fast samplers.

A spec is a small TOML table tagged by ``dist``::

    handle = { dist = "lognormal", mean = 900, sd = 600 }
    patience = { short_share = 0.2, rest = { dist = "exponential", mean = 120 } }

``sampler(rng)`` binds a spec to one seeded ``random.Random`` and returns a
zero-argument function; the simulator calls it in its inner loop, so it is a
bound method or a closure with everything precomputed. Times are seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Dist",
    "Empirical",
    "Exponential",
    "Fixed",
    "Lognormal",
    "Never",
    "Patience",
    "Sampler",
    "Uniform",
]

Sampler = Callable[[], float]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exponential(_Spec):
    """Memoryless: the patience of Erlang A, the handle time of Erlang C."""

    dist: Literal["exponential"]
    mean: float = Field(gt=0, allow_inf_nan=False)

    def sampler(self, rng: random.Random) -> Sampler:
        rate = 1.0 / self.mean
        ex = rng.expovariate
        return lambda: ex(rate)

    @property
    def average(self) -> float:
        return self.mean


class Lognormal(_Spec):
    """Given by its mean and standard deviation (what a call log reports), not mu/sigma."""

    dist: Literal["lognormal"]
    mean: float = Field(gt=0, allow_inf_nan=False)
    sd: float = Field(gt=0, allow_inf_nan=False)

    def sampler(self, rng: random.Random) -> Sampler:
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        mu, sigma = math.log(self.mean) - sigma2 / 2.0, math.sqrt(sigma2)
        ln = rng.lognormvariate
        return lambda: ln(mu, sigma)

    @property
    def average(self) -> float:
        return self.mean


class Uniform(_Spec):
    dist: Literal["uniform"]
    low: float = Field(ge=0, allow_inf_nan=False)
    high: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    def sampler(self, rng: random.Random) -> Sampler:
        low, span, r = self.low, self.high - self.low, rng.random
        return lambda: low + span * r()

    @property
    def average(self) -> float:
        return (self.low + self.high) / 2.0


class Fixed(_Spec):
    dist: Literal["fixed"]
    value: float = Field(ge=0, allow_inf_nan=False)

    def sampler(self, rng: random.Random) -> Sampler:
        value = self.value
        return lambda: value

    @property
    def average(self) -> float:
        return self.value


class Never(_Spec):
    """Infinitely long: a caller who never hangs up (Erlang C's assumption)."""

    dist: Literal["never"]

    def sampler(self, rng: random.Random) -> Sampler:
        return lambda: math.inf

    @property
    def average(self) -> float:
        return math.inf


class Empirical(_Spec):
    """Observed values, resampled uniformly (a bootstrap of a call log's column)."""

    dist: Literal["empirical"]
    values: tuple[Annotated[float, Field(ge=0, allow_inf_nan=False)], ...] = Field(min_length=1)

    def sampler(self, rng: random.Random) -> Sampler:
        values = self.values
        n, r = len(values), rng.random
        return lambda: values[int(r() * n)]

    @property
    def average(self) -> float:
        return math.fsum(self.values) / len(self.values)


Dist = Annotated[
    Exponential | Lognormal | Uniform | Fixed | Never | Empirical, Field(discriminator="dist")
]


class Patience(_Spec):
    """How long a caller waits before giving up: a mixture.

    ``short_share`` of callers hang up within the first seconds whatever
    happens (shame or fear; Kvinnofridslinjen saw 20 % leave before 10 s in
    its first year, the pilot report); their patience is drawn from ``short``.
    The rest draw from ``rest``.
    """

    short_share: float = Field(0.0, ge=0, le=1)
    short: Dist = Uniform(dist="uniform", low=0.0, high=10.0)
    rest: Dist

    def sampler(self, rng: random.Random) -> Sampler:
        rest = self.rest.sampler(rng)
        share = self.short_share
        if share <= 0.0:
            return rest
        short, r = self.short.sampler(rng), rng.random
        return lambda: short() if r() < share else rest()

    @property
    def average(self) -> float:
        share = self.short_share
        rest = self.rest.average
        if share >= 1.0:
            return self.short.average
        return share * self.short.average + (1.0 - share) * rest
