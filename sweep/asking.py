"""A model-based search (`search: {method: optuna}`): the configurations after the first
batch, asked of Optuna's sampler from the results so far, `batch` at a time.

Ask-and-tell with the run's own files as the only state. Before each batch an Optuna study
is built afresh from the search log (RUN/search.jsonl: every configuration asked after the
first batch, in order) and the ledger, and its sampler is seeded by (the search's seed, the
batch's number); so what a batch asks depends only on the seed and on the results recorded
before it. A resumed run refits nothing: it finishes the configurations the log holds, then
asks the next batch from the ledger's results, as an uninterrupted run with that ledger would.

The study's space is conditional: `architecture` (a choice among the sampled architectures),
then that architecture's parameters, named `ARCH.PARAM` (uniform and loguniform as floats,
int as ints, choices — and a sampled architecture's grid values — as the index of the value).
What the sampler is told of a sampled configuration (its first seed's records):
- its point at the largest sample size it was fitted at: the frontier's metric on validation
  and log10 of the time axis. A configuration the adaptive rule stopped is told its last
  rung's point: cheaper and usually less accurate, on the plane the frontier is drawn on;
- FAIL when no rung was fitted (failed, timed out): TPE leaves it out of its models;
- nothing else: one asked but not yet fitted stays RUNNING (TPE's constant liar keeps a
  batch's asks apart).
The first batch is `method: random`'s draws (sweep.spec.sampling): TPE's start-up trials.
Grid architectures in the same space are expanded as always and are not part of the study.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any

from . import ledger
from .grid import Configuration, sampled_configurations, sampled_distributions
from .metrics import Objective
from .rundir import SEARCH_LOG
from .spec import SearchSpace
from .spec.sampling import round_sig
from .spec.search import Distribution

MAX_ASKS = 50   # asks per wanted configuration before the space is called exhausted (repeats)


def _optuna_dist(d: Distribution):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if d.kind == "choice":
        return CategoricalDistribution(list(range(len(d.values))))
    lo, hi = d.values
    if d.kind == "int":
        return IntDistribution(int(lo), int(hi), log=d.log)
    return FloatDistribution(float(lo), float(hi), log=d.kind == "loguniform")


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _to_optuna(d: Distribution, value: Any) -> Any:
    if d.kind == "choice":
        keys = [_key(v) for v in d.values]
        return keys.index(_key(value))
    return value


def _from_optuna(d: Distribution, x: Any) -> Any:
    """The configuration's value: a choice's value, an int, or a float rounded as random's draws
    are (sweep.spec.sampling: SIG_DIGITS, clipped into [lo, hi]) so that its config_id is stable."""
    if d.kind == "choice":
        return d.values[int(x)]
    if d.kind == "int":
        return int(x)
    lo, hi = d.values
    return min(max(round_sig(float(x)), lo), hi)


def _seed(seed: int, batch: int) -> int:
    text = json.dumps(["optuna", seed, batch], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _point(recs: list[dict], objective: Objective) -> list[float] | None:
    """[metric, log10(time)] at the largest rung fitted, or None when none was."""
    ok = [r for r in recs if r.get("status") == "ok" and r.get(objective.column) is not None]
    if not ok:
        return None
    top = max(ok, key=lambda r: int(r["rung"]))
    t = float(top.get(objective.time_axis) or 0.0)
    return [float(top[objective.column]), math.log10(max(t, 1e-6))]


def study_of(space: SearchSpace, sampled: list[Configuration], records: list[dict], objective: Objective,
             batch: int, started: int):
    """An Optuna study holding every sampled configuration so far (first seeds only) with what
    the ledger says of it, its sampler seeded for batch number `batch`; `started`: TPE's
    start-up trials (the first batch's size)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    archs = {a.name: a for a in space.architectures if a.sampled}
    names = list(archs)
    by_pair = ledger.latest(records)
    per_config: dict[str, list[dict]] = {}
    for (cid, _), r in by_pair.items():
        per_config.setdefault(cid, []).append(r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # multivariate / group are marked experimental
        sampler = optuna.samplers.TPESampler(seed=_seed(space.search_seed, batch), n_startup_trials=started,
                                             multivariate=True, group=True, constant_liar=True)
    direction = "maximize" if objective.maximise else "minimize"
    study = optuna.create_study(directions=[direction, "minimize"], sampler=sampler)
    first_seed = min((c.seed for c in sampled), default=0)
    for c in sampled:
        if c.seed != first_seed:
            continue
        dists = sampled_distributions(archs[c.architecture])
        params = {"architecture": names.index(c.architecture)}
        params.update({f"{c.architecture}.{k}": _to_optuna(d, c.params[k]) for k, d in dists.items()})
        odists = {"architecture": _optuna_dist(Distribution.model_construct(kind="choice", values=tuple(names),
                                                                              log=False))}
        odists.update({f"{c.architecture}.{k}": _optuna_dist(d) for k, d in dists.items()})
        recs = per_config.get(c.config_id, [])
        point = _point(recs, objective)
        if point is not None:
            study.add_trial(create_trial(params=params, distributions=odists, values=point))
        elif recs:   # recorded, nothing fitted: failed or timed out
            study.add_trial(create_trial(params=params, distributions=odists, state=TrialState.FAIL))
        else:
            study.add_trial(create_trial(params=params, distributions=odists, state=TrialState.RUNNING))
    return study


def ask(space: SearchSpace, sampled: list[Configuration], records: list[dict], objective: Objective,
        batch: int, count: int, seeds: list[int]) -> list[Configuration]:
    """Batch number `batch`: `count` new configurations (each once per seed), none a repeat of
    one asked before; fewer when MAX_ASKS asks per wanted configuration kept repeating."""
    from optuna.trial import TrialState

    archs = {a.name: a for a in space.architectures if a.sampled}
    names = list(archs)
    study = study_of(space, sampled, records, objective, batch, space.search.batch_size)
    seen = {c.config_id for c in sampled}
    out: list[Configuration] = []
    for _ in range(count * MAX_ASKS):
        if len(out) == count * len(seeds):
            break
        trial = study.ask()
        arch = archs[names[trial.suggest_categorical("architecture", list(range(len(names))))]]
        drawn = {}
        for k, d in sampled_distributions(arch).items():
            name = f"{arch.name}.{k}"
            if d.kind == "choice":
                x = trial.suggest_categorical(name, list(range(len(d.values))))
            elif d.kind == "int":
                x = trial.suggest_int(name, int(d.values[0]), int(d.values[1]), log=d.log)
            else:
                x = trial.suggest_float(name, float(d.values[0]), float(d.values[1]), log=d.kind == "loguniform")
            drawn[k] = _from_optuna(d, x)
        got = sampled_configurations(arch, drawn, space, seeds)
        if got[0].config_id in seen:   # a repeat (choices, narrow ints, rounding): ask again
            study.tell(trial, state=TrialState.FAIL)
            continue
        seen.update(c.config_id for c in got)
        out.extend(got)
    return out


def asked(space: SearchSpace, run_dir: Path, seeds: list[int]) -> list[tuple[int, Configuration]]:
    """(batch number, configuration) for every configuration the search log holds, in order."""
    recs, _ = ledger.read(Path(run_dir) / SEARCH_LOG, need=("config_id", "batch", "architecture", "drawn"))
    archs = {a.name: a for a in space.architectures if a.sampled}
    out = []
    for r in recs:
        arch = archs.get(r["architecture"])
        if arch is None:
            continue   # an architecture no longer in the space (extend) is not asked again
        out.extend((int(r["batch"]), c) for c in sampled_configurations(arch, r["drawn"], space, seeds))
    return out


def log_batch(run_dir: Path, batch: int, configs: list[Configuration]) -> None:
    """Record what batch number `batch` asked (one line per configuration, its first seed's
    id), durably, before any of it is fitted."""
    first = min((c.seed for c in configs), default=0)
    for c in configs:
        if c.seed == first:
            drawn = {k: c.params[k] for k in c.searched}
            ledger.append(Path(run_dir) / SEARCH_LOG, {"batch": batch, "architecture": c.architecture,
                                                       "drawn": drawn, "config_id": c.config_id})
