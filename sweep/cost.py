"""A cost model of fits, learned from observed fits: seconds per (configuration, n_train).

Per architecture, log(seconds) is a ridge regression on log(n_train) and on the searched
hyperparameters: a parameter whose values are all positive numbers enters as its log (so
n_estimators or max_iter scale the cost as a power), any other (None, strings, lists) as
one indicator per value; a value a random search drew from a numeric range that is not
always positive enters as itself (its draws are all distinct: an indicator each would learn
nothing). The n_train slope is shrunk towards a prior slope and every other
coefficient towards the rough prior's (`prior_cost`: n_estimators and max_iter scale the
cost in proportion, for the estimator families it knows), so a few pilots at one or two
sample sizes give a usable model that more fits refine.

The prior slope is what configurations seen at two sample sizes showed: those of the
architecture, else those of any architecture, else DEFAULT_SLOPE. On small samples a fit's
fixed costs (building the pipeline, predicting, scoring) dominate and the slope is near 0;
on large ones it is the estimator's own. An architecture with no observed fit is predicted
from `prior_cost`, scaled by how the observed architectures compared with their prior.

Pure: no Ray, no I/O. `sweep plan`, the live ETA and `--time-budget` use the same model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from . import growth
from .grid import Configuration
from .timing import expected_wall

# Rough seconds per fit (with its scoring) on ~1,000 rows x 64 features and 10 classes (the
# bundled digits), by estimator family, per unit of the parameter that drives its cost: only
# an order before anything is observed (sweep.packing), the fallback for an
# architecture the model has not seen, and the shape its regression is shrunk towards.
_COST_PRIORS = (
    ("histgradientboosting", "max_iter", 100, 0.01),
    ("gradientboosting", "n_estimators", 100, 0.03),
    ("randomforest", "n_estimators", 100, 0.002),
    ("extratrees", "n_estimators", 100, 0.0015),
    ("mlp", "max_iter", 200, 0.0015),
    ("svc", None, None, 0.05),
    ("logisticregression", None, None, 0.015),  # converges long before max_iter
    ("decisiontree", None, None, 0.008),
    ("kneighbors", None, None, 0.01),
    ("gaussiannb", None, None, 0.003),
)
PRIOR_N = 1000     # the n_train the priors are given at
RIDGE = 0.5        # the ridge penalty (on standardised features: a few observations' worth)
MIN_SIGMA = 0.15   # the least spread assumed of log(seconds) around the model
DEFAULT_SLOPE = 0.8  # seconds ~ n_train ** 0.8 before any configuration is seen at two sizes:
                     # a fit's fixed costs make the growth sublinear at the sizes sweeps start at


def prior_cost(cfg: Configuration, n_train: int = PRIOR_N) -> float:
    """A rough prior of a configuration's fit seconds at `n_train` (see _COST_PRIORS)."""
    return _prior(cfg.estimator, cfg.params) * n_train / PRIOR_N


def _prior(estimator: str, params: dict) -> float:
    name = estimator.rsplit(".", 1)[-1].lower()
    for family, param, default, per_unit in _COST_PRIORS:
        if family in name:
            v = params.get(param, default) if param else 1.0
            return per_unit * (float(v) if _is_positive_number(v) else float(default or 1.0))
    return 1.0  # unknown estimators: in the middle


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and math.isfinite(v)


def value_key(v) -> str:
    """A hyperparameter value as comparable text (None, lists and numbers alike)."""
    return json.dumps(v, sort_keys=True, default=str)


@dataclass
class _ArchModel:
    numeric: list[str]
    levels: list[tuple[str, str]]     # (param, value key): one indicator each
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray                  # on the standardised features; [0] is log n's
    intercept: float
    sigma: float                      # residual spread of log(seconds) (leave-one-out when it can)
    n_obs: int
    slope: float = 1.0                # the prior slope of log(seconds) on log(n_train)
    estimator: str = ""               # the prior's relative cost of each configuration is the offset
    linear: list[str] = field(default_factory=list)  # drawn numbers, not all positive: as themselves

    def features(self, params: dict, n_train: int) -> np.ndarray:
        row = [math.log(n_train)]
        row += [math.log(params[p]) if _is_positive_number(params.get(p)) else 0.0 for p in self.numeric]
        row += [1.0 if value_key(params.get(p)) == k else 0.0 for p, k in self.levels]
        row += [float(params[p]) if _is_number(params.get(p)) else 0.0 for p in self.linear]
        return np.asarray(row, dtype=float)

    def predict_log(self, params: dict, n_train: int) -> float:
        x = (self.features(params, n_train) - self.mean) / self.scale
        return float(self.intercept + x @ self.coef + self.slope * math.log(n_train)
                     + math.log(_prior(self.estimator, params)))

    def predict_logs(self, params: list[dict], rungs: list[int]) -> np.ndarray:
        """predict_log for every (params, rung), as a [len(params), len(rungs)] array."""
        base = np.array([self.features(p, rungs[0])[1:] for p in params], dtype=float).reshape(len(params), -1)
        zb = (base - self.mean[1:]) / self.scale[1:] @ self.coef[1:] if base.shape[1] else np.zeros(len(params))
        logn = np.log(np.asarray(rungs, dtype=float))
        zn = (logn - self.mean[0]) / self.scale[0] * self.coef[0]
        offset = np.log([_prior(self.estimator, p) for p in params])
        return self.intercept + (zb + offset)[:, None] + (zn + self.slope * logn)[None, :]


LOO_MAX = 200  # leave-one-out residuals over at most this many observations (evenly spaced)


def _slopes(obs: list[tuple[str, dict, int, float]]) -> list[float]:
    """Each configuration's cost exponent (sweep.growth), of those seen at two or more sizes."""
    return list(growth.by_configuration((cid, n, s) for cid, _, n, s in obs).values())


def _fit_arch(configs: list[Configuration], obs: list[tuple[str, dict, int, float]], slope: float) -> _ArchModel:
    searched = sorted({p for c in configs for p in c.searched})
    numeric = [p for p in searched if all(_is_positive_number(c.params.get(p)) for c in configs)]
    drawn = {p for c in configs for p in c.sampled}
    linear = [p for p in searched if p in drawn and p not in numeric
              and all(_is_number(c.params.get(p)) for c in configs)]
    levels = sorted({(p, value_key(c.params.get(p))) for c in configs for p in searched
                     if p not in numeric and p not in linear})
    probe = _ArchModel(numeric, levels, np.zeros(0), np.ones(0), np.zeros(0), 0.0, 0.0, len(obs), linear=linear)
    X = np.array([probe.features(p, n) for _, p, n, _ in obs], dtype=float)
    logn = np.log([n for _, _, n, _ in obs])
    estimator = configs[0].estimator
    offset = np.log([_prior(estimator, p) for _, p, _, _ in obs])  # n_estimators, max_iter: as the prior scales
    y = np.log([max(s, 1e-6) for _, _, _, s in obs]) - slope * logn - offset  # shrunk towards the priors
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    coef, intercept = _ridge(Z, y)
    resid = y - (intercept + Z @ coef)
    if len(obs) >= 3:  # leave-one-out residuals: honest about how well a new fit is predicted
        loo = []
        for i in np.unique(np.linspace(0, len(obs) - 1, min(len(obs), LOO_MAX)).astype(int)):
            keep = np.arange(len(obs)) != i
            c, b = _ridge(Z[keep], y[keep])
            loo.append(y[i] - (b + Z[i] @ c))
        resid = np.asarray(loo)
    sigma = float(np.sqrt(np.mean(resid ** 2))) if len(obs) >= 2 else 0.5
    return _ArchModel(numeric, levels, mean, scale, coef, intercept, max(sigma, MIN_SIGMA), len(obs), slope,
                      estimator, linear)


def _ridge(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    b = float(y.mean())
    k = Z.shape[1]
    coef = np.linalg.solve(Z.T @ Z + (RIDGE + 1e-9) * np.eye(k), Z.T @ (y - b))
    return coef, b


@dataclass
class CostModel:
    """Seconds per (configuration, n_train), fitted on observed fits (see the module docstring)."""

    configs: dict[str, Configuration]
    models: dict[str, _ArchModel] = field(default_factory=dict)
    prior_ratio: float = 1.0     # observed / prior, over the architectures seen (geometric mean)
    fallback_sigma: float = 1.0  # the spread for architectures without observations

    @classmethod
    def fit(cls, configs: list[Configuration], observed: list[dict],
            seconds: tuple[str, ...] = ("train_time_s", "predict_time_s")) -> "CostModel":
        """`observed`: ledger records (config_id, n_train, status, the `seconds` columns);
        the model of a pair's seconds is the sum of those columns (a fit and its scoring)."""
        by_id = {c.config_id: c for c in configs}
        per_arch: dict[str, list[tuple[str, dict, int, float]]] = {}
        ratios = []
        for r in observed:
            c = by_id.get(r.get("config_id"))
            if c is None or r.get("status") != "ok":
                continue
            vals = [r.get(k) for k in seconds]
            if any(v is None or not math.isfinite(float(v)) for v in vals):
                continue
            s, n = float(sum(vals)), int(r["n_train"])
            per_arch.setdefault(c.architecture, []).append((c.config_id, c.params, n, s))
            ratios.append(math.log(max(s, 1e-6) / prior_cost(c, n)))
        arch_configs: dict[str, list[Configuration]] = {}
        for c in configs:
            arch_configs.setdefault(c.architecture, []).append(c)
        own = {a: _slopes(obs) for a, obs in per_arch.items()}
        every = [v for vals in own.values() for v in vals]
        pooled = float(np.median(every)) if every else DEFAULT_SLOPE
        models = {a: _fit_arch(arch_configs[a], obs, float(np.median(own[a])) if own[a] else pooled)
                  for a, obs in per_arch.items() if a in arch_configs}
        ratio = math.exp(float(np.median(ratios))) if ratios else 1.0
        spread = float(np.std(ratios)) if len(ratios) >= 2 else 1.0
        return cls(by_id, models, ratio, max(spread, 0.5))

    def predict(self, config_id: str, n_train: int) -> float:
        """Predicted wall of measuring `config_id` on n_train rows: one fit and its scoring,
        as many times as the timing protocol takes at that time (sweep.timing.expected_wall)."""
        return expected_wall(self.predict_fit(config_id, n_train))

    def predict_fit(self, config_id: str, n_train: int) -> float:
        """Predicted seconds of one fit (and its scoring) of `config_id` on n_train rows."""
        c = self.configs[config_id]
        m = self.models.get(c.architecture)
        if m is None:
            return prior_cost(c, n_train) * self.prior_ratio
        return math.exp(m.predict_log(c.params, n_train))

    def table(self, configs: list[Configuration], rungs: list[int]) -> np.ndarray:
        """Predicted wall of measuring every (configuration, rung) (as `predict`): a
        [len(configs), len(rungs)] array (one vectorised pass per architecture; what the live
        ETA recomputes)."""
        return expected_wall(self.fit_table(configs, rungs))

    def fit_table(self, configs: list[Configuration], rungs: list[int]) -> np.ndarray:
        """Predicted seconds of one fit (and its scoring) of every (configuration, rung)."""
        out = np.empty((len(configs), len(rungs)), dtype=float)
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(configs):
            groups.setdefault(c.architecture, []).append(i)
        for arch, idx in groups.items():
            m = self.models.get(arch)
            if m is None:
                out[idx] = [[prior_cost(configs[i], n) * self.prior_ratio for n in rungs] for i in idx]
            else:
                out[idx] = np.exp(m.predict_logs([configs[i].params for i in idx], list(rungs)))
        return out

    def sigma(self, config_id: str) -> float:
        """The spread of log(seconds) around `predict` for this configuration's architecture."""
        m = self.models.get(self.configs[config_id].architecture)
        return self.fallback_sigma if m is None else m.sigma
