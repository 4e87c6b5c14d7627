"""How a fit is timed: repeated below a floor, summarised by its fastest timing, with its spread.

One timing of a millisecond fit on a shared machine is not a measurement: it moves by tens
of percent from one run to the next. So, like timeit's autorange, a fit shorter than
`FLOOR_S` is fitted again (a fresh, identical estimator each time, its validation
predictions timed with it) while the wall spent so far plus the longest call so far stays
within `TARGET_S`, up to `MAX_TIMINGS`; a longer fit is timed once (repeating it is what the
budget cannot pay for). The pair's time is the **fastest** timing: what the machine can do
with the configuration, least touched by what else ran at that moment (a neighbour trial,
the driver, the raylet), which only ever adds time; benchmarks/stability.py compares it
with the median. The spread (a robust CV over the timings, the first left out as a
warm-up once three or more follow it) says how much one timing moved.

A pair's interval is wider than its own timings' spread: between two runs the same pair
moves by more than within one measurement (consecutive timings share what runs beside them
and the process's state; the next run does not). `TIMING_NOISE` is one timing's between-run
relative noise, with heavy tails taken in: the relative standard error of a pair timed n
times is never below TIMING_NOISE / sqrt(n). benchmarks/stability.py measures it
(`timing_noise`: the 95th percentile of |log(t2/t1)| sqrt(n/2) over 1.96) and
docs/design.md ("Timing") gives the figure it was set from.

`more_timings` and `summarise` are pure (tests/test_timing.py checks them against a
simulated clock); `measure` runs the protocol on real callables; `calibrate` times a fixed
small workload to give the trial process's noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

FLOOR_S = 0.025        # a fit shorter than this is repeated
TARGET_S = 0.05        # ... while the calls so far plus the longest of them fit in this
MAX_TIMINGS = 25       # at most this many timings of one pair
WARMUP_AFTER = 3       # the first timing is left out of the spread when at least this many follow it
TIMING_NOISE = 0.1     # one timing's between-run relative noise (benchmarks/stability.py)


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

    seconds: float      # the fastest timing
    spread: float       # relative spread: 1.4826 x MAD / median (a robust CV); NaN with fewer than 3
    n: int              # timings summarised (the warm-up left out)
    total_s: float      # seconds spent on every timing, the warm-up included
    median: float = math.nan  # the median of the summarised timings


def more_timings(timings: list[float], protocol: Protocol = Protocol(), walls: list[float] | None = None) -> bool:
    """Whether to time the fit once more, given its timings so far (in order) and, when a call
    does more than the fit (the predictions), each call's wall (else the timings)."""
    if not timings:
        return True
    if timings[0] >= protocol.floor_s or len(timings) >= protocol.max_timings:
        return False
    w = timings if walls is None else walls
    return sum(w) + max(w) <= protocol.target_s


def robust_spread(values: list[float]) -> float:
    """1.4826 x MAD / median (a robust CV); NaN with fewer than three values or a zero median."""
    s = sorted(values)
    k = len(s)
    if k < 3:
        return math.nan
    median = s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])
    if median <= 0:
        return math.nan
    dev = sorted(abs(x - median) for x in s)
    mad = dev[k // 2] if k % 2 else 0.5 * (dev[k // 2 - 1] + dev[k // 2])
    return 1.4826 * mad / median


def summarise(timings: list[float]) -> Timing:
    """The fastest timing, and the median and spread of the timings (the first left out when
    WARMUP_AFTER or more follow it)."""
    if not timings:
        raise ValueError("summarise needs at least one timing")
    kept = timings[1:] if len(timings) > WARMUP_AFTER else list(timings)
    s = sorted(kept)
    k = len(s)
    median = s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])
    return Timing(min(timings), robust_spread(kept), k, float(sum(timings)), median)


def measure(once: Callable[[], tuple[float, ...]], protocol: Protocol = Protocol()) -> tuple[list[tuple], float]:
    """Run `once()` (one fit and what follows it, returning its timed seconds as a tuple, the
    fit's first) under the protocol; returns (every call's tuple, wall seconds spent)."""
    t0 = time.perf_counter()
    out: list[tuple] = []
    walls: list[float] = []
    while more_timings([r[0] for r in out], protocol, walls):
        c0 = time.perf_counter()
        out.append(once())
        walls.append(time.perf_counter() - c0)
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


def relative_uncertainty(spread: float, n: int, noise_cv: float, timing_noise: float = TIMING_NOISE) -> float:
    """The relative standard error of a pair's time: the largest of its timings' spread, the
    process's noise and one timing's between-run noise, over sqrt(n)."""
    cv = max(noise_cv, timing_noise) if not (spread == spread) else max(spread, noise_cv, timing_noise)
    return cv / math.sqrt(max(n, 1))


def half_width(seconds: float, spread: float, n: int, noise_cv: float, timing_noise: float = TIMING_NOISE) -> float:
    """The 95% half-width of a pair's time (Z95 x seconds x its relative uncertainty)."""
    return 1.959963984540054 * seconds * relative_uncertainty(spread, n, noise_cv, timing_noise)


def reference_fit() -> float:
    """One timing of a fixed small workload (a decision tree on fixed synthetic data, a few
    milliseconds): the yardstick of the machine's noise."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 16))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    t0 = time.perf_counter()
    DecisionTreeClassifier(random_state=0).fit(X, y)
    return time.perf_counter() - t0


def calibrate(repeats: int = 15) -> dict:
    """The noise of the fixed workload timed `repeats` times in a row (after a warm-up): its
    median seconds and robust relative spread."""
    t = summarise([reference_fit() for _ in range(repeats + 1)])
    return {"noise_cv": round(t.spread, 4), "noise_median_s": t.seconds, "noise_timings": t.n}


def moment_noise(references: list[float], consecutive_cv: float, at_least: int = 5) -> float:
    """One timing's noise from moment to moment: the robust relative spread of the fixed
    workload timed once before each pair a process measured (`references`), once there are
    `at_least` of them; before that, the spread of the workload timed in a row. Consecutive
    timings share their moment's conditions; timings at different moments do not, as the
    same pair's timings in two runs do not."""
    if len(references) < at_least:
        return consecutive_cv
    spread = robust_spread(list(references))
    return spread if spread == spread else consecutive_cv


__all__ = ["Protocol", "Timing", "more_timings", "summarise", "measure", "expected_wall", "relative_uncertainty",
           "half_width",
           "calibrate", "reference_fit", "moment_noise", "robust_spread",
           "FLOOR_S", "TARGET_S", "MAX_TIMINGS", "TIMING_NOISE"]
