"""The engine benchmark's split of sweep's trial phase (a pure function, no Ray)."""

import pytest

from conftest import REPO


def _engine():
    import importlib.util

    spec = importlib.util.spec_from_file_location("engine_bench", REPO / "benchmarks" / "engine.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_process_seconds_add_up_to_processes_times_wall():
    """The split of sweep's trial phase is a partition: per process, start-up + fits + gaps +
    end = the phase's wall, so the 'no start-up' bound rests on seconds that all exist."""
    started, wall = 1000.0, 10.0
    led = [  # pid 1: fits [2, 4] and [5, 8]; pid 2: one fit [3, 9.5]
        {"pid": 1, "finished_at_s": 1004.0, "train_time_s": 1.5, "predict_time_s": 0.5},
        {"pid": 1, "finished_at_s": 1008.0, "train_time_s": 2.5, "predict_time_s": 0.5},
        {"pid": 2, "finished_at_s": 1009.5, "train_time_s": 6.0, "predict_time_s": 0.5},
    ]
    got = _engine()._where_time_went(led, started, wall)
    assert got["n_processes"] == 2 and got["sweep_first_fit_s"] == pytest.approx(2.0)
    assert got["sweep_start_s"] == pytest.approx(2 + 3)
    assert got["sweep_fit_s"] == pytest.approx(2 + 3 + 6.5)
    assert got["sweep_between_s"] == pytest.approx(1.0)
    assert got["sweep_end_s"] == pytest.approx(2 + 0.5)
    total = sum(got[k] for k in ("sweep_start_s", "sweep_fit_s", "sweep_between_s", "sweep_end_s"))
    assert total == pytest.approx(got["n_processes"] * wall)
