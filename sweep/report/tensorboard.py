"""The TensorBoard `summary` run of a finished sweep: the frontier table, pareto.png, drift's
advice and PSI per column (sweep.events writes it)."""

from __future__ import annotations

import json

import pandas as pd

from ..drift import DRIFT_FILE
from ..events import write_summary
from ..metrics import Objective
from ..rundir import PARETO_PNG, RunDir
from . import drift_advice
from .tables import frontier_rows, markdown_table


def tensorboard_summary(run: RunDir, front: pd.DataFrame, objective: Objective) -> None:
    """The TensorBoard `summary` run: the frontier table, pareto.png, drift's advice and PSI."""
    text, psi = None, None
    drift_file = run / DRIFT_FILE
    if drift_file.exists():
        result = json.loads(drift_file.read_text())
        text = drift_advice(run.path, front, objective) or "No drift over the thresholds."
        psi = {}
        for c in result["comparisons"]:
            if c["comparison"] == "consecutive" and c["psi"] is not None:
                psi.setdefault(c["column"], []).append((c["cur"], c["psi"]))
    write_summary(run.tensorboard, markdown_table(frontier_rows(front, objective.metric, objective.time_axis)),
                  run / PARETO_PNG, text, psi)
