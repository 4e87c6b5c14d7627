"""Expand a search space into explicit configurations and the sample-size ladder.

A configuration is one (estimator import path, hyperparameters, seed); its `config_id`
is a content hash of those (canonical JSON), so the same configuration has the same id
in every run and on every machine. `group_id` is the same hash without the seed.

`expand` is the one function every stage gets its configurations from: a grid
architecture gives every combination of its grid; under `search: {method: random}` an
architecture with distributions gives its share of the `n` draws (sweep.spec.sampling),
which are ordinary configurations from then on (same ids, ledger, plan, report); under
`method: optuna`, its share of the first batch, and sweep.asking adds the rest as the run
goes (`sampled_configurations` turns what Optuna asked into configurations).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .spec import Architecture, SearchSpace
from .spec.sampling import draw
from .spec.search import Distribution


def canonical(value: Any) -> Any:
    """JSON-ready canonical form: tuples become lists, numpy scalars plain Python."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _hash(payload: dict) -> str:
    text = json.dumps(canonical(payload), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_ids(estimator: str, params: dict, seed: int, scale: bool = False,
             encode: str | None = None) -> tuple[str, str]:
    """Return (config_id, group_id) for an estimator, its hyperparameters and seed (and its
    preprocessing, when the space sets it: scaling, a categorical encoding)."""
    base: dict[str, Any] = {"estimator": estimator, "params": params}
    if scale:
        base["preprocess"] = "standard_scaler"
    if encode is not None:
        base["encode"] = encode
    return _hash({**base, "seed": seed}), _hash(base)


@dataclass(frozen=True)
class Configuration:
    config_id: str
    group_id: str
    architecture: str
    estimator: str
    params: dict = field(hash=False)
    searched: tuple[str, ...]
    seed: int
    scale: bool
    cpu: float
    gpu: float
    time_limit_s: float | None = None  # not part of the identity (nor is max_failures)
    max_failures: int = 1
    encode: str | None = None  # categorical encoding set by the space (None: the estimator's default)
    sampled: tuple[str, ...] = ()  # searched parameters drawn from a numeric range (not part of the identity)

    def summary(self) -> str:
        shown = ", ".join(f"{k}={self.params[k]!r}" for k in self.searched)
        return f"{self.architecture}({shown})" if shown else self.architecture


def configurations(arch: Architecture, params: dict, searched: tuple[str, ...], seeds: list[int],
                   time_limit_s: float | None, max_failures: int, sampled: tuple[str, ...] = ()) -> list[Configuration]:
    """One Configuration per seed of `arch` with these hyperparameters (its fixed params
    included), its ids from make_ids: the one place a grid or a draw becomes configurations."""
    out = []
    for seed in seeds:
        cid, gid = make_ids(arch.estimator, params, seed, arch.scale, arch.encode)
        out.append(Configuration(cid, gid, arch.name, arch.estimator, params, searched, seed, arch.scale,
                                 arch.resources.cpu, arch.resources.gpu, arch.time_limit_s or time_limit_s,
                                 max_failures, arch.encode, sampled))
    return out


def expand_architecture(arch: Architecture, seeds: list[int], time_limit_s: float | None = None,
                        max_failures: int = 1) -> list[Configuration]:
    keys = list(arch.grid)
    combos = list(itertools.product(*(arch.grid[k] for k in keys))) if keys else [()]
    return [c for combo in combos
            for c in configurations(arch, {**arch.params, **dict(zip(keys, combo))}, tuple(keys), seeds,
                                    time_limit_s, max_failures)]


def sampled_counts(space: SearchSpace) -> dict[str, int]:
    """How many of a random search's `n` draws (of a model-based search's first batch) each
    architecture with distributions gets: round-robin in the space's order (n // A each, the
    first n % A one more)."""
    if space.search.method not in ("random", "optuna"):
        return {}
    names = [a.name for a in space.architectures if a.sampled]
    n = (space.search.n or 0) if space.search.method == "random" else space.search.batch_size
    return {name: n // len(names) + (1 if i < n % len(names) else 0) for i, name in enumerate(names)}


def sampled_distributions(arch: Architecture) -> dict[str, Distribution]:
    """What a sampled architecture draws: its grid values, if any, as choices, then its
    distributions."""
    dists = {k: Distribution.model_construct(kind="choice", values=tuple(v), log=False)
             for k, v in arch.grid.items()}
    dists.update(arch.distributions)
    return dists


def draw_architecture(arch: Architecture, count: int, space: SearchSpace, seeds: list[int],
                      where: str = "") -> list[Configuration]:
    """The first `count` draws of a sampled architecture, each once per seed. Its grid
    values, if any, are drawn as choices; its fixed params are in every configuration."""
    draws = draw(arch.name, sampled_distributions(arch), space.search_seed, count, space.search.sobol,
                 where or f"search space {space.name!r}: architecture {arch.name!r}")
    return [c for drawn in draws for c in sampled_configurations(arch, drawn, space, seeds)]


def sampled_configurations(arch: Architecture, drawn: dict, space: SearchSpace, seeds: list[int]) -> list[Configuration]:
    """A sampled architecture's configurations (one per seed) for values drawn elsewhere (a
    model-based sampler): its fixed params, then the drawn values, as draw_architecture makes them."""
    searched = tuple(arch.grid) + tuple(arch.distributions)
    sampled = tuple(k for k, d in arch.distributions.items() if d.numeric)
    return configurations(arch, {**arch.params, **drawn}, searched, seeds, space.time_limit_s,
                          space.max_failures, sampled)


def expand(space: SearchSpace, smoke: bool = False, repeats: int | None = None) -> list[Configuration]:
    """All configurations of the space (a smaller set with smoke=True), ids unique: every
    grid architecture's combinations, and a random search's draws (the first draws of each
    sampled architecture under smoke: the smoke run's configurations are the full run's)."""
    n_rep = repeats if repeats is not None else space.repeats
    if n_rep < 1:
        raise ConfigError(f"repeats must be >= 1, but got {n_rep}")
    seeds = [space.seed + r for r in range(n_rep)]
    archs = space.architectures
    limit = None
    if smoke:
        if space.smoke is None:
            raise ConfigError(f"search space {space.name!r} has no 'smoke' section; add one "
                              "(architectures, sample_sizes) to use --smoke")
        wanted = space.smoke.architectures
        archs = [a for a in archs if a.name in wanted]
        limit = space.smoke.max_configs_per_architecture
    counts = sampled_counts(space)
    configs: list[Configuration] = []
    for arch in archs:
        if arch.sampled:
            got = draw_architecture(arch, min(counts[arch.name], limit or counts[arch.name]), space, seeds)
        else:
            got = expand_architecture(arch, seeds, space.time_limit_s, space.max_failures)
        configs.extend(got[: limit * len(seeds)] if limit else got)
    ids = [c.config_id for c in configs]
    if len(set(ids)) != len(ids):
        dup = next(c for c in configs if ids.count(c.config_id) > 1)
        raise ConfigError(f"search space {space.name!r}: configuration {dup.summary()} appears twice "
                          "(two architectures with the same estimator and parameters); remove one")
    return configs


def ladder(sizes: list, n_train: int) -> list[int]:
    """Sample sizes (fractions of the training split or row counts) → ascending row counts.

    A rung is identified by its row count, so a ladder extended later keeps its old rungs.
    """
    if n_train < 1:
        raise ConfigError("the training split is empty; check the dataset's split fractions")
    out = []
    for s in sizes:
        n = int(s) if isinstance(s, int) and not isinstance(s, bool) and s > 1 else max(1, round(float(s) * n_train))
        if n > n_train:
            raise ConfigError(f"sample size {s!r} asks for {n} rows, but the training split has {n_train}; "
                              "lower it or use a fraction")
        out.append(n)
    if sorted(set(out)) != out:
        raise ConfigError(f"sample sizes {list(sizes)} give row counts {out} on a training split of "
                          f"{n_train} rows, which are not strictly ascending; space them further apart")
    return out


def sizes_for(space: SearchSpace, smoke: bool) -> list:
    return list(space.smoke.sample_sizes) if smoke and space.smoke else list(space.sample_sizes)
