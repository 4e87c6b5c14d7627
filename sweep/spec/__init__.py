"""YAML → validated, frozen spec objects (pydantic, unknown keys rejected)."""

from .dataset import Column, DatasetSpec, Dedup, Drift, Label, Rules, Source, Split, is_uri, load_dataset
from .space import (CLASSIFICATION_METRICS, METRIC_MAXIMISE, REGRESSION_METRICS, Architecture,
                    Pruning, Resources, SearchSpace, Smoke, load_space)
from .resolve import DEFAULT_SPACE, find_default, resolve_specs
from ._load import locate

__all__ = [
    "Column", "DatasetSpec", "Dedup", "Drift", "Label", "Rules", "Source", "Split", "is_uri", "load_dataset",
    "Architecture", "Pruning", "Resources", "SearchSpace", "Smoke", "load_space",
    "METRIC_MAXIMISE", "CLASSIFICATION_METRICS", "REGRESSION_METRICS",
    "DEFAULT_SPACE", "find_default", "resolve_specs", "locate",
]
