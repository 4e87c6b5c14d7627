"""sweep: distributed hyperparameter sweeps on Ray — partitioned Parquet in, a Pareto
frontier of accuracy against training time out.

The public names are imported on first use (PEP 562), so that a Ray worker importing
`sweep.trainable` does not pay for pandas, pydantic and the rest of the driver's API.
"""

__version__ = "0.1.0"

__all__ = ["run", "resume", "extend", "load", "data_drift", "SweepResult", "SweepError", "ConfigError", "DataError", "ClusterError",
           "__version__"]

_FROM = {"run": "api", "resume": "api", "extend": "api", "load": "api", "data_drift": "checks", "SweepResult": "api", "SweepError": "errors",
         "ConfigError": "errors", "DataError": "errors", "ClusterError": "errors"}


def __getattr__(name: str):
    if name in _FROM:
        import importlib

        return getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    raise AttributeError(f"module 'sweep' has no attribute {name!r}")
