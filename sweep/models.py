"""Import path → estimator; parameter names checked against get_params(); the pipeline.

Preprocessing (standardisation when `scale: true`) lives inside the pipeline, so it is
fit on the training subsample only.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

import numpy as np

from .errors import ConfigError


def resolve(import_path: str, where: str = "") -> type:
    """The estimator class named by `import_path`, or a ConfigError saying why not."""
    module_name, _, attr = import_path.rpartition(".")
    prefix = f"{where}: " if where else ""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{prefix}estimator {import_path!r} cannot be imported ({exc}); "
                          "check the import path, e.g. sklearn.ensemble.RandomForestClassifier") from None
    cls = getattr(module, attr, None)
    if cls is None:
        near = difflib.get_close_matches(attr, [n for n in dir(module) if not n.startswith("_")], n=1)
        hint = f"; did you mean {module_name}.{near[0]}?" if near else "; check the class name"
        raise ConfigError(f"{prefix}estimator {import_path!r}: module {module_name!r} has no {attr!r}{hint}")
    if not (isinstance(cls, type) and hasattr(cls, "get_params") and hasattr(cls, "fit")):
        raise ConfigError(f"{prefix}{import_path!r} is not a scikit-learn-compatible estimator "
                          "(a class with fit and get_params); name an estimator class")
    return cls


def check_params(cls: type, params: dict, import_path: str, where: str = "") -> None:
    """Every hyperparameter must be one the estimator takes (per its get_params())."""
    try:
        accepted = set(cls().get_params(deep=False))
    except Exception as exc:  # an estimator that cannot be built with defaults
        raise ConfigError(f"{where}: estimator {import_path!r} cannot be created with default "
                          f"arguments ({type(exc).__name__}: {exc})") from None
    prefix = f"{where}: " if where else ""
    for name in params:
        if name not in accepted:
            near = difflib.get_close_matches(name, sorted(accepted), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"it takes: {', '.join(sorted(accepted))}"
            raise ConfigError(f"{prefix}{import_path} takes no hyperparameter {name!r}; {hint}")


def takes_seed(cls: type) -> bool:
    try:
        return "random_state" in cls().get_params(deep=False)
    except Exception:
        return False


def build(estimator: str, params: dict, seed: int, scale: bool, impute: bool = False) -> Any:
    """A fresh, unfitted estimator: a Pipeline with a median imputer first when `impute`
    and a scaler when `scale` (both fit on the training subsample only)."""
    cls = resolve(estimator)
    kwargs = dict(params)
    if takes_seed(cls):
        kwargs["random_state"] = seed
    est = cls(**kwargs)
    steps = []
    if impute:
        from sklearn.impute import SimpleImputer
        steps.append(SimpleImputer(strategy="median", keep_empty_features=True))
    if scale:
        from sklearn.preprocessing import StandardScaler
        steps.append(StandardScaler())
    if not steps:
        return est
    from sklearn.pipeline import make_pipeline
    return make_pipeline(*steps, est)


def probabilities(est, X) -> tuple:
    """(class probabilities, classes) when the estimator gives them, else (None, None)."""
    try:
        proba = est.predict_proba(X)
    except (AttributeError, NotImplementedError):
        return None, None
    return proba, getattr(est, "classes_", None)


def nested_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of range(len(y)) whose every prefix is stratified by y (nested samples).

    Within each class the rows are shuffled (seeded). Then, position by position, the
    class furthest behind its share (k * class_size / n - taken so far) gives its next
    row, so every prefix holds each class within one row of its proportion, and the
    first n rows of the order form the sample of size n: each smaller rung's sample is
    contained in every larger one.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    if y.dtype.kind == "f" and len(np.unique(y)) > 20:
        # a continuous target: stratify by its deciles instead of its values
        edges = np.unique(np.quantile(y, np.linspace(0, 1, 11)[1:-1]))
        y = np.searchsorted(edges, y, side="right")
    classes, inverse = np.unique(y, return_inverse=True)
    pools = [np.flatnonzero(inverse == c) for c in range(len(classes))]
    pools = [p[rng.permutation(len(p))] for p in pools]
    sizes = np.array([len(p) for p in pools], dtype=np.float64)
    n = len(y)
    share = sizes / max(n, 1)
    taken = np.zeros(len(pools), dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    for k in range(n):
        deficit = (k + 1) * share - taken
        deficit[taken >= sizes] = -np.inf
        c = int(np.argmax(deficit))
        order[k] = pools[c][taken[c]]
        taken[c] += 1
    return order
