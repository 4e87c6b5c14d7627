"""Which spec files a command means: the search space given (or the default one), and its
dataset (`--dataset`, else the space's `dataset:` key, relative to the space's file).

Both are loaded and validated here, and the space's metric is checked against the
dataset's task, so every later stage receives specs that fit together."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .dataset import DatasetSpec, load_dataset
from .space import SearchSpace, load_space

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_SPACE = "search_spaces/default.yaml"


def find_default(rel: str) -> Path:
    """`rel` under the working directory, else under the repository (a checkout's defaults)."""
    for base in (Path.cwd(), REPO_ROOT):
        if (base / rel).exists():
            return base / rel
    raise ConfigError(f"{rel}: not found in {Path.cwd()} or {REPO_ROOT}; give the search space's path")


def resolve_specs(space: str | Path | None, dataset: str | Path | None) -> tuple[Path, SearchSpace, Path, DatasetSpec]:
    """(space path, space, dataset path, dataset): loaded, validated, and checked together."""
    space_path = Path(space) if space else find_default(DEFAULT_SPACE)
    sp = load_space(space_path)
    if dataset:
        ds_path = Path(dataset)
    elif sp.dataset:
        ds_path = (space_path.resolve().parent / sp.dataset)
    else:
        raise ConfigError(f"{space_path}: no dataset given; pass --dataset DATASET.yaml or add "
                          "'dataset: path/to/dataset.yaml' to the search space")
    ds = load_dataset(ds_path)
    try:
        sp.check_task(ds.task)
    except ValueError as exc:
        raise ConfigError(f"{space_path}: {exc} (dataset {ds_path} is {ds.task})") from None
    return space_path, sp, ds_path, ds
