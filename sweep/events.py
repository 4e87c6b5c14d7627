"""TensorBoard event files: one run per configuration (scalars + HParams), one summary run.

Written from the trial side through tensorboardX's writer (no hand-made event format),
flushed at every rung so a live sweep can be watched. Tune's own loggers are off, so no
run is written twice.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

SUMMARY_RUN = "summary"


def tensorboardx():
    """tensorboardX, imported without PyTorch. Its writer module runs `import torch` (to take
    tensors) wherever torch is installed, which delays every trial process's first fit
    (benchmarks/README.md has the start-up figures). sweep writes Python floats and numpy
    images only, so torch is hidden for that one import; a torch already imported (by the
    user's estimator, say) is left as it is, and later imports of torch work as usual."""
    import importlib

    if "tensorboardX" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # `import torch` raises ImportError, which tensorboardX expects
        try:
            return importlib.import_module("tensorboardX")
        finally:
            del sys.modules["torch"]
    return importlib.import_module("tensorboardX")


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


class ConfigEvents:
    """The TensorBoard run of one configuration, under ROOT/<config_id>.

    At start it writes the HParams session-start record (every hyperparameter, searched or
    fixed, plus architecture, estimator and seed), so a running configuration shows up in
    the HParams table at once; its metrics there are the scalars' latest values, i.e. the
    largest completed rung. No experiment record is written per run: TensorBoard then
    builds the experiment from all sessions (the union of every architecture's
    hyperparameters) and picks up configurations that start later.
    """

    def __init__(self, root: str | Path, config_id: str, hparams: dict, metric_tags: list[str]):
        tensorboardx()
        from tensorboardX import SummaryWriter
        from tensorboardX.summary import hparams as hp_summary

        self.writer = SummaryWriter(logdir=str(Path(root) / config_id), flush_secs=3600)
        self._last_step = 0
        self.hparams = {k: hparam_value(v) for k, v in hparams.items()}
        _exp, ssi, _sei = hp_summary(self.hparams, {t: 0.0 for t in metric_tags})
        self.writer._get_file_writer().add_summary(ssi)
        self.writer.flush()

    def rung(self, step: int, values: dict[str, float]) -> None:
        self._last_step = int(step)
        for tag, v in values.items():
            if v is not None and math.isfinite(v):  # e.g. roc_auc of an estimator without probabilities
                self.writer.add_scalar(tag, float(v), global_step=int(step))
        self.writer.flush()

    def close(self, ok: bool = True, stopped: bool = False) -> None:
        """End the HParams session; its `outcome/stopped` metric (1: stopped early by the
        adaptive rule, 0: ran to its last rung or failed) is a column of the HParams table."""
        self.writer.add_scalar("outcome/stopped", 1.0 if stopped else 0.0, global_step=self._last_step)
        self.writer._get_file_writer().add_summary(_session_end(ok))
        self.writer.close()


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
