"""Values drawn from an architecture's distributions: deterministic and prefix-stable.

The j-th configuration drawn for an architecture depends only on (the search's seed, the
architecture's name, j) and the earlier draws of that architecture: never on `n`, so the
first k configurations of n are the same for any n >= k (`--extend` with a larger n adds
configurations, `sweep resume` draws the same ones again).

- random: each parameter's uniform number in [0, 1) is the SHA-256 of (seed, architecture,
  j, attempt, parameter name), its first 53 bits: the same on every platform and version,
  and a parameter's draws do not move when another parameter is added or removed;
- sobol: the j-th point of a scrambled Sobol' sequence (scipy.stats.qmc) over the
  architecture's parameters in name order, scrambled by (seed, architecture).

A uniform number becomes a value by the distribution's inverse CDF; a float is then rounded
to SIG_DIGITS significant digits (clipped into [lo, hi]), so the configuration's content hash
(`config_id`) does not depend on the last bits a platform's maths library gives. A draw
that repeats an earlier configuration of the architecture (possible with choices and narrow
int ranges) is drawn again (attempt 1, 2, ...), up to MAX_ATTEMPTS.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from typing import Any

from ..errors import ConfigError
from .search import Distribution

SIG_DIGITS = 6      # a sampled float keeps this many significant digits
MAX_ATTEMPTS = 100  # draws of one configuration before the space is called too small for n


def round_sig(x: float, digits: int = SIG_DIGITS) -> float:
    """`x` rounded to `digits` significant digits (as the decimal text would show it)."""
    return float(f"{x:.{digits}g}")


def uniform(seed: int, architecture: str, j: int, attempt: int, param: str) -> float:
    """A number in [0, 1) from the SHA-256 of the draw's coordinates (53 bits: a double's)."""
    text = json.dumps([seed, architecture, j, attempt, param], separators=(",", ":"))
    bits = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 11
    return bits / 2.0**53


def value(dist: Distribution, u: float) -> Any:
    """The value at quantile `u` (in [0, 1)) of `dist`."""
    u = min(max(float(u), 0.0), math.nextafter(1.0, 0.0))
    if dist.kind == "choice":
        return dist.values[min(int(u * len(dist.values)), len(dist.values) - 1)]
    lo, hi = dist.values
    if dist.kind == "int":
        if dist.log:
            x = math.floor(math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo))))
        else:
            x = math.floor(lo + u * (hi - lo + 1))
        return int(min(max(x, lo), hi))
    if dist.kind == "loguniform":
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    else:
        x = lo * (1.0 - u) + hi * u  # (not lo + u * (hi - lo): that overflows on [-1e308, 1e308])
    return min(max(round_sig(x), lo), hi)


def draw(architecture: str, dists: dict[str, Distribution], seed: int, count: int,
         sobol: bool = False, where: str = "") -> list[dict]:
    """The first `count` distinct draws of an architecture's distributions, in order: a
    list of {parameter: value}. Prefix-stable: draw(..., k) == draw(..., n)[:k] for n >= k."""
    names = sorted(dists)
    points = _sobol(architecture, len(names), seed, count) if sobol and count else None
    out: list[dict] = []
    seen: set[str] = set()
    for j in range(count):
        for attempt in range(MAX_ATTEMPTS):
            if points is not None and attempt == 0:
                us = points[j]
            else:
                us = [uniform(seed, architecture, j, attempt, p) for p in names]
            params = {p: value(dists[p], u) for p, u in zip(names, us)}
            key = json.dumps(params, sort_keys=True, default=str)
            if key not in seen:
                break
        else:
            raise ConfigError(f"{where or architecture}: {j} distinct configurations were drawn, and "
                              f"{MAX_ATTEMPTS} more draws all repeated one of them, so its distributions hold "
                              f"too few configurations for n; lower search.n, widen the distributions, or use "
                              "method: grid")
        seen.add(key)
        out.append(params)
    return out


def check_same_sobol(sobol: bool, versions: dict, where: str) -> None:
    """A run whose configurations came from scipy's Sobol' sequence is resumed with the scipy
    that drew them (another version may scramble differently: other configurations)."""
    if not sobol or not versions.get("scipy"):
        return
    import scipy

    if scipy.__version__ != versions["scipy"]:
        raise ConfigError(f"{where}: this run drew its configurations from scipy {versions['scipy']}'s Sobol' "
                          f"sequence, and scipy is now {scipy.__version__}, which may draw others; install "
                          f"scipy=={versions['scipy']} to resume it")


def _sobol(architecture: str, d: int, seed: int, count: int) -> list[list[float]]:
    """The first `count` points of the architecture's scrambled Sobol' sequence in [0, 1)^d."""
    from scipy.stats import qmc

    scramble = int.from_bytes(hashlib.sha256(json.dumps([seed, architecture]).encode()).digest()[:8], "big")
    engine = qmc.Sobol(d=d, scramble=True, rng=scramble)
    with warnings.catch_warnings():  # n not a power of 2: the first n points, as documented
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(count).tolist()
