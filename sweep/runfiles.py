"""What a run directory's own files say, read back or summarised: RUN/spec.yaml through the
same loader and validation as spec files given by hand, the validation split's size from the
data report, and how the run's times were measured (the manifest's `timing`)."""

from __future__ import annotations

import pandas as pd

from .errors import ConfigError, printable
from .rundir import SPEC, RunDir
from .spec import DatasetSpec, SearchSpace
from .spec._load import read_yaml, validate


def read_run_spec(run: RunDir) -> tuple[dict, DatasetSpec, SearchSpace]:
    """RUN/spec.yaml through the same loader and validation as spec files given by hand (a
    run directory is input like any other): (the file's mapping, dataset, search space)."""
    spec_file = run / SPEC
    if not spec_file.exists():
        raise ConfigError(f"{spec_file}: missing, so the run's specs are unknown; run it again with "
                          "`sweep run SPACE --out NEW_DIR`")
    spec, node = read_yaml(spec_file)
    if not isinstance(spec, dict) or not {"dataset", "search_space"} <= set(spec):
        raise ConfigError(f"{spec_file}: damaged (no dataset and search_space mappings); restore it from a "
                          "copy, or start the run again with `sweep run SPACE --out NEW_DIR`")
    pruning = spec["search_space"].get("pruning") if isinstance(spec["search_space"], dict) else None
    if isinstance(pruning, dict) and "model" not in pruning:
        # written before #26, when the rule had no `model`: resume and replay the rule it ran with
        spec["search_space"] = {**spec["search_space"], "pruning": {**pruning, "model": "gains"}}
    ds = validate(DatasetSpec, spec["dataset"], spec_file, _child(node, "dataset"), "dataset spec")
    sp = validate(SearchSpace, spec["search_space"], spec_file, _child(node, "search_space"), "search space")
    repeats = spec.get("repeats")
    if repeats is not None and not (type(repeats) is int and 1 <= repeats <= 100):
        raise ConfigError(f"{spec_file}: key 'repeats' has invalid value {printable(repr(repeats))[:80]}: a whole "
                          "number from 1 to 100; restore the file from a copy")
    for key in ("smoke", "exhaustive"):
        if not isinstance(spec.get(key, False), bool):
            raise ConfigError(f"{spec_file}: key {key!r} must be true or false, but got "
                              f"{printable(repr(spec[key]))[:80]}; restore the file from a copy")
    return spec, ds, sp


def _child(node, key: str):
    """The YAML node under `key` of a mapping node (for line:column in errors), or None."""
    for k, v in getattr(node, "value", None) or []:
        if getattr(k, "value", None) == key:
            return v
    return None


def validation_rows(data_report: dict) -> int | None:
    """The validation split's size (what a record's validation rows are decoded with)."""
    try:
        return int(data_report["splits"]["validation"]["rows"])
    except (KeyError, TypeError, ValueError):
        return None


def timing_manifest(trials: pd.DataFrame) -> dict:
    """How the run's times were measured (sweep.timing), and the trial processes' noise: the
    median of their calibrations (each process timed a fixed small fit at its first pair)."""
    from . import timing

    noise = trials["noise_cv"].dropna() if "noise_cv" in trials else pd.Series(dtype=float)
    return {"estimate": "fastest", "floor_s": timing.FLOOR_S, "target_s": timing.TARGET_S,
            "max_timings": timing.MAX_TIMINGS, "timing_noise": timing.TIMING_NOISE, "noise_cv": round(float(noise.median()), 4) if len(noise) else None,
            "timings": int(trials["timings"].sum()) if "timings" in trials else None}
