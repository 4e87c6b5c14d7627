"""The search-space spec: architectures × hyperparameter grids × sample-size ladder."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import printable
from ..metrics import CLASSIFICATION, MAXIMISE, REGRESSION
from ._load import load_model
from .names import MODULE_PATH, PARAM_NAME, check_name
from .search import Distribution, Search, non_finite

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
MAX_SEED = 2**32 - 1 - 1000   # scikit-learn takes seeds < 2**32; repeats add up to 100
MAX_ROWS = 10**9              # a row count above this is a typo, not a sample size

# Metric → True when larger is better (docs/design.md, metric directions).
METRIC_MAXIMISE = MAXIMISE
Metric = Literal[tuple(MAXIMISE)]  # stated once, in sweep.metrics
CLASSIFICATION_METRICS = CLASSIFICATION
REGRESSION_METRICS = REGRESSION


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Frozen):
    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)


class Allow(_Frozen):
    """What a space allows beyond the defaults (docs/specs.md, "Security model"): estimators
    from `modules` besides scikit-learn, LightGBM, XGBoost and sweep.testing, and the
    hyperparameters in `path_params`, which name files the estimator reads or writes."""

    modules: list[str] = Field(default_factory=list, description="import paths of packages or modules "
                               "whose estimators this space may name, e.g. mypackage.models")
    path_params: list[str] = Field(default_factory=list, description="hyperparameters that may name "
                                   "paths (e.g. memory), written outside the run directory")

    @field_validator("modules")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        for m in v:
            if not isinstance(m, str) or not MODULE_PATH.match(m):
                raise ValueError(f"allow.modules holds {m!r}, which is not a module's import path; "
                                 "write it like mypackage or mypackage.models")
        return v

    @field_validator("path_params")
    @classmethod
    def _params(cls, v: list[str]) -> list[str]:
        for name in v:
            if not isinstance(name, str) or not PARAM_NAME.match(name):
                raise ValueError(f"allow.path_params holds {name!r}, which is not a hyperparameter name")
        return v


class Architecture(_Frozen):
    """One estimator (by import path) with fixed parameters and a grid to search."""

    name: str
    estimator: str = Field(description="import path, e.g. sklearn.linear_model.LogisticRegression")
    params: dict[str, Any] = Field(default_factory=dict, description="fixed hyperparameters")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="values to search")
    distributions: dict[str, Distribution] = Field(
        default_factory=dict, description="sampled hyperparameters (search method random): "
        "{uniform: [lo, hi]}, {loguniform: [lo, hi]}, {int: [lo, hi], log: false}, {choice: [...]}")
    scale: bool = Field(False, description="standardise features (fit on the training subsample)")
    encode: Literal["onehot", "ordinal", "native"] | None = Field(
        None, description="how categorical features reach the estimator; default: native where the "
        "estimator has it (HistGradientBoosting, LightGBM, XGBoost), ordinal for other tree models, "
        "onehot for the rest")
    resources: Resources = Resources()
    time_limit_s: float | None = Field(None, gt=0, description="per configuration (all its rungs); "
                                       "overrides the space's time_limit_s")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "an architecture's name")

    @field_validator("params", "grid", "distributions")
    @classmethod
    def _param_names(cls, v: dict) -> dict:
        for k in v:
            if not isinstance(k, str) or not PARAM_NAME.match(k):
                raise ValueError(f"{printable(repr(k))} is not a hyperparameter name (letters, digits "
                                 "and _, not starting with a digit)")
        return v

    @field_validator("estimator")
    @classmethod
    def _path(cls, v: str) -> str:
        if not _IMPORT_PATH.match(v):
            raise ValueError("an estimator is given by import path, like "
                             "sklearn.ensemble.RandomForestClassifier")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Architecture":
        for k, values in self.grid.items():
            if len(values) == 0:
                raise ValueError(f"grid.{k} is an empty list; give at least one value or remove it")
        for key, values in (("params", self.params), ("grid", self.grid)):
            for name, v in values.items():
                if non_finite(v) is not None:
                    raise ValueError(f"{key}.{name} holds {non_finite(v)!r}, which a configuration cannot hold "
                                     "(its id is a hash of its JSON); give finite numbers")
        both = set(self.params) & set(self.grid)
        if both:
            raise ValueError(f"{sorted(both)} are both fixed (params) and searched (grid); keep one")
        for other, keys in (("params", self.params), ("grid", self.grid)):
            both = set(keys) & set(self.distributions)
            if both:
                raise ValueError(f"{sorted(both)} are both in {other} and in distributions; keep one")
        if "random_state" in {**self.params, **self.grid, **self.distributions}:
            raise ValueError("random_state is set from the search space's seeds "
                             "(seed, repeats); remove it from params/grid/distributions")
        return self

    @property
    def sampled(self) -> bool:
        """Drawn by a random search (it has distributions), not expanded as a grid."""
        return bool(self.distributions)

    def searched_values(self) -> dict[str, list]:
        """Every value a hyperparameter may take that is listed (grid values, choices), for
        the checks that look at values (paths)."""
        return {**self.grid, **{k: list(d.values) for k, d in self.distributions.items() if d.kind == "choice"}}


class Smoke(_Frozen):
    """How `--smoke` shrinks the grid (still >= 2 architectures and >= 2 rungs)."""

    architectures: list[str] = Field(min_length=2)
    sample_sizes: list[Union[int, float]] = Field(min_length=2)
    max_configs_per_architecture: int = Field(2, ge=1)


class Pruning(_Frozen):
    """Early stopping over sample size (sweep.prune): `policy: pareto` stops a configuration
    once none of its remaining rungs could still reach the frontier; `none` fits every pair."""

    policy: Literal["pareto", "none"] = "pareto"
    margin: float = Field(0.02, ge=0, le=1, description="optimism added to a predicted gain: a share "
                          "of the gap to the metric's best value (1 for accuracy, 0 for rmse)")
    min_results: int = Field(1, ge=1, le=1000, description="gains seen between two sample sizes "
                             "before a configuration may be stopped there")
    curves: Literal["ends", "full"] = Field(
        "ends", description="full: each architecture's best configuration so far goes on to the top rung")
    model: Literal["power", "gains"] = Field(
        "gains", description="power: each configuration's own learning curve (a power law, its exponent "
        "bounded above) bounds its gain; gains: only the largest gains seen (the rule before #26)")
    z: float = Field(2.0, ge=0, le=10, description="standard errors added to a configuration's fitted "
                     "power-law exponent (model: power)")
    window: float = Field(8.0, gt=1, le=1e6, description="the curve is fitted to the configuration's "
                          "results with n_train >= the current rung's / window (at least 3 of them)")
    prior: float = Field(0.5, ge=0, le=10, description="the power-law exponent assumed before a "
                         "configuration has 3 results in the window (model: power)")


class SearchSpace(_Frozen):
    name: str = Field(description="names the run directory: letters, digits, _ . -")
    dataset: str | None = Field(None, description="default dataset spec, relative to this file")
    metric: Metric = "accuracy"
    time_axis: Literal["train_time_s", "train_cpu_s"] = "train_time_s"
    sample_sizes: list[Union[int, float]] = Field(
        min_length=1, description="ascending: fractions in (0, 1] of the training split, or row counts > 1")
    repeats: int = Field(1, ge=1, le=100)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    architectures: list[Architecture] = Field(min_length=1)
    smoke: Smoke | None = None
    max_failures: int = Field(1, ge=0, le=10, description="retries of a fit that raises")
    time_limit_s: float | None = Field(None, gt=0, description="seconds per configuration (all its "
                                       "rungs); past it the configuration is recorded as timed_out")
    pruning: Pruning = Pruning()
    search: Search = Field(Search(), description="grid (the default) or random (n, seed, sobol)")
    allow: Allow = Allow()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "a search space's name")

    @field_validator("sample_sizes")
    @classmethod
    def _ladder(cls, v: list) -> list:
        return check_ladder(v)

    @model_validator(mode="after")
    def _check(self) -> "SearchSpace":
        names = [a.name for a in self.architectures]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"architecture names must be unique, but {dup} repeat")
        if self.smoke:
            unknown = [a for a in self.smoke.architectures if a not in names]
            if unknown:
                raise ValueError(f"smoke.architectures names {unknown}, which are not architectures "
                                 f"here; choose from {names}")
            check_ladder(self.smoke.sample_sizes)
        self._check_search()
        return self

    def _check_search(self) -> None:
        sampled = [a.name for a in self.architectures if a.sampled]
        if self.search.method == "grid" and sampled:
            raise ValueError(f"architectures {sampled} have distributions, which method grid does not draw "
                             "from; add `search: {method: random, n: 20}` (or give those values as a grid)")
        if self.search.method in ("random", "optuna"):
            if not sampled:
                raise ValueError(f"search method {self.search.method} draws from distributions, but no "
                                 "architecture has any; add `distributions:` to an architecture, or use method: grid")
            if self.search.n < len(sampled):
                raise ValueError(f"search.n is {self.search.n}, fewer than the {len(sampled)} architectures with "
                                 f"distributions ({', '.join(sampled)}), so some would never be drawn; set n to at "
                                 f"least {len(sampled)}")

    @property
    def search_seed(self) -> int:
        """The seed of a random or model-based search's draws: search.seed, else the space's seed."""
        return self.seed if self.search.seed is None else self.search.seed

    @property
    def maximise(self) -> bool:
        return METRIC_MAXIMISE[self.metric]

    def check_task(self, task: str) -> None:
        """The frontier's metric must be one the dataset's task records (ValueError says which)."""
        allowed = CLASSIFICATION if task == "classification" else REGRESSION
        if self.metric not in allowed:
            raise ValueError(f"metric {self.metric!r} is not a {task} metric; a {task} dataset records "
                             f"{', '.join(allowed)}: set metric to one of them")


def check_ladder(v: list) -> list:
    for x in v:
        if isinstance(x, bool) or not math.isfinite(x) or x <= 0:
            raise ValueError(f"each sample size must be a fraction in (0, 1] or a row count > 1, but got {x!r}")
        if isinstance(x, float) and x > 1:
            raise ValueError(f"a fractional sample size must be <= 1, but got {x!r}; "
                             "write row counts as integers")
        if x > MAX_ROWS:
            raise ValueError(f"a row count must be at most {MAX_ROWS:,}, but got {x!r}")
    if list(v) != sorted(v, key=float) or len(set(map(float, v))) != len(v):
        raise ValueError(f"sample sizes must be strictly ascending, but got {list(v)}")
    return v


def load_space(path: str | Path) -> SearchSpace:
    return load_model(SearchSpace, Path(path), "search space")
