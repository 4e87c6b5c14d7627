"""Where a trial's durable record and TensorBoard scalars go.

A trial on the driver's node writes the run directory itself (each ledger record is
written before the rung is reported, and fsynced in groups: sweep.ledger.Appender). A trial
on another node of a cluster cannot see the driver's disk, so it sends the same writes to
one `Recorder` actor pinned to the driver's node, and waits for each ledger append before
it reports. Either way there is one
ledger per run, on the driver's disk (docs/design.md: the ledger is the source of truth).
"""

from __future__ import annotations

from . import ledger


class LocalSink:
    """Writes from the trial's own process. The ledger append must succeed (LedgerError stops
    the run); TensorBoard events are best effort: a failed write is reported once, never fatal."""

    def __init__(self, ledger_path: str, events_dir: str | None):
        self.ledger_path, self.events_dir = ledger_path, events_dir
        self.writer = None

    def _events(self, fn, *args) -> None:
        try:
            fn(*args)
        except OSError as exc:
            import sys
            print(f"warning: TensorBoard events not written ({exc}); the ledger is unaffected",
                  file=sys.stderr)
            self.writer = None

    def open(self, config_id: str, hparams: dict, tags: list[str]) -> None:
        if self.events_dir:
            from .events import ConfigEvents

            def make():
                self.writer = ConfigEvents(self.events_dir, config_id, hparams, tags)
            self._events(make)

    def append(self, rec: dict) -> None:
        ledger.appender(self.ledger_path).append(rec)

    def recorded_index(self, config_ids) -> dict[str, dict[int, str]]:
        return ledger.index(self.ledger_path, config_ids)

    def sync(self) -> None:
        ledger.appender(self.ledger_path).sync()

    def rung(self, n: int, values: dict, next_n: int | None = None) -> None:
        if self.writer is not None:
            self._events(self.writer.rung, n, values, next_n)

    def close(self, ok: bool, stopped: bool = False) -> None:
        if self.writer is not None:
            self._events(self.writer.close, ok, stopped)
            self.writer = None


class RemoteSink:
    """The same writes, done by the Recorder actor on the driver's node."""

    def __init__(self, recorder, ledger_path: str, events_dir: str | None):
        self.recorder, self.ledger_path, self.events_dir = recorder, ledger_path, events_dir
        self.config_id = ""

    def open(self, config_id: str, hparams: dict, tags: list[str]) -> None:
        import ray

        self.config_id = config_id
        if self.events_dir:
            ray.get(self.recorder.open.remote(self.events_dir, config_id, hparams, tags))

    def append(self, rec: dict) -> None:
        import ray

        ray.get(self.recorder.append.remote(self.ledger_path, rec))  # written before reporting

    def recorded_index(self, config_ids) -> dict[str, dict[int, str]]:
        import ray

        return ray.get(self.recorder.recorded_index.remote(self.ledger_path, list(config_ids)))

    def sync(self) -> None:
        import ray

        ray.get(self.recorder.sync.remote(self.ledger_path))

    def rung(self, n: int, values: dict, next_n: int | None = None) -> None:
        if self.events_dir:
            self.recorder.rung.remote(self.config_id, n, values, next_n)

    def close(self, ok: bool, stopped: bool = False) -> None:
        import ray

        if self.events_dir:
            ray.get(self.recorder.close.remote(self.config_id, ok, stopped))


class Recorder:
    """Actor body: appends ledger records and writes TensorBoard runs on the driver's disk."""

    def __init__(self):
        self.writers: dict = {}

    def append(self, ledger_path: str, rec: dict) -> bool:
        ledger.appender(ledger_path).append(rec)
        return True

    def recorded_index(self, ledger_path: str, config_ids: list[str]) -> dict[str, dict[int, str]]:
        return ledger.index(ledger_path, config_ids)

    def sync(self, ledger_path: str) -> bool:
        ledger.appender(ledger_path).sync()
        return True

    def open(self, events_dir: str, config_id: str, hparams: dict, tags: list[str]) -> bool:
        from .events import ConfigEvents
        self.writers[config_id] = ConfigEvents(events_dir, config_id, hparams, tags)
        return True

    def rung(self, config_id: str, n: int, values: dict, next_n: int | None = None) -> None:
        if config_id in self.writers:
            self._events(config_id, self.writers[config_id].rung, n, values, next_n)

    def close(self, config_id: str, ok: bool, stopped: bool = False) -> bool:
        w = self.writers.pop(config_id, None)
        if w is not None:
            self._events(config_id, w.close, ok, stopped)
        return True

    def _events(self, config_id: str, fn, *args) -> None:
        """TensorBoard writes are best effort here too: a failure is said, never fatal."""
        try:
            fn(*args)
        except OSError as exc:
            import sys
            print(f"warning: TensorBoard events of {config_id} not written ({exc}); the ledger is unaffected",
                  file=sys.stderr)
            self.writers.pop(config_id, None)


def start_recorder():
    """A Recorder on this (the driver's) node when the cluster has other nodes, else None."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = [n for n in ray.nodes() if n.get("Alive")]
    if len(alive) <= 1:
        return None
    here = ray.get_runtime_context().get_node_id()
    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Recorder).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False)).remote()


def sink_for(node_id: str, driver_node: str, recorder, ledger_path: str, events_dir: str | None):
    if recorder is not None and node_id != driver_node:
        return RemoteSink(recorder, ledger_path, events_dir)
    return LocalSink(ledger_path, events_dir)
