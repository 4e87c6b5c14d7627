"""A search space's sampled side: an architecture's `distributions:` and the space's `search:`.

A distribution is written as one mapping, checked whole (bounds, types) before any work:

    C:            {loguniform: [1e-3, 100]}     # log10 of the value is uniform
    l1_ratio:     {uniform: [0.0, 1.0]}
    max_depth:    {int: [2, 32], log: true}     # whole numbers in [lo, hi]; log: log-spaced
    kernel:       {choice: [rbf, poly]}         # one of the values, each as likely

`search: {method: grid}` (the default) expands every grid as it always has; `method:
random` draws `n` configurations (docs/specs.md, "Sampled search spaces"); `method: optuna`
draws its first `batch` configurations as random does, then asks Optuna's sampler for the
rest, `batch` at a time, from the results so far (sweep.asking). How values are drawn is
sweep.spec.sampling.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ..errors import printable

KINDS = ("uniform", "loguniform", "int", "choice")
MAX_N = 100_000        # sampled configurations in one space: more is a typo, not a search
MAX_CHOICES = 10_000   # values in one choice list
_FORMS = "{uniform: [lo, hi]}, {loguniform: [lo, hi]}, {int: [lo, hi]} (optionally with log: true) or {choice: [...]}"


MAX_INT = 2**53   # an int distribution's bounds stay where a double counts every whole number


def _number(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a double
        return False


class Distribution(BaseModel):
    """One sampled hyperparameter: `kind` (uniform | loguniform | int | choice) and its
    `values` ([lo, hi], or the choices); `log` spaces an int distribution logarithmically.
    Written and dumped as the one-key mapping of the YAML form ({uniform: [lo, hi]})."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["uniform", "loguniform", "int", "choice"]
    values: tuple[Any, ...]
    log: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, Distribution):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"a distribution is a mapping: {_FORMS}; write it as one of these")
        keys = [k for k in data if k in KINDS]
        extra = [k for k in data if k not in KINDS and k != "log"]
        if extra:
            raise ValueError(f"a distribution takes no key {printable(repr(extra[0]))}; write it as {_FORMS}")
        if len(keys) != 1:
            got = "no kind" if not keys else f"{len(keys)} kinds ({', '.join(keys)})"
            raise ValueError(f"a distribution names exactly one kind, but got {got}; write it as {_FORMS}")
        kind = keys[0]
        log = data.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"log must be true or false, but got {printable(repr(log))}")
        if log and kind != "int":
            hint = "use {loguniform: [lo, hi]}" if kind == "uniform" else "remove log"
            raise ValueError(f"log: true goes with int only, not {kind}; {hint}")
        raw = data[kind]
        if kind == "choice":
            return {"kind": kind, "values": tuple(_choices(raw)), "log": False}
        return {"kind": kind, "values": _bounds(kind, raw, log), "log": log}

    @model_serializer
    def _dump(self) -> dict:
        out: dict[str, Any] = {self.kind: list(self.values)}
        if self.log:
            out["log"] = True
        return out

    @property
    def numeric(self) -> bool:
        """A range of numbers (uniform, loguniform, int), not a list of choices."""
        return self.kind != "choice"


def _bounds(kind: str, raw: Any, log: bool) -> tuple:
    form = f"{{{kind}: [lo, hi]}}"
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError(f"{kind} takes a list of two bounds [lo, hi], but got {_short(raw)}; write {form}")
    lo, hi = raw
    if kind == "int":
        bad = [v for v in raw if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            fix = f"write {int(bad[0])}" if _number(bad[0]) and float(bad[0]).is_integer() else "give whole numbers"
            raise ValueError(f"int's bounds must be whole numbers, but got {_short(bad[0])}; {fix}")
        big = [v for v in raw if abs(v) > MAX_INT]
        if big:
            raise ValueError(f"int's bounds must be within ±2**53 ({MAX_INT:,}), but got {_short(big[0])}; "
                             "use a smaller range")
    else:
        bad = [v for v in raw if not _number(v)]
        if bad:
            raise ValueError(f"{kind}'s bounds must be finite numbers, but got {_short(bad[0])}; write {form}")
    if lo > hi:
        raise ValueError(f"{kind}'s lo {lo!r} is above its hi {hi!r}; write [lo, hi] with lo < hi "
                         f"(here [{hi!r}, {lo!r}])")
    if lo == hi:
        raise ValueError(f"{kind}'s lo and hi are both {lo!r}, so nothing is searched; make lo < hi, or set "
                         "the value under params")
    if (kind == "loguniform" or log) and lo <= 0:
        what = "loguniform" if kind == "loguniform" else "int with log: true"
        raise ValueError(f"{what} needs lo > 0 (it is uniform in log space), but lo is {lo!r}; give a positive "
                         "lo (e.g. 1e-6), or use " + ("uniform" if kind == "loguniform" else "log: false"))
    if kind == "int":
        return (int(lo), int(hi))
    return (float(lo), float(hi))


def non_finite(value: Any) -> Any:
    """The first NaN or infinity inside `value` (lists and mappings searched), else None: a
    configuration's id is a hash of its JSON, which has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for v in items:
        bad = non_finite(v)
        if bad is not None:
            return bad
    return None


def _choices(raw: Any) -> list:
    if not isinstance(raw, list):
        raise ValueError(f"choice takes a list of values, but got {_short(raw)}; write {{choice: [a, b]}}")
    if not raw:
        raise ValueError("choice is an empty list, so there is nothing to draw; give at least one value "
                         "(or remove the distribution)")
    if len(raw) > MAX_CHOICES:
        raise ValueError(f"choice lists {len(raw)} values, more than {MAX_CHOICES:,}; use a range instead")
    bad = non_finite(raw)
    if bad is not None:
        raise ValueError(f"choice holds {bad!r}, which a configuration cannot hold; give finite numbers")
    seen: set[str] = set()
    for v in raw:
        key = json.dumps(v, sort_keys=True, default=str)
        if key in seen:
            raise ValueError(f"choice lists {_short(v)} twice; list each value once")
        seen.add(key)
    return raw


def _short(value: Any) -> str:
    text = printable(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


SAMPLERS = ("tpe",)   # Optuna samplers a model-based search takes (sweep.asking)
_NOT_OFFERED = {"gp": "Optuna's GPSampler needs PyTorch, which sweep does not install",
                "nsga2": "Optuna's NSGA-II keeps its generations in trial attributes that a study rebuilt "
                         "from the ledger does not have"}


class Search(BaseModel):
    """How the space becomes configurations: `grid` (every combination of every grid, the
    default), `random` (`n` configurations drawn from the distributions, by `seed`; `sobol:
    true` draws them from a scrambled Sobol' sequence instead) or `optuna` (`n` configurations,
    the first `batch` drawn as random does, the rest asked of Optuna's `sampler`, `batch` at a
    time, from the results so far)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["grid", "random", "optuna"] = "grid"
    n: int | None = Field(None, ge=1, le=MAX_N, description="methods random and optuna: configurations to "
                          "draw over the architectures with distributions")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="the draws' seed (default: the space's seed)")
    sobol: bool = Field(False, description="draw from a scrambled Sobol' sequence (quasi-random)")
    sampler: str | None = Field(None, description="method optuna: Optuna's sampler (tpe, the default)")
    batch: int | None = Field(None, ge=1, le=MAX_N, description="method optuna: configurations asked at a "
                              "time (default: max(4, n / 5), at most n)")

    @model_validator(mode="after")
    def _check(self) -> "Search":
        own = {"random": ("n", "seed", "sobol"), "optuna": ("n", "seed", "sampler", "batch")}
        given = [k for k in ("n", "seed", "sampler", "batch") if getattr(self, k) is not None] + \
            (["sobol"] if self.sobol else [])
        wrong = [k for k in given if k not in own.get(self.method, ())]
        if wrong:
            takers = [m for m in ("random", "optuna") if all(k in own[m] for k in wrong)]
            fix = f"set method: {takers[0]}" if takers else "remove it"
            raise ValueError(f"{' and '.join(wrong)} {'do' if len(wrong) > 1 else 'does'} not apply to method "
                             f"{self.method}; remove {'them' if len(wrong) > 1 else 'it'} or {fix}")
        if self.method in ("random", "optuna") and self.n is None:
            raise ValueError(f"method {self.method} needs n, the number of configurations to draw; add e.g. n: 20")
        if self.sampler is not None and self.sampler not in SAMPLERS:
            why = _NOT_OFFERED.get(self.sampler)
            raise ValueError(f"sampler {printable(repr(self.sampler))} is not offered"
                             f"{' (' + why + ')' if why else ''}; use one of {', '.join(SAMPLERS)}")
        return self

    @property
    def batch_size(self) -> int:
        """Configurations a model-based search asks for at a time (its first batch: random draws)."""
        n = self.n or 1
        return min(n, self.batch or max(4, math.ceil(n / 5)))
