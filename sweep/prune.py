"""Pareto-aware early stopping over sample size: the rule, and a simulator that replays it.

After each (config_id, rung) result, `Judge.observe` decides whether that configuration goes
on to its next rung. A configuration continues while one of its remaining rungs could still
reach the frontier of (validation metric, training time) found so far:

- its metric there is this rung's, moved towards the metric's best value (`ideal`: 1 for
  accuracy, 0 for rmse) by an optimistic share of that gap, plus `margin` (a further share).
  With `model: power` the share is the larger of two bounds: the configuration's
  own curve (sweep.curves: a power law err ~ n ** -c fitted to its results with n >= n_now /
  `window`, c bounded above by the fitted slope plus `z` standard errors; with fewer than 3
  results there, c = `prior`), and the largest share
  closed between the same two sample sizes so far by configurations of its architecture,
  else of any (when one was seen). With `model: gains` (the default, the rule before #26) only the
  latter, and no gain seen yet: it continues. For a metric without an ideal value: the
  largest gain seen plus `margin` times the metric's spread;
- the time of a later rung is predicted from the configuration's own time at this rung,
  scaled by (n_later / n_now) ** b: with `model: power` b is the configuration's own cost
  exponent between its last two rungs (clipped to [0, 2]; before two rungs, as with
  `gains`), with `gains` the smallest cost exponent its architecture has shown so far
  between two rungs (0 before any: time assumed not to grow — optimistic);
- it stops when every such optimistic point is dominated by a point already fitted.
With `curves: full`, the best configuration so far of each architecture at this rung
always continues, so every architecture reaches the top rung.

Pure: no Ray, no I/O. The live runner and `simulate` call the same `Judge`.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .curves import exponent_bound, share_bound
from .growth import exponent
from .metrics import IDEAL

MAX_COST_EXPONENT = 2.0    # a configuration's own cost exponent is clipped to [0, this]


@dataclass(frozen=True)
class Rule:
    """The rule's parameters (the search space's `pruning:` block)."""

    policy: str = "pareto"
    margin: float = 0.02       # optimism added to a gain (a share of the gap to the metric's ideal
                               # value; for a metric without one, a fraction of the metric's spread)
    min_results: int = 1       # gains seen at a rung pair before a configuration may stop there
    curves: str = "ends"       # "full": each architecture's best so far goes to the top rung
    model: str = "gains"       # "power": each configuration's own curve bounds its gain; "gains": the
                               # largest gains seen only (the rule before #26)
    z: float = 2.0             # standard errors added to the fitted power-law exponent (model: power)
    window: float = 8.0        # the fit uses the configuration's results with n >= n_now / window
    prior: float = 0.5         # the exponent bound before 3 results in the window (model: power)

    def __post_init__(self):
        """Checked by the spec's own model (sweep.spec.space.Pruning), the one statement of
        each parameter's bounds: a rule built in code is held to what a space file is."""
        from pydantic import ValidationError

        from .spec.space import Pruning

        try:
            Pruning.model_validate({f: getattr(self, f) for f in Pruning.model_fields}, strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValueError(f"{err['loc'][0]}: {err['msg'][0].lower() + err['msg'][1:]}, but got {err['input']!r}") from None


@dataclass
class Decision:
    go_on: bool
    reason: str = ""


@dataclass
class Judge:
    """Decides, result by result in arrival order, whether a configuration goes on."""

    ladders: dict[str, list[int]]          # config_id -> its rungs (n_train), ascending
    architectures: dict[str, str]          # config_id -> architecture
    maximise: bool = True
    rule: Rule = field(default_factory=Rule)
    metric_name: str = "metric"
    ideal: float | None = None             # the metric's best possible value (1 for accuracy, 0 for rmse)

    def __post_init__(self):
        self.points: dict[tuple[str, int], tuple[float, float]] = {}   # (cid, n) -> (metric, time)
        # (arch, n_from, n_to) -> the best gain seen: as a share of the gap to the ideal value
        # closed, when the metric has one; else in the metric's units
        self._gains: dict[tuple[str, int, int], float] = {}
        self._gains_any: dict[tuple[int, int], float] = {}
        self._counts: dict[tuple[str, int, int], int] = {}
        self._counts_any: dict[tuple[int, int], int] = {}
        self._slopes: dict[str, float] = {}                  # arch -> smallest cost exponent
        self._best: dict[tuple[str, int], float] = {}         # (arch, n) -> best metric there
        self._lo = math.inf
        self._hi = -math.inf
        self._ideal = None if self.ideal is None else (self.ideal if self.maximise else -self.ideal)
        self._front: list[tuple[float, float, tuple[str, int]]] = []   # (time, metric, key): the
        self._front_t: list[float] = []     # frontier so far, time ascending, metric strictly ascending

    def _good(self, m: float) -> float:
        return m if self.maximise else -m

    def observe(self, config_id: str, n_train: int, metric: float, time_s: float) -> Decision:
        """Take one result; say whether `config_id` fits its next rung."""
        arch = self.architectures[config_id]
        ladder = self.ladders[config_id]
        g, t = self._good(float(metric)), float(time_s)
        if math.isfinite(g):
            self._learn(config_id, arch, int(n_train), g, t)
        later = [n for n in ladder if n > n_train]
        if not later:
            return Decision(False, "top rung")
        if self.rule.policy == "none":
            return Decision(True)
        if not math.isfinite(g) or not math.isfinite(t):
            return Decision(True)  # nothing to judge by (e.g. a metric the estimator cannot give)
        if self.rule.curves == "full" and g >= self._best.get((arch, int(n_train)), -math.inf):
            return Decision(True, "best of its architecture so far (curves: full)")
        spread = (self._hi - self._lo) if self._hi > self._lo else 0.0
        b = max(0.0, self._slopes.get(arch, 0.0))
        c_up = None   # the configuration's own power-law exponent, bounded above (model: power)
        if self.rule.model == "power" and self._ideal is not None:
            own = self._own(config_id, int(n_train))
            c_up = exponent_bound([k for k, _, _ in own], [self._ideal - m for _, m, _ in own],
                                  self.rule.window, self.rule.z)
            if c_up is None:   # too few results of its own to fit: the prior exponent
                c_up = self.rule.prior
            own_b = exponent(own[-2][0], own[-2][2], n_train, t) if len(own) >= 2 else None
            if own_b is not None:
                b = min(max(0.0, own_b), MAX_COST_EXPONENT)
        first = None  # the next rung's prediction, named in the stop's reason
        for n in later:
            gain = self._gain(arch, int(n_train), n)
            if c_up is not None:
                own_share = share_bound(n_train, n, c_up)
                gain = own_share if gain is None else max(gain, own_share)
            if gain is None:
                return Decision(True)
            if self._ideal is not None:  # close the largest share of the gap seen, plus margin
                p_m = g + max(self._ideal - g, 0.0) * min(max(gain, 0.0) + self.rule.margin, 1.0)
            else:
                p_m = g + max(gain, 0.0) + self.rule.margin * spread
            p_t = t * (n / n_train) ** b
            dom = self._dominating(p_m, p_t)
            if dom is None:
                return Decision(True)
            first = first or (n, p_m, p_t, dom)
        n, p_m, p_t, dom = first
        sign = 1.0 if self.maximise else -1.0
        shown = "; ".join(f"{cid} n={k}: ({sign * m:.4g}, {tt:.4g} s)" for (cid, k), (m, tt) in dom[:3])
        return Decision(False, f"predicted at n_train={n}: {self.metric_name} at best {sign * p_m:.4g} "
                               f"in at least {p_t:.4g} s, dominated by {shown}")

    def _own(self, cid: str, n: int) -> list[tuple[int, float, float]]:
        """The configuration's finite results up to rung n: (n_k, metric, time), n ascending."""
        return [(k, *self.points[(cid, k)]) for k in self.ladders[cid]
                if k <= n and (cid, k) in self.points]

    def _learn(self, cid: str, arch: str, n: int, g: float, t: float) -> None:
        self.points[(cid, n)] = (g, t)
        if math.isfinite(t):
            self._add_to_front(g, t, (cid, n))
        self._lo, self._hi = min(self._lo, g), max(self._hi, g)
        key = (arch, n)
        self._best[key] = max(self._best.get(key, -math.inf), g)
        for k in self.ladders[cid]:
            if k >= n or (cid, k) not in self.points:
                continue
            g0, t0 = self.points[(cid, k)]
            gain = g - g0
            if self._ideal is not None:
                gap = self._ideal - g0
                gain = (gain / gap) if gap > 0 else 0.0
            for store, counts, gk in ((self._gains, self._counts, (arch, k, n)),
                                      (self._gains_any, self._counts_any, (k, n))):
                store[gk] = max(store.get(gk, -math.inf), gain)
                counts[gk] = counts.get(gk, 0) + 1
            slope = exponent(k, t0, n, t)
            if slope is not None:
                self._slopes[arch] = min(self._slopes.get(arch, math.inf), slope)

    def _gain(self, arch: str, n_from: int, n_to: int) -> float | None:
        """The optimistic gain from n_from to n_to, or None when too little has been seen."""
        if self._counts.get((arch, n_from, n_to), 0) >= self.rule.min_results:
            return self._gains[(arch, n_from, n_to)]
        if self._counts_any.get((n_from, n_to), 0) >= self.rule.min_results:
            return self._gains_any[(n_from, n_to)]
        return None

    def _add_to_front(self, m: float, t: float, key: tuple[str, int]) -> None:
        i = bisect.bisect_right(self._front_t, t)
        if i > 0 and self._front[i - 1][1] >= m:
            return  # dominated by (or equal to) a frontier point no slower
        j = i
        while j < len(self._front) and self._front[j][1] <= m:
            j += 1  # slower (or as fast) and no better: dominated by the new point
        k = i
        while k > 0 and self._front_t[k - 1] == t:  # as fast and (here) worse: dominated too
            k -= 1
        self._front[k:j] = [(t, m, key)]
        self._front_t[k:j] = [t]

    def _dominating(self, m: float, t: float) -> list | None:
        """Fitted points that dominate (m, t), best first; None when none does. A point that
        dominates (m, t) is matched or beaten by a frontier point, so the frontier suffices."""
        i = bisect.bisect_right(self._front_t, t) - 1
        dom = []
        while i >= 0:
            ft, fm, key = self._front[i]
            if fm < m or (fm == m and ft == t):
                break
            dom.append((key, (fm, ft)))
            i -= 1
        return dom or None


def replay(records: list[dict], ladders: dict[str, list[int]], architectures: dict[str, str],
           maximise: bool = True, rule: Rule | None = None, metric: str = "accuracy",
           time_axis: str = "train_time_s") -> dict[tuple[str, int], Decision]:
    """The Judge's decision after each ok record, fed in the given (arrival) order: what an
    uninterrupted run that received these results in this order would have decided."""
    judge = Judge(ladders, architectures, maximise, rule or Rule(), f"val_{metric}", IDEAL.get(metric))
    out: dict[tuple[str, int], Decision] = {}
    for r in records:
        key = (r["config_id"], int(r["rung"]))
        if r.get("status") != "ok" or key in out or r["config_id"] not in ladders:
            continue
        m, t = r.get(f"val_{metric}"), r.get(time_axis)
        out[key] = judge.observe(key[0], key[1], float("nan") if m is None else float(m),
                                 float("nan") if t is None else float(t))
    return out


def simulate(points: pd.DataFrame, cores: int = 1, metric: str = "accuracy", maximise: bool = True,
             policy: str = "pareto", order: list[str] | None = None, **rule) -> pd.DataFrame:
    """Replay the rule on an exhaustive grid as the live runner would apply it on `cores` workers.

    `points` has one row per (config_id, rung) with at least config_id, architecture,
    n_train, val_<metric> and train_time_s. Each worker takes the next configuration (in
    `order`, default: the order configurations first appear in `points`) and fits its rungs
    ascending; a result arrives when its recorded train time has passed on that worker, the
    Judge sees results in that simulated arrival order, and a configuration that stops frees
    its worker. Returns `points` with `fitted` (bool) and `finished_at` (simulated seconds,
    NaN where not fitted).
    """
    if not (isinstance(cores, int) and cores >= 1):
        raise ValueError(f"cores must be a whole number >= 1, but got {cores!r}")
    col = f"val_{metric}"
    missing = [c for c in ("config_id", "architecture", "n_train", col, "train_time_s") if c not in points]
    if missing:
        raise ValueError(f"points lacks column(s) {missing}; give one row per (config_id, rung) with "
                         f"config_id, architecture, n_train, {col}, train_time_s")
    df = points.reset_index(drop=True)
    rows = {(str(c), int(n)): i for i, (c, n) in enumerate(zip(df["config_id"], df["n_train"]))}
    ladders: dict[str, list[int]] = {}
    archs: dict[str, str] = {}
    for c, n, a in zip(df["config_id"].astype(str), df["n_train"].astype(int), df["architecture"]):
        ladders.setdefault(c, []).append(int(n))
        archs[c] = a
    ladders = {c: sorted(set(v)) for c, v in ladders.items()}
    queue = list(dict.fromkeys(order if order is not None else df["config_id"].astype(str)))
    judge = Judge(ladders, archs, maximise, Rule(policy=policy, **rule), col, IDEAL.get(metric))
    fitted = np.zeros(len(df), dtype=bool)
    finished = np.full(len(df), np.nan)
    metric_v = df[col].to_numpy(dtype=float)
    time_v = df["train_time_s"].to_numpy(dtype=float)
    events: list[tuple[float, int, int, str, int]] = []   # (finish time, seq, worker, config, rung index)
    seq = 0
    nxt = 0

    def start(worker: int, now: float, cid: str, k: int) -> None:
        nonlocal seq
        i = rows[(cid, ladders[cid][k])]
        heapq.heappush(events, (now + max(time_v[i], 0.0), seq, worker, cid, k))
        seq += 1

    for w in range(min(cores, len(queue))):
        start(w, 0.0, queue[nxt], 0)
        nxt += 1
    while events:
        now, _, w, cid, k = heapq.heappop(events)
        i = rows[(cid, ladders[cid][k])]
        fitted[i], finished[i] = True, now
        d = judge.observe(cid, ladders[cid][k], metric_v[i], time_v[i])
        if d.go_on and k + 1 < len(ladders[cid]):
            start(w, now, cid, k + 1)
        elif nxt < len(queue):
            start(w, now, queue[nxt], 0)
            nxt += 1
    out = points.copy()
    out["fitted"] = fitted
    out["finished_at"] = finished
    return out


def halving(points: pd.DataFrame, metric: str = "accuracy", maximise: bool = True,
            factor: int = 3) -> pd.DataFrame:
    """scikit-learn's successive halving rule on the same table: every configuration fits the
    smallest rung; at each rung the top ceil(n / factor) by the validation metric go on."""
    col = f"val_{metric}"
    df = points.reset_index(drop=True)
    fitted = np.zeros(len(df), dtype=bool)
    alive = list(dict.fromkeys(df["config_id"].astype(str)))
    rungs = sorted(df["n_train"].astype(int).unique())
    by_key = {(str(c), int(n)): i for i, (c, n) in enumerate(zip(df["config_id"], df["n_train"]))}
    for r, n in enumerate(rungs):
        here = [(c, by_key[(c, n)]) for c in alive if (c, n) in by_key]
        for _, i in here:
            fitted[i] = True
        if r + 1 == len(rungs):
            break
        keep = math.ceil(len(here) / factor)
        vals = np.array([df.at[i, col] for _, i in here], dtype=float)
        vals = np.where(np.isfinite(vals), vals, -np.inf if maximise else np.inf)
        ranked = sorted(range(len(here)), key=lambda j: (-vals[j] if maximise else vals[j], here[j][0]))
        alive = [here[j][0] for j in ranked[:keep]]
    out = points.copy()
    out["fitted"] = fitted
    return out


def compute_saved(trials: pd.DataFrame, stops: pd.DataFrame, ladder: list[int],
                  time: str = "train_time_s") -> dict:
    """Fits and seconds the stops saved against the exhaustive grid: each unfitted rung of a
    stopped configuration costs its last fitted time scaled by its architecture's cost slope
    (sweep.growth: the median of its configurations'; 1 where unknown)."""
    from .pareto import cost_slopes

    ok = trials[trials["status"] == "ok"] if len(trials) else trials
    slopes = {a: s for a, s in cost_slopes(ok, time)[["architecture", "slope"]].itertuples(index=False)} \
        if len(ok) else {}
    fits_saved, seconds_saved = 0, 0.0
    last = ok.sort_values("n_train").groupby("config_id").tail(1).set_index("config_id") if len(ok) else None
    for r in stops.itertuples(index=False):
        later = [n for n in ladder if n > int(r.stopped_after)]
        fits_saved += len(later)
        if last is None or r.config_id not in last.index:
            continue
        t0, n0 = float(last.at[r.config_id, time]), float(last.at[r.config_id, "n_train"])
        b = slopes.get(r.architecture, 1.0)
        b = 1.0 if not math.isfinite(b) else b
        seconds_saved += sum(t0 * (n / n0) ** b for n in later)
    spent = float(ok[time].sum()) if len(ok) else 0.0
    return {"fits_saved": fits_saved, "fits_exhaustive": int(len(ok) + fits_saved),
            "seconds_saved": seconds_saved, "seconds_exhaustive": spent + seconds_saved}


__all__ = ["compute_saved", "replay", "Rule", "Judge", "Decision", "simulate", "halving"]
