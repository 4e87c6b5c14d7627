"""sweep: distributed hyperparameter sweeps on Ray — partitioned Parquet in, a Pareto
frontier of accuracy against training time out."""

__version__ = "0.1.0"

from .api import SweepResult, load, run  # noqa: E402
from .errors import ClusterError, ConfigError, DataError, SweepError  # noqa: E402

__all__ = ["run", "load", "SweepResult", "SweepError", "ConfigError", "DataError", "ClusterError",
           "__version__"]
