"""How long a sweep will take: the whole `sweep run`'s wall predicted from a cost model, and
the live estimate of the time left.

A run's wall is its fixed parts (the interpreter and specs, Ray's start, the data stage:
measured by `sweep plan` as it does them), the trial phase, and the post-trial phase
(results, test scoring of the frontier, report) and exit. The trial phase is replayed with
sweep.prune.simulate on the run's cores, in the order sweep.runner hands configurations to
Tune, with each pair's seconds from sweep.cost plus the framework's costs per pair and per
trial (`Overheads`). The adaptive prediction replays the early-stopping rule on metrics
extrapolated from the pilots' learning curves. The 80% interval draws each architecture's
cost error from its model's spread (errors within an architecture move together), and the
framework's own seconds (the measured fixed part too) from `Overheads.spread`, and the
machine's speed from run to run (`Overheads.speed_spread`: every fit at once).

Pure: no Ray, no I/O.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cost import CostModel
from .grid import Configuration
from .metrics import IDEAL
from .pareto import frontier_mask
from .prune import simulate


@dataclass(frozen=True)
class Overheads:
    """The framework's seconds around the fits, on the machine that runs the trials.

    The defaults are the 2-core development machine's (benchmarks/plan.py calibrates and
    checks them); a trial phase's start is Tune's start and its first trial processes' start-up."""

    trial_phase_start_s: float = 3.5
    per_trial_s: float = 0.045      # Tune handing a worker its next trial
    per_pair_s: float = 0.012       # ledger, TensorBoard and progress per (config_id, rung)
    post_fixed_s: float = 1.3       # trials table, frontier, report, TensorBoard summary
    exit_s: float = 1.5             # Ray's shutdown and the interpreter's exit (`sweep plan` measures it)
    spread: float = 0.25            # log-normal spread of the framework's own seconds from run to run
    speed_spread: float = 0.15      # ... and of the machine's speed (every fit at once), from run to run


BUDGET_MARGIN = 0.04  # a budget's deadline is this share of it before its end, as slack
INTERPRETER_EXIT_S = 0.3  # after Ray's shutdown, the interpreter's own exit
Z80 = 1.2816  # the 90% quantile of a standard normal: the 80% interval's half-width in sigmas


def pair_table(model: CostModel, configs: list[Configuration], rungs: list[int], n_trials: int,
               overheads: Overheads) -> pd.DataFrame:
    """One row per (config_id, rung): predicted fit seconds and the seconds its worker is busy."""
    per_config_start = overheads.per_trial_s * n_trials / max(len(configs), 1)
    fit = model.table(configs, rungs)
    busy = fit + overheads.per_pair_s
    busy[:, 0] += per_config_start
    return pd.DataFrame({"config_id": np.repeat([c.config_id for c in configs], len(rungs)),
                         "architecture": np.repeat([c.architecture for c in configs], len(rungs)),
                         "n_train": np.tile(np.asarray(rungs, dtype=int), len(configs)),
                         "fit_s": fit.ravel(), "busy_s": busy.ravel()})


def trial_phase_s(pairs: pd.DataFrame, cores: int, order: list[str], overheads: Overheads,
                  busy: np.ndarray | None = None, metrics: pd.DataFrame | None = None,
                  metric: str = "accuracy", maximise: bool = True, rule: dict | None = None) -> float:
    """The trial phase's wall: the schedule replayed on `cores` (with `metrics` and `rule`:
    the adaptive one, where the rule stops configurations as it would live)."""
    pts = pairs[["config_id", "architecture", "n_train"]].copy()
    pts["train_time_s"] = pairs["busy_s"].to_numpy() if busy is None else busy
    col = f"val_{metric}"
    pts[col] = 0.0 if metrics is None else metrics[col].to_numpy()
    if rule is None:
        out = simulate(pts, cores=cores, metric=metric, maximise=maximise, policy="none", order=order)
    else:
        rule = {k: v for k, v in rule.items() if k != "policy"}
        out = simulate(pts, cores=cores, metric=metric, maximise=maximise, policy="pareto", order=order, **rule)
    return overheads.trial_phase_start_s + float(np.nanmax(out["finished_at"].to_numpy()))


def extrapolated_metrics(configs: list[Configuration], rungs: list[int], observed: list[dict],
                         metric: str, maximise: bool) -> pd.DataFrame:
    """val_<metric> per (config_id, rung), for the adaptive replay: a configuration's observed
    value where there is one, else its architecture's median at that sample size, carried to
    larger samples by the architecture's learning curve (the gap to the metric's ideal value
    shrinks as n ** -alpha, alpha from configurations observed at two sizes; 0.5 if none)."""
    col = f"val_{metric}"
    ideal = IDEAL.get(metric)
    by_id = {c.config_id: c for c in configs}
    seen: dict[str, dict[int, float]] = {}
    for r in observed:
        v = r.get(col)
        if r.get("status") == "ok" and r.get("config_id") in by_id and v is not None and math.isfinite(float(v)):
            seen.setdefault(r["config_id"], {})[int(r["n_train"])] = float(v)
    alphas: dict[str, list[float]] = {}
    arch_at: dict[tuple[str, int], list[float]] = {}
    for cid, pts in seen.items():
        arch = by_id[cid].architecture
        for n, v in pts.items():
            arch_at.setdefault((arch, n), []).append(v)
        ns = sorted(pts)
        if ideal is not None and len(ns) >= 2:
            g0, g1 = abs(ideal - pts[ns[0]]), abs(ideal - pts[ns[-1]])
            if g0 > 0 and g1 > 0:
                alphas.setdefault(arch, []).append(-math.log(g1 / g0) / math.log(ns[-1] / ns[0]))
    rows = []
    for c in configs:
        own = seen.get(c.config_id, {})
        a = float(np.clip(np.median(alphas[c.architecture]), 0.0, 1.5)) if c.architecture in alphas else 0.5
        base_n, base_v = None, None
        if own:
            base_n = min(own)
            base_v = own[base_n]
        else:
            known = sorted(n for (arch, n) in arch_at if arch == c.architecture)
            if known:
                base_n = known[0]
                base_v = float(np.median(arch_at[(c.architecture, base_n)]))
        for n in rungs:
            if n in own:
                v = own[n]
            elif base_v is None:
                v = float("nan")
            elif ideal is None:
                v = base_v
            else:
                v = ideal + (base_v - ideal) * (n / base_n) ** (-a)
            rows.append((c.config_id, n, v))
    return pd.DataFrame(rows, columns=["config_id", "n_train", col])


def post_phase_s(pairs: pd.DataFrame, metrics: pd.DataFrame | None, metric: str, maximise: bool,
                 overheads: Overheads) -> float:
    """Results, report and exit, plus refitting the predicted frontier's points for the test split."""
    refits = 0.0
    if metrics is not None:
        col = f"val_{metric}"
        m = metrics[col].to_numpy(dtype=float)
        ok = np.isfinite(m)
        if ok.any():
            front = frontier_mask(m[ok], pairs["fit_s"].to_numpy()[ok], maximise)
            refits = float(pairs["fit_s"].to_numpy()[ok][front].sum())
    return overheads.post_fixed_s + refits + overheads.exit_s


def predict(model: CostModel, configs: list[Configuration], rungs: list[int], cores: int, *,
            order_exhaustive: list[str], order_adaptive: list[str], n_trials: int, fixed_s: float,
            observed: list[dict], metric: str, maximise: bool, rule: dict | None,
            overheads: Overheads = Overheads(), draws: int | None = None, seed: int = 0) -> dict:
    """The predicted wall of the whole run, exhaustive and adaptive, with the exhaustive
    wall's 80% interval; `fixed_s` is the measured time before the trial phase."""
    pairs = pair_table(model, configs, rungs, n_trials, overheads)
    metrics = extrapolated_metrics(configs, rungs, observed, metric, maximise)
    post = post_phase_s(pairs, metrics, metric, maximise, overheads)
    exhaustive = trial_phase_s(pairs, cores, order_exhaustive, overheads)
    adaptive = exhaustive
    if rule is not None and metrics[f"val_{metric}"].notna().any():
        adaptive = trial_phase_s(pairs, cores, order_adaptive, overheads, metrics=metrics, metric=metric,
                                 maximise=maximise, rule=rule)
    draws = draws if draws is not None else int(max(20, min(100, 100_000 // max(len(pairs), 1))))
    rng = np.random.default_rng(seed)
    archs = sorted(set(pairs["architecture"]))
    sigma = {a: model.sigma(next(c.config_id for c in configs if c.architecture == a)) for a in archs}
    overhead = (pairs["busy_s"] - pairs["fit_s"]).to_numpy()
    walls = []
    for _ in range(draws):
        f = {a: math.exp(sigma[a] * rng.standard_normal()) for a in archs}
        speed = math.exp(overheads.speed_spread * rng.standard_normal())
        busy = pairs["fit_s"].to_numpy() * pairs["architecture"].map(f).to_numpy() * speed + overhead
        jitter = np.exp(overheads.spread * rng.standard_normal(3))  # the fixed part, Tune's start, the post phase
        start = overheads.trial_phase_start_s * (jitter[1] - 1)
        walls.append(fixed_s * jitter[0] + trial_phase_s(pairs, cores, order_exhaustive, overheads, busy=busy)
                     + start + post * jitter[2])
    lo, hi = np.quantile(walls, [0.1, 0.9])
    core_s = pairs.groupby("architecture")["fit_s"].sum().sort_values(ascending=False)
    per_config = pairs.groupby(["config_id", "architecture"])["fit_s"].sum().sort_values(ascending=False)
    return {
        "cores": int(cores), "pairs": int(len(pairs)), "configurations": len(configs), "rungs": list(rungs),
        "predicted_wall_s": fixed_s + exhaustive + post,
        "predicted_wall_adaptive_s": fixed_s + adaptive + post,
        "interval80_s": [float(min(lo, fixed_s + exhaustive + post)), float(max(hi, fixed_s + exhaustive + post))],
        "fixed_s": fixed_s, "trial_phase_s": exhaustive, "trial_phase_adaptive_s": adaptive, "post_s": post,
        "core_s_by_architecture": {a: float(v) for a, v in core_s.items()},
        "core_s": float(pairs["fit_s"].sum()),
        "most_expensive": [{"config_id": cid, "architecture": a, "core_s": float(v)}
                           for (cid, a), v in per_config.head(10).items()],
    }


def within_budget(model: CostModel, configs: list[Configuration], rungs: list[int], cores: int,
                  budget_s: float, fixed_s: float, overheads: Overheads = Overheads()) -> dict:
    """What fits in `budget_s` of wall: the pairs a budgeted run would fit, cheapest first
    (each architecture's smallest rung first), on `cores`, after the fixed and post phases."""
    pairs = pair_table(model, configs, rungs, 1, overheads)
    left = (budget_s - fixed_s - overheads.trial_phase_start_s - overheads.post_fixed_s - overheads.exit_s) * cores
    ranked = pairs.sort_values(["n_train", "busy_s"], kind="stable")
    cum = ranked["busy_s"].cumsum().to_numpy()
    fits = int(np.searchsorted(cum, left, side="right")) if left > 0 else 0
    return {"budget_s": budget_s, "pairs_within": fits, "pairs": len(pairs),
            "minimum_s": minimum_wall_s(model, configs, rungs, cores, fixed_s, overheads)}


def minimum_wall_s(model: CostModel, configs: list[Configuration], rungs: list[int], cores: int,
                   fixed_s: float, overheads: Overheads = Overheads()) -> float:
    """The least --time-budget that holds the cheapest useful sweep (each architecture's
    cheapest configuration at the smallest rung) after `fixed_s`, with the budget's slack."""
    cheapest: dict[str, float] = {}
    for c in configs:
        s = model.predict(c.config_id, rungs[0]) + overheads.per_pair_s + overheads.per_trial_s
        cheapest[c.architecture] = min(cheapest.get(c.architecture, math.inf), s)
    lanes = sorted(cheapest.values(), reverse=True)
    load = [0.0] * max(1, cores)
    for s in lanes:  # longest first, onto the least loaded core
        load[load.index(min(load))] += s
    need = fixed_s + overheads.trial_phase_start_s + max(load) + overheads.post_fixed_s + overheads.exit_s
    return need / (1 - BUDGET_MARGIN)


class Eta:
    """The live estimate of a run's time left, from the cost model refined by the fits seen.

    Each configuration still going has its work left: the predicted seconds of its pairs not
    yet fitted, each weighted by the share of configurations that have gone on to that rung
    so far (an adaptive sweep stops some). That work is scheduled on the cores as the runner
    does it: configurations already under way first, then the rest, longest first, each on
    the core free soonest; the time left is when the last core is done, plus the post-trial
    phase and exit (`Overheads`; the test split's refits of the frontier are not known
    until the frontier is: counting those of the frontier seen so far overstated the time
    left wherever cheaper configurations later dominate it, benchmarks/README.md). The model is refitted as fits arrive, so the predictions are this
    machine's, under this run's load."""

    REFIT_EVERY = 0.2   # refit the model once the fits seen have grown by this share

    def __init__(self, configs: list[Configuration], rungs: list[int], observed: list[dict] | None = None,
                 overheads: Overheads = Overheads(), deadline: float | None = None):
        self.configs = configs
        self.deadline = deadline  # a --time-budget's (epoch seconds): no rung starts past it
        self.rungs = list(rungs)
        self.overheads = overheads
        self.index = {c.config_id: i for i, c in enumerate(configs)}
        self.rung_index = {n: k for k, n in enumerate(self.rungs)}
        self.done = np.zeros((len(configs), len(self.rungs)), dtype=bool)
        self.ended = np.zeros(len(configs), dtype=bool)
        self.observed: list[dict] = []
        for r in observed or []:
            if r.get("status") == "ok":
                self._mark(r["config_id"], int(r["n_train"]))
                self.observed.append(r)
        self._refit()
        self.t_first: float | None = None

    def _mark(self, cid: str, n: int) -> None:
        i, k = self.index.get(cid), self.rung_index.get(n)
        if i is not None and k is not None:
            self.done[i, k] = True

    def _refit(self) -> None:
        self.model = CostModel.fit(self.configs, self.observed)
        self.pred = self.model.table(self.configs, self.rungs) + self.overheads.per_pair_s
        self._fitted_on = len(self.observed)

    def observe(self, now: float, fits: list, ended: list | None = None) -> None:
        """`fits`: [config_id, n_train, seconds] of fits that arrived; `ended`: configurations
        that will fit no further rung (top rung, stopped, failed)."""
        for cid, n, secs in fits:
            self._mark(cid, int(n))
            self.observed.append({"config_id": cid, "n_train": int(n), "status": "ok",
                                  "train_time_s": float(secs), "predict_time_s": 0.0})
        if fits and self.t_first is None:
            self.t_first = now
        for cid in ended or []:
            i = self.index.get(cid)
            if i is not None:
                self.ended[i] = True
        if len(self.observed) >= max(3, self._fitted_on * (1 + self.REFIT_EVERY)):
            self._refit()

    def _survival(self) -> np.ndarray:
        """Share of configurations going on from rung k to rung k+1, as seen so far."""
        out = np.ones(max(len(self.rungs) - 1, 0))
        for k in range(len(self.rungs) - 1):
            decided = self.done[:, k] & (self.ended | self.done[:, k + 1])
            if decided.sum() >= 3:
                out[k] = (decided & self.done[:, k + 1]).sum() / decided.sum()
        return out

    def _weights(self) -> np.ndarray:
        """The chance that each (configuration, rung) not fitted yet will be."""
        surv = self._survival()
        w = np.zeros(self.done.shape)
        p = np.ones(len(self.configs))
        for k in range(len(self.rungs)):
            if k > 0:  # the rung after a fitted one of a configuration still going: it runs
                p = np.where(self.done[:, k - 1], 1.0, p * surv[k - 1])
            w[:, k] = np.where(self.done[:, k], 0.0, p)
        w[self.ended] = 0.0
        return w

    def remaining_s(self, now: float, cores: int) -> float | None:
        """Seconds left to the run's exit, or None before any fit has arrived."""
        if self.t_first is None:
            return None
        chains = (self._weights() * self.pred).sum(axis=1)
        going = chains > 0
        started = going & self.done.any(axis=1)
        loads = [0.0] * max(1, int(cores))
        for c in list(chains[started]) + sorted(chains[going & ~started] + self.overheads.per_trial_s, reverse=True):
            heapq.heapreplace(loads, loads[0] + float(c))  # onto the core free soonest
        trials = max(loads)
        if self.deadline is not None:  # nothing starts past the deadline
            import time

            trials = min(trials, max(0.0, self.deadline - time.time()))
        return trials + self.overheads.post_fixed_s + self.overheads.exit_s
