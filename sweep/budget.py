"""A `--time-budget`, in the two shapes the run uses it: the driver's plan (`Deadline`:
the deadline rungs must end by and each pair's predicted seconds, made by
sweep.stages.budget from pilot fits and sweep.cost) and a trial's view of it
(`TrialBudget`: start a rung only when it is predicted to end in time, scaled by how this
trial's fits compared with their predictions). The forecast's budget arithmetic (the
minimum a budget needs, the post phase kept back) is sweep.forecast's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import ledger


@dataclass
class Deadline:
    """A --time-budget, planned: rungs start only when predicted to end before `deadline`."""

    seconds: float
    started_at: float                       # epoch seconds the run started
    deadline: float                         # epoch seconds: no rung may be predicted to end later
    cost_s: dict[str, dict[int, float]]     # predicted seconds per config_id and rung
    minimum_s: float


def wall_of(rec: dict) -> float:
    """The seconds a pair's measurement took (every timing and its predictions: `measure_s`;
    before the timing protocol, its one fit and prediction)."""
    if rec.get("measure_s") is not None:
        return float(rec["measure_s"])
    return float(rec.get("train_time_s") or 0.0) + float(rec.get("predict_time_s") or 0.0)


class TrialBudget:
    """A `--time-budget`'s deadline, as one trial sees it: a rung starts only when its
    predicted seconds (the configuration's `cost_s`, scaled by how this trial's fits have
    compared with their predictions so far) end before `deadline` (epoch seconds). A rung not
    started, and the configuration's larger ones, get a `skipped_budget` record (`skip`)."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.actual = self.predicted = 0.0

    def allows(self, cfg: dict, n: int) -> bool:
        predicted = float(cfg.get("cost_s", {}).get(n, 0.0))
        ratio = min(max(self.actual / self.predicted, 0.5), 3.0) if self.predicted > 0 else 1.0
        return time.time() + predicted * ratio <= self.deadline

    @staticmethod
    def skip(cfg: dict, rungs: list[int], sink, trial_id: str, node_id: str) -> None:
        for n in rungs:
            sink.append(ledger.pair_record(cfg, n, ledger.SKIPPED, error="not started: predicted to end "
                                           "past the time budget", trial_id=trial_id, node_id=node_id))

    def spent(self, cfg: dict, rec: dict) -> None:
        predicted = cfg.get("cost_s", {}).get(int(rec["n_train"]))
        if predicted and rec["status"] == "ok":
            self.predicted += float(predicted)
            self.actual += wall_of(rec)
