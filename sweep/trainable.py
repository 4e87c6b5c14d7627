"""The Tune function: one configuration, its rungs ascending on nested subsamples.

For each rung: take the first n rows of one seeded, stratified order of the training
split (so each rung's sample contains the previous one), fit (timed by the protocol of
sweep.timing through sweep.pair: wall and CPU of `fit` alone, BLAS/OpenMP threads pinned
to the trial's CPU share), score on validation,
append the record to the ledger (written before anything else; fsynced in groups),
write TensorBoard scalars, then count it in the trial's next batch of progress for Tune.
Rungs already in the ledger are skipped.
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import ledger, metrics, models
from .budget import TrialBudget
from .pair import fit_one


def scalar_tags(task: str) -> list[str]:
    """The per-rung scalars written to TensorBoard (step = n_train)."""
    return [f"val_{m}" for m in metrics.names(task)] + ["train_time_s", "train_cpu_s", "predict_time_s"]


REPORT_EVERY_S = 0.5


class Reporter:
    """What a trial tells Tune, and so the driver's progress line: counts since the last
    report (rungs, failed, stopped, configurations done) and the best `column` among them,
    sent at most every `every_s` and at `flush`. One report per rung would cost a round trip
    to the driver per pair; the ledger, not these reports, is the record."""

    def __init__(self, send, column: str | None = None, maximise: bool = True, every_s: float = REPORT_EVERY_S):
        self.send, self.column, self.maximise, self.every_s = send, column, maximise, every_s
        self.last = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.batch = {"rungs": 0, "failed": 0, "stopped": 0, "configs_done": 0}
        self.best: float | None = None
        self.best_cfg = ""
        self.fits: list[list] = []    # [config_id, n_train, seconds] of each ok fit (the live ETA)
        self.ended: list[str] = []    # configurations that will fit no further rung

    def rung(self, rec: dict, stopped: bool = False) -> None:
        b = self.batch
        b["rungs"] += 1
        b["failed"] += rec["status"] != "ok"
        b["stopped"] += bool(stopped)
        if rec["status"] == "ok":
            self.fits.append([rec["config_id"], int(rec["n_train"]),  # one fit and its scoring: the cost model's unit
                              float(rec.get("train_time_s") or 0.0) + float(rec.get("predict_time_s") or 0.0)])
        v = rec.get(self.column) if self.column else None
        if isinstance(v, (int, float)) and v == v and (
                self.best is None or (v > self.best if self.maximise else v < self.best)):
            self.best = float(v)
            self.best_cfg = f"{rec.get('architecture')} {rec['config_id']} n={rec.get('n_train')}"
        self._maybe()

    def config_done(self, config_id: str | None = None) -> None:
        self.batch["configs_done"] += 1
        if config_id is not None:
            self.ended.append(config_id)
        self._maybe()

    def _maybe(self) -> None:
        if time.perf_counter() - self.last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if any(self.batch.values()):
            out = dict(self.batch, fits=self.fits, ended=self.ended)
            if self.best is not None:
                out.update(best=self.best, best_cfg=self.best_cfg)
            self.send(out)
        self._reset()
        self.last = time.perf_counter()


def run_rungs(cfg: dict, data: dict, rungs: list[int], task: str, ledger_path: str,
              events_dir: str | None, reporter: Reporter | None = None, trial_id: str = "",
              node_id: str = "", sink=None, referee=None, order: np.ndarray | None = None,
              limit_threads: bool = True, budget: TrialBudget | None = None) -> list[dict]:
    """Run the given rungs of one configuration; returns the records written.

    `sink` (sweep.recorder) takes the ledger records and TensorBoard scalars; by default
    this process writes them to `ledger_path` and `events_dir` itself. With a `referee`
    (sweep.referee), each rung's record goes to it instead: it appends the record and says
    whether the configuration goes on (early stopping). `order` is the training split's
    nested order for the configuration's seed (computed when not given), and
    `limit_threads` pins BLAS/OpenMP to the configuration's CPUs here (a trial running a
    pack pins them once for all of it instead). With a `budget`, a rung predicted to end past
    its deadline is not started, nor are the configuration's larger ones."""
    from .recorder import LocalSink

    sink = sink or LocalSink(ledger_path, events_dir)
    order = models.nested_order(data["y_train"], cfg["seed"]) if order is None else order
    threads = max(1, int(cfg.get("cpu", 1)))
    if limit_threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            return run_rungs(cfg, data, rungs, task, ledger_path, events_dir, reporter, trial_id, node_id,
                             sink, referee, order, limit_threads=False, budget=budget)
    if budget is not None and rungs and not budget.allows(cfg, rungs[0]):
        budget.skip(cfg, rungs, sink, trial_id, node_id)
        if reporter is not None:
            reporter.config_done(cfg["config_id"])
        return []
    hp = {"config_id": cfg["config_id"], "architecture": cfg["architecture"],
          "estimator": cfg["estimator"], "seed": cfg["seed"], "scale": cfg["scale"], **cfg["params"]}
    tags = scalar_tags(task)
    sink.open(cfg["config_id"], hp, tags)
    out: list[dict] = []
    guard = _TimeLimit(cfg, sink, trial_id, node_id)
    stopped = False
    try:
        for n in rungs:
            if budget is not None and out and not budget.allows(cfg, n):
                budget.skip(cfg, [k for k in rungs if k >= n], sink, trial_id, node_id)
                break  # past the deadline
            guard.rung = int(n)
            rec = _fit_with_retries(cfg, data, order[:n], task, threads)
            if budget is not None:
                budget.spent(cfg, rec)
            rec.update(trial_id=trial_id, node_id=node_id)
            with guard.lock:
                if guard.fired:
                    break
                if referee is not None:
                    import ray
                    decision = ray.get(referee.report.remote(rec))  # written, then judged
                    stopped = rec["status"] == "ok" and not decision["go_on"] and decision["next_rung"] is not None
                else:
                    sink.append(rec)  # written before anything else
            out.append(rec)
            if rec["status"] == "ok":
                later = [k for k in rungs if k > n]
                shown = {k: rec[k] for k in tags} | {k: rec[k] for k in _intervals(cfg) if rec.get(k) is not None}
                sink.rung(n, shown, later[0] if later else None)
            if reporter is not None:
                reporter.rung(rec, stopped)
            if rec["status"] != "ok" or stopped:
                break  # larger samples of a configuration that failed or was stopped are not tried
    finally:
        guard.cancel()
        sink.close(ok=bool(out) and all(r["status"] == "ok" for r in out), stopped=stopped)
    if reporter is not None:
        reporter.config_done(cfg["config_id"])
    return out


def _intervals(cfg: dict) -> tuple[str, ...]:
    """The 95% half-widths written to TensorBoard beside the scalars (sweep.pair records them)."""
    return ("train_time_s_ci",) + ((f"val_{cfg['metric']}_ci",) if cfg.get("metric") else ())


class _TimeLimit:
    """A configuration's time limit (all its rungs). Python cannot stop a running fit, so when
    the limit passes, a `timed_out` record for the running rung is written and fsynced and this
    trial's process ends; Tune restarts the trial, which skips every recorded pair."""

    def __init__(self, cfg: dict, sink, trial_id: str, node_id: str):
        import threading

        self.cfg, self.sink, self.trial_id, self.node_id = cfg, sink, trial_id, node_id
        self.lock = threading.Lock()
        self.fired = False
        self.rung = 0
        self.t0 = time.perf_counter()
        limit = cfg.get("time_limit_s")
        self.timer = threading.Timer(limit, self._fire) if limit else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            self.fired = True
            cfg = self.cfg
            rec = ledger.pair_record(
                cfg, self.rung, "timed_out",
                error=f"time limit of {cfg['time_limit_s']:g} s per configuration passed "
                      f"(after {time.perf_counter() - self.t0:.1f} s)",
                trial_id=self.trial_id, node_id=self.node_id, pid=os.getpid())
            try:
                self.sink.append(rec)
                self.sink.sync()  # on disk (here, or through the Recorder) before the process ends
                self.sink.close(ok=False)
            finally:
                os._exit(75)  # the fit cannot be interrupted: end the process (Tune restarts the trial)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _fit_with_retries(cfg: dict, data: dict, idx: np.ndarray, task: str, threads: int) -> dict:
    """A fit that raises is tried again, up to the space's max_failures times."""
    tries = 1 + max(0, int(cfg.get("max_failures", 1)))
    for attempt in range(1, tries + 1):
        rec = fit_one(cfg, data, idx, task, threads)
        rec["attempts"] = attempt
        if rec["status"] == "ok":
            break
    return rec


def tune_trainable(tune_config: dict, *, data: dict, plan: dict, task: str, ledger_path: str,
                   events_dir: str | None, recorder=None, driver_node: str = "", referee=None,
                   column: str | None = None, maximise: bool = True, deadline: float | None = None) -> None:
    """Entry point given to Tune (via tune.with_parameters: data by reference). A trial runs
    one configuration, or a pack of cheap ones one after another, each with its own
    config_id, ledger records and TensorBoard run. On a node other than the driver's, the
    records go through the Recorder actor (sweep.recorder).

    Per trial, once: what the ledger already holds for the pack (a restarted trial skips
    it), the thread limits, and each seed's nested order; progress goes to Tune in batches
    (Reporter); this trial's ledger records are fsynced before it returns (with a Referee,
    the Referee writes them and fsyncs them in groups, and before it is stopped)."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")  # what Tune's runtime_env set (sweep.runner)
    import ray
    from ray import tune
    from threadpoolctl import threadpool_limits

    from .recorder import sink_for

    trial_id = tune.get_context().get_trial_id() or ""
    node_id = ray.get_runtime_context().get_node_id()
    items = plan[tune_config["trial"]]
    sink = sink_for(node_id, driver_node, recorder, ledger_path, events_dir)
    held = sink.recorded_index([it["config"]["config_id"] for it in items])
    reporter = Reporter(tune.report, column, maximise)
    orders: dict[int, np.ndarray] = {}
    budget = TrialBudget(deadline) if deadline is not None else None
    threads = max(1, int(items[0]["config"].get("cpu", 1))) if items else 1  # a pack shares one shape
    try:
        with threadpool_limits(limits=threads):
            for item in items:
                cfg = item["config"]
                recorded = held.get(cfg["config_id"], {})
                if any(status != "ok" for status in recorded.values()):
                    continue  # failed, timed out or stopped before: final
                todo = [n for n in item["rungs"] if n not in recorded]
                if not todo:
                    continue
                if cfg["seed"] not in orders:
                    orders[cfg["seed"]] = models.nested_order(data["y_train"], cfg["seed"])
                run_rungs(cfg, data, todo, task, ledger_path, events_dir, reporter, trial_id=trial_id,
                          node_id=node_id, sink=sink, referee=referee, order=orders[cfg["seed"]],
                          limit_threads=False, budget=budget)
    except BaseException:
        try:
            sink.sync()  # what was written, on disk; the trial's own error is what goes on
        except Exception:
            pass
        raise
    sink.sync()
    reporter.flush()
