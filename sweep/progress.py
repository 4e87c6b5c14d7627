"""The live progress line of a run's trial phase: done / running / failed, the best so far,
and the time left (sweep.forecast.Eta), fed from Tune's callbacks (sweep.runner)."""

from __future__ import annotations

import os
import sys
import time

from .metrics import Objective


class Progress:
    """A live progress line (done / running / failed, best so far, time left) fed from Tune's
    callbacks. With an `eta` (sweep.forecast.Eta), the line ends with the estimated time to
    the run's exit, refined by every batch of fits; with `events` (sweep.events.EtaEvents),
    the same estimate goes to TensorBoard's summary run."""

    ETA_EVERY_S = 1.0  # how often the estimate is recomputed (and written to TensorBoard)
    # how often a line is printed when the stream is not a terminal (SWEEP_PROGRESS_EVERY_S)
    PRINT_EVERY_S = float(os.environ.get("SWEEP_PROGRESS_EVERY_S", "5"))

    def __init__(self, total_configs: int, total_rungs: int, objective: Objective, stream=None,
                 eta=None, cores: int = 1, events=None):
        self.total_configs, self.total_rungs = total_configs, total_rungs
        self.eta, self.cores, self.events = eta, cores, events
        self.eta_s: float | None = None
        self._eta_at = -1e9
        self.metric, self.maximise = objective.metric, objective.maximise
        self.stream = stream or sys.stderr
        self.rungs = self.configs_done = self.failed = self.running = self.stopped = 0
        self.best: float | None = None
        self.best_cfg = ""
        self.t0 = time.perf_counter()
        self._last = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __getstate__(self):  # Tune pickles callbacks into its state: the stream stays behind
        state = self.__dict__.copy()
        state["stream"] = None
        state["events"] = None
        return state

    def result(self, result: dict) -> None:
        """A trial's batch of progress (sweep.trainable.Reporter): counts since its last one."""
        self.rungs += int(result.get("rungs", 0))
        self.failed += int(result.get("failed", 0))
        self.stopped += int(result.get("stopped", 0))
        self.configs_done += int(result.get("configs_done", 0))
        if self.eta is not None and (result.get("fits") or result.get("ended")):
            try:
                self.eta.observe(time.perf_counter(), result.get("fits") or [], result.get("ended") or [])
            except Exception as exc:  # an estimate must never stop a run
                print(f"warning: no ETA ({type(exc).__name__}: {exc})", file=sys.stderr)
                self.eta = self.eta_s = None
        v = result.get("best")
        if v is not None and (self.best is None or (v > self.best if self.maximise else v < self.best)):
            self.best, self.best_cfg = v, result.get("best_cfg", "")
        self.show()

    def line(self) -> str:
        best = f"best val_{self.metric} {self.best:.4f} ({self.best_cfg})" if self.best is not None else "no result yet"
        return (f"[{time.perf_counter() - self.t0:6.1f}s] rungs {self.rungs}/{self.total_rungs} | "
                f"configs done {self.configs_done}/{self.total_configs}, trials running {self.running}, "
                f"failed {self.failed}" + (f", stopped early {self.stopped}" if self.stopped else "")
                + (f" | ETA {format_s(self.eta_s)}" if self.eta_s is not None else "") + f" | {best}")

    def _update_eta(self, now: float) -> None:
        if self.eta is None or now - self._eta_at < self.ETA_EVERY_S:
            return
        self._eta_at = now
        try:
            self.eta_s = self.eta.remaining_s(now, self.cores)
        except Exception as exc:  # an estimate must never stop a run
            print(f"warning: no ETA ({type(exc).__name__}: {exc})", file=sys.stderr)
            self.eta = self.eta_s = None
            return
        if self.events is not None:
            try:
                self.events.add(self.rungs, self.eta_s, self.rungs)
            except OSError:
                self.events = None  # best effort, like every event file

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        self._update_eta(now)
        if self.stream is None:
            return
        if self.tty:
            self.stream.write("\r" + self.line()[:160].ljust(160))
            self.stream.flush()
        elif force or now - self._last >= self.PRINT_EVERY_S:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now

    def end(self) -> None:
        self._eta_at = -1e9
        self._update_eta(time.perf_counter())  # the last estimate, written too
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.tty and self.stream is not None:
            self.stream.write("\n")
        self.show(force=not self.tty)


def format_s(seconds: float) -> str:
    """12s, 4m05s, 2h03m: a duration for a progress line."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
