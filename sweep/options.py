"""How a run executes, apart from what it sweeps: one object for `sweep.run`, `resume`,
`extend` and `plan`, checked once, before the specs and before any work.

The entry points take these as keyword arguments (`sweep.run(space, address=..., num_cpus=2)`)
and build one `Options`; the stages read its fields instead of parameter lists threaded by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ConfigError


@dataclass(frozen=True)
class Options:
    address: str | None = None              # an existing cluster (HOST:PORT, ray://, auto); None: the warm
                                             # runtime of `sweep up` when it is there, else a new local Ray
    cold: bool = False                       # a new local Ray even when `sweep up` is running
    num_cpus: int | None = None              # CPUs of the new local Ray (not with `address`)
    max_concurrent: int | None = None        # trials at once (default: as many as the CPUs allow)
    connect_timeout_s: float = 30.0          # how long `address` may take to answer
    insecure: bool = False                   # allow a non-loopback address without TLS
    storage: str | None = None               # a URI that receives a copy of the run directory
    time_budget_s: float | None = None       # the whole run within this many seconds (run, resume)
    started_at: float | None = None          # epoch seconds the budget counts from (None: now)
    argv: list[str] | None = None            # the command line, for the manifest
    echo: Callable[..., Any] = print         # where the stages' lines go
    progress_stream: Any = None              # where the live progress line goes (default stderr)
    warm: bool = field(default=False, init=False)   # set below: the run uses `sweep up`'s Ray

    def __post_init__(self):
        from .connect import check_transport

        if self.started_at is None:
            object.__setattr__(self, "started_at", time.time())
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ConfigError(f"--time-budget must be a positive duration, but got {self.time_budget_s!r} s")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ConfigError(f"--max-concurrent must be >= 1, but got {self.max_concurrent}")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ConfigError(f"--num-cpus must be >= 1, but got {self.num_cpus}")
        if not self.connect_timeout_s > 0:
            raise ConfigError(f"--connect-timeout must be > 0 seconds, but got {self.connect_timeout_s}")
        check_transport(self.address, self.insecure)
        from .runtime import warm_address

        address = warm_address(self.address, self.num_cpus, self.cold)
        if address != self.address:   # the warm runtime: its CPUs are the ones --num-cpus named
            object.__setattr__(self, "address", address)
            object.__setattr__(self, "num_cpus", None)
            object.__setattr__(self, "warm", True)

    def refuse(self, what: str, **fields: str) -> None:
        """ConfigError for a field `what` does not take (field name → the fix), when it is set."""
        for name, fix in fields.items():
            if getattr(self, name) is not None:
                raise ConfigError(f"{what} takes no {name}; {fix}")
