"""TensorBoard event files: one run per configuration (scalars + HParams), one summary run.

Written from the trial side through tensorboardX's record writer and summaries (no
hand-made event format): a cheap configuration's run in one write when it ends, an
expensive one's at every rung, so a live sweep can be watched. Tune's own loggers are off, so no
run is written twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .compat import flush_to_os

SUMMARY_RUN = "summary"


def tensorboardx():
    """tensorboardX, imported without PyTorch. Its writer module runs `import torch` (to take
    tensors) wherever torch is installed, which delays every trial process's first fit
    (benchmarks/README.md has the start-up figures). sweep writes Python floats and numpy
    images only, so torch is hidden for that one import; a torch already imported (by the
    user's estimator, say) is left as it is, and later imports of torch work as usual."""
    from .compat import import_without_torch

    return import_without_torch("tensorboardX")


def hparam_value(value: Any) -> str | float | bool:
    """HParams take str, number or bool: render None, tuples and lists readably, never drop."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)


# A configuration's events are held in memory until it ends or has run this long: a cheap
# configuration's run is then one file written once, an expensive one's shows each rung live.
HOLD_S = 1.0


class ConfigEvents:
    """The TensorBoard run of one configuration, under ROOT/<config_id>.

    It starts with the HParams session-start record (every hyperparameter, searched or
    fixed, plus architecture, estimator and seed); its metrics there are the scalars'
    latest values, i.e. the largest completed rung. No experiment record is written per
    run: TensorBoard then builds the experiment from all sessions (the union of every
    architecture's hyperparameters) and picks up configurations that start later.

    The events go through tensorboardX's record writer, synchronously: SummaryWriter's
    background thread, its start-up and an fsync per flush would cost more than a rung's
    fit on a cheap model. They are held while the configuration has run, and is expected
    to run to its next rung, under HOLD_S; from then on they are written at each rung (a
    running sweep shows an expensive configuration's rungs as they finish), without an
    fsync: events are best effort, the ledger is the durable record.
    """

    def __init__(self, root: str | Path, config_id: str, hparams: dict, metric_tags: list[str]):
        tensorboardx()
        import time

        from tensorboardX.summary import hparams as hp_summary

        self.path = Path(root) / config_id
        self.t0 = time.perf_counter()
        self.records = None  # the RecordWriter, once the file is opened
        self.held: list[bytes] = [self._event(file_version="brain.Event:2")]
        self._last_step = 0
        self.hparams = {k: hparam_value(v) for k, v in hparams.items()}
        _exp, ssi, _sei = hp_summary(self.hparams, {t: 0.0 for t in metric_tags})
        self._write(ssi, 0)

    @staticmethod
    def _event(summary=None, step: int = 0, file_version: str | None = None) -> bytes:
        import time

        from tensorboardX.proto.event_pb2 import Event

        if file_version is not None:
            return Event(wall_time=time.time(), file_version=file_version).SerializeToString()
        return Event(summary=summary, wall_time=time.time(), step=int(step)).SerializeToString()

    def _write(self, summary, step: int) -> None:
        self.held.append(self._event(summary, step))

    def _flush(self, force: bool = False, next_step: int | None = None, step: int = 0) -> None:
        import time

        elapsed = time.perf_counter() - self.t0
        # the next rung, if any, is expected to take about (next / this) x what this one took
        expected = elapsed * (next_step / step) if next_step and step else elapsed
        if not force and self.records is None and max(elapsed, expected) < HOLD_S:
            return
        if self.records is None:
            import socket

            from tensorboardX.record_writer import RecordWriter

            self.path.mkdir(parents=True, exist_ok=True)
            self.records = RecordWriter(str(self.path / f"events.out.tfevents.{int(time.time())}."
                                                         f"{socket.gethostname()}"))
        for data in self.held:
            self.records.write(data)
        self.held = []
        flush_to_os(self.records)  # to the OS (RecordWriter.flush would also fsync)

    def rung(self, step: int, values: dict[str, float], next_step: int | None = None) -> None:
        """The scalars of a finished rung; `next_step`, the configuration's next rung, lets a
        cheap first rung be shown at once when the next one will end past HOLD_S."""
        from tensorboardX.summary import scalar

        self._last_step = int(step)
        for tag, v in values.items():
            if v is not None and math.isfinite(v):  # e.g. roc_auc of an estimator without probabilities
                self._write(scalar(tag, float(v)), step)
        self._flush(next_step=next_step, step=int(step))

    def close(self, ok: bool = True, stopped: bool = False) -> None:
        """End the HParams session; its `outcome/stopped` metric (1: stopped early by the
        adaptive rule, 0: ran to its last rung or failed) is a column of the HParams table."""
        from tensorboardX.summary import scalar

        self._write(scalar("outcome/stopped", 1.0 if stopped else 0.0), self._last_step)
        self._write(_session_end(ok), self._last_step)
        try:
            self._flush(force=True)
        finally:
            if self.records is not None:
                self.records.close()


def _session_end(ok: bool):
    tensorboardx()
    from tensorboardX.proto.api_pb2 import Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    sei = SessionEndInfo(status=Status.Value("STATUS_SUCCESS" if ok else "STATUS_FAILURE"))
    content = HParamsPluginData(session_end_info=sei, version=0)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="hparams", content=content.SerializeToString()))
    return Summary(value=[Summary.Value(tag="_hparams_/session_end_info", metadata=meta)])


def write_summary(root: str | Path, frontier_markdown: str, pareto_png: str | Path | None,
                  drift_text: str | None = None, drift_psi: dict[str, list[tuple[int, float]]] | None = None) -> None:
    """The run-level summary run: the frontier table as text, the Pareto plot as an image;
    with drift, its verdict as text and each column's PSI against the previous window as
    scalars `drift_psi/<column>` (step = the window's index)."""
    tensorboardx()
    from tensorboardX import SummaryWriter

    w = SummaryWriter(logdir=str(Path(root) / SUMMARY_RUN))
    w.add_text("frontier", frontier_markdown, global_step=0)
    if drift_text is not None:
        w.add_text("drift", drift_text, global_step=0)
    for column, points in (drift_psi or {}).items():
        for step, value in points:
            w.add_scalar(f"drift_psi/{column}", value, global_step=step)
    if pareto_png and Path(pareto_png).exists():
        import matplotlib.image as mpimg

        img = mpimg.imread(str(pareto_png))[..., :3]
        w.add_image("pareto", img, global_step=0, dataformats="HWC")
    w.close()


class EtaEvents:
    """The live ETA in the summary run: scalars `progress/eta_s` (seconds left to the run's
    exit) and `progress/fits_done`, step = fits done so far. Written as they change, through
    the record writer (no thread, no fsync: best effort, like every event file)."""

    def __init__(self, root: str | Path):
        tensorboardx()
        import socket
        import time

        from tensorboardX.record_writer import RecordWriter

        path = Path(root) / SUMMARY_RUN
        path.mkdir(parents=True, exist_ok=True)
        self.records = RecordWriter(str(path / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.eta"))
        self.records.write(ConfigEvents._event(file_version="brain.Event:2"))

    def add(self, step: int, eta_s: float | None, fits_done: int) -> None:
        from tensorboardX.summary import scalar

        if eta_s is not None and math.isfinite(eta_s):
            self.records.write(ConfigEvents._event(scalar("progress/eta_s", float(eta_s)), step))
        self.records.write(ConfigEvents._event(scalar("progress/fits_done", float(fits_done)), step))
        flush_to_os(self.records)

    def close(self) -> None:
        self.records.close()
