"""How a fit is timed: repeated below a floor, summarised by the median, with its spread.

One timing of a millisecond fit on a shared machine is not a measurement: it moves by tens
of percent from one run to the next. So, like timeit's autorange, a fit shorter than
`FLOOR_S` is fitted again (a fresh, identical estimator each time) while the time spent so
far plus the longest timing so far stays within `TARGET_S`, up to `MAX_TIMINGS`; a fit of
`FLOOR_S` or more is timed once (its relative noise is small, and repeating it is what the
budget cannot pay for). The first fit of a short series is a warm-up: it is left out of
the summary once there are three or more others (a process's first fit of an estimator
runs colder code paths). The pair's time is the **median** of what is summarised: unlike
the minimum it is what a user's own fit of that configuration takes, and over five or more
timings it moves little between runs (benchmarks/stability.py measures both).

`more_timings` and `summarise` are pure (tests/test_timing.py checks them against a
simulated clock); `measure` runs the protocol on real callables; `calibrate` times a fixed
small workload to give the machine's noise for fits that are timed once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

FLOOR_S = 0.1       # a fit shorter than this is repeated
TARGET_S = 0.12     # ... while the timings so far plus the longest of them fit in this
MAX_TIMINGS = 25    # at most this many timings of one pair
WARMUP_AFTER = 3    # the first timing is dropped from the summary when at least this many follow it


@dataclass(frozen=True)
class Protocol:
    """The timing protocol's parameters (defaults above; docs/design.md, "Timing")."""

    floor_s: float = FLOOR_S
    target_s: float = TARGET_S
    max_timings: int = MAX_TIMINGS

    def __post_init__(self):
        if not (self.floor_s >= 0 and self.target_s >= 0):
            raise ValueError(f"floor_s and target_s must be >= 0, but got {self.floor_s!r}, {self.target_s!r}")
        if not (isinstance(self.max_timings, int) and self.max_timings >= 1):
            raise ValueError(f"max_timings must be a whole number >= 1, but got {self.max_timings!r}")


@dataclass(frozen=True)
class Timing:
    """A pair's measured time: the estimate, its relative spread, how many timings it summarises."""

    seconds: float      # the median of the summarised timings
    spread: float       # relative spread: 1.4826 x MAD / median (a robust CV); NaN with fewer than 3
    n: int              # timings summarised (the warm-up left out)
    total_s: float      # seconds spent on every timing, the warm-up included


def more_timings(timings: list[float], protocol: Protocol = Protocol()) -> bool:
    """Whether to time the fit once more, given its timings so far (in order)."""
    if not timings:
        return True
    if timings[0] >= protocol.floor_s or len(timings) >= protocol.max_timings:
        return False
    return sum(timings) + max(timings) <= protocol.target_s


def summarise(timings: list[float]) -> Timing:
    """The median of the timings (the first left out when WARMUP_AFTER or more follow it)."""
    if not timings:
        raise ValueError("summarise needs at least one timing")
    kept = timings[1:] if len(timings) > WARMUP_AFTER else list(timings)
    s = sorted(kept)
    k = len(s)
    median = s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])
    spread = math.nan
    if k >= 3 and median > 0:
        dev = sorted(abs(x - median) for x in s)
        mad = dev[k // 2] if k % 2 else 0.5 * (dev[k // 2 - 1] + dev[k // 2])
        spread = 1.4826 * mad / median
    return Timing(median, spread, k, float(sum(timings)))


def measure(once: Callable[[], tuple[float, ...]], protocol: Protocol = Protocol()) -> tuple[list[tuple], float]:
    """Run `once()` (one fit and what follows it, returning its timed seconds as a tuple, the
    fit's first) under the protocol; returns (every call's tuple, wall seconds spent)."""
    t0 = time.perf_counter()
    out: list[tuple] = []
    while more_timings([r[0] for r in out], protocol):
        out.append(once())
    return out, time.perf_counter() - t0


def expected_wall(seconds, protocol: Protocol = Protocol()):
    """The wall a measurement takes when one fit (with its predictions) takes `seconds`
    (a number or an array): the protocol's number of timings at that constant time, times
    it. What the cost model's predictions of a pair's cost are turned into (sweep.cost)."""
    import numpy as np

    s = np.asarray(seconds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(s >= protocol.floor_s, 1.0,
                     np.clip(np.floor(protocol.target_s / np.maximum(s, 1e-9)), 1, protocol.max_timings))
    out = k * s
    return float(out) if np.ndim(out) == 0 else out


def relative_uncertainty(spread: float, n: int, noise_cv: float) -> float:
    """The relative standard error of a pair's time: its timings' spread (or, timed once or
    twice, the machine's noise) over sqrt(n), never below the machine's noise over sqrt(n)."""
    cv = noise_cv if not (spread == spread) else max(spread, noise_cv)
    return cv / math.sqrt(max(n, 1))


def half_width(seconds: float, spread: float, n: int, noise_cv: float) -> float:
    """The 95% half-width of a pair's time (Z95 x seconds x its relative uncertainty)."""
    return 1.959963984540054 * seconds * relative_uncertainty(spread, n, noise_cv)


def calibrate(repeats: int = 15) -> dict:
    """The machine's noise where trials run: a fixed small workload (a decision tree on
    fixed synthetic data) timed `repeats` times after a warm-up; its median seconds and its
    robust relative spread (the noise given to fits that are timed once)."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 16))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        DecisionTreeClassifier(random_state=0).fit(X, y)
        times.append(time.perf_counter() - t0)
    t = summarise(times)
    return {"noise_cv": round(t.spread, 4), "noise_median_s": t.seconds, "noise_timings": t.n}


__all__ = ["Protocol", "Timing", "more_timings", "summarise", "measure", "expected_wall", "relative_uncertainty",
           "half_width",
           "calibrate",
           "FLOOR_S", "TARGET_S", "MAX_TIMINGS"]
