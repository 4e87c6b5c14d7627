"""The live side of sweep.prune: one Ray actor on the driver's node that records each rung
and decides, in the order results arrive, whether its configuration goes on.

With `pruning: {policy: pareto}` every trial hands its rung's record to the Referee instead
of appending it itself: the Referee appends it to the ledger (written before it answers),
shows it to the Judge, and when the Judge stops the configuration, appends one `stopped`
record (keyed by the next rung, with `stopped_after` and the reason). The ledger's order is
therefore the Judge's arrival order, so a resumed or extended run rebuilds the same Judge by
replaying the ledger, and `sweep.prune.simulate` fed that order decides the same.
"""

from __future__ import annotations

from . import ledger
from .metrics import IDEAL
from .prune import Judge, Rule

STOPPED = "stopped"


def stop_record(rec: dict, next_rung: int, reason: str) -> dict:
    """The `stopped` record: keyed by the rung that will not be fitted, after `rec`'s rung."""
    return ledger.pair_record(rec, next_rung, STOPPED, stopped_after=int(rec["rung"]), reason=reason)


class Referee:
    """Actor body. `records` are the ledger's records so far, replayed in order: a stop the
    Judge makes there that the ledger lacks (the driver died between the two appends) is
    appended now."""

    def __init__(self, ladders: dict[str, list[int]], architectures: dict[str, str], maximise: bool,
                 rule: dict, metric: str, time_axis: str, ledger_path: str, records: list[dict]):
        self.judge = Judge(ladders, architectures, maximise, Rule(**rule), f"val_{metric}", IDEAL.get(metric))
        self.metric, self.time_axis, self.ledger_path = f"val_{metric}", time_axis, ledger_path
        self.ladders = ladders
        stopped = {r["config_id"] for r in records if r.get("status") == STOPPED}
        seen: set = set()
        for rec in records:
            key = (rec["config_id"], int(rec["rung"]))
            if rec.get("status") != "ok" or key in seen or rec["config_id"] not in ladders:
                continue
            seen.add(key)
            d = self._observe(rec)
            if not d["go_on"] and d["next_rung"] is not None and rec["config_id"] not in stopped:
                ledger.appender(ledger_path).append(stop_record(rec, d["next_rung"], d["reason"]))
                stopped.add(rec["config_id"])

    def _observe(self, rec: dict) -> dict:
        cid, n = rec["config_id"], int(rec["rung"])
        d = self.judge.observe(cid, n, _num(rec.get(self.metric)), _num(rec.get(self.time_axis)))
        later = [k for k in self.ladders[cid] if k > n]
        return {"go_on": d.go_on, "reason": d.reason, "next_rung": later[0] if later else None}

    def report(self, rec: dict) -> dict:
        """Append `rec` durably; for an ok rung, the Judge's decision (and its stop record)."""
        ledger.appender(self.ledger_path).append(rec)
        if rec.get("status") != "ok" or rec["config_id"] not in self.ladders:
            return {"go_on": False, "reason": "", "next_rung": None}
        d = self._observe(rec)
        if not d["go_on"] and d["next_rung"] is not None:
            ledger.appender(self.ledger_path).append(stop_record(rec, d["next_rung"], d["reason"]))
        return d


    def sync(self) -> bool:
        """Every record appended so far is on disk (before the actor is killed)."""
        ledger.appender(self.ledger_path).sync()
        return True


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def start_referee(ladders, architectures, maximise: bool, rule: dict, metric: str, time_axis: str,
                  ledger_path: str, records: list[dict]):
    """The Referee actor, pinned to this (the driver's) node; it has replayed `records` when this returns."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    actor = ray.remote(num_cpus=0, max_restarts=0)(Referee).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False)).remote(
        ladders, architectures, maximise, rule, metric, time_axis, ledger_path, records)
    ray.get(actor.__ray_ready__.remote())
    return actor
