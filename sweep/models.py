"""Import path → estimator; parameter names checked against get_params(); the pipeline.

Preprocessing (imputation, categorical encoding, standardisation when `scale: true`)
lives inside the pipeline, so it is fit on the training subsample only.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin  # LabelEncoded's bases (defined at import)

from .errors import ConfigError, printable


# Packages whose estimators a spec may name without `allow: {modules: [...]}` in the space.
DEFAULT_MODULES = ("sklearn", "lightgbm", "xgboost", "sweep.testing")
# A hyperparameter whose string value names a file: by its name, or by a value that looks like a path.
_PATH_NAME = re.compile(r"(^|_)(memory|paths?|dirs?|directory|folder|files?|filename|cache|checkpoint|"
                        r"logdir|output|input|save|model_file)(_|$)", re.I)


def _in(module_name: str, packages) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in packages)


def check_estimator(import_path: str, allowed: tuple[str, ...] | list[str] = (), where: str = "") -> type:
    """The spec stage's gate for an estimator path: the module must come from an allowed
    package (DEFAULT_MODULES or `allowed`, the space's allow.modules) and be found before it
    is imported, so a spec cannot run other code by naming it; the class must be a
    scikit-learn estimator with `fit` and `predict`. Returns the class."""
    module_name, _, attr = import_path.rpartition(".")
    prefix = f"{where}: " if where else ""
    shown = printable(import_path)
    if not _in(module_name, DEFAULT_MODULES + tuple(allowed)):
        raise ConfigError(f"{prefix}estimator {shown!r} is not from scikit-learn, LightGBM, XGBoost or "
                          f"sweep.testing; a spec names code that sweep imports and runs, so other modules "
                          f"must be allowed by the space: add `allow: {{modules: [{printable(module_name)}]}}` "
                          "(docs/specs.md, Security model)")
    top = module_name.split(".", 1)[0]
    try:
        found = importlib.util.find_spec(module_name)  # imports its parent packages only (allowed ones)
    except (ImportError, ValueError):
        found = None
    if found is None:
        extra = _EXTRAS.get(top)
        if extra and importlib.util.find_spec(top) is None:
            raise ConfigError(f"{prefix}estimator {shown!r} needs the package {top!r}, which is not "
                              f"installed; install this project's [{extra}] extra: pip install -e '.[{extra}]' "
                              f"(or pip install 'sweep-frontier[{extra}]')")
        raise ConfigError(f"{prefix}estimator {shown!r}: no module {printable(module_name)!r} is installed; "
                          "check the import path, e.g. sklearn.ensemble.RandomForestClassifier")
    if not _in(module_name, allowed) and _shadowed(found):
        raise ConfigError(f"{prefix}estimator {shown!r}: {found.origin} in the working directory shadows the "
                          f"installed {top!r}; run sweep from another folder, or rename that file")
    cls = resolve(import_path, where)
    from sklearn.base import BaseEstimator

    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator) and callable(getattr(cls, "fit", None))
            and callable(getattr(cls, "predict", None))):
        raise ConfigError(f"{prefix}{shown!r} is not a scikit-learn estimator with fit and predict (a "
                          "classifier or regressor); name an estimator class such as "
                          "sklearn.ensemble.RandomForestClassifier")
    return cls


def _shadowed(found) -> bool:
    """Whether a default package was found in the working directory instead of installed
    (in site-packages, or sweep's own package run from its checkout)."""
    origin = getattr(found, "origin", None)
    if not origin:
        return False
    o = Path(origin).resolve()
    return (o.is_relative_to(Path.cwd().resolve()) and "site-packages" not in o.parts
            and not o.is_relative_to(Path(__file__).resolve().parent))


def resolve(import_path: str, where: str = "") -> type:
    """The estimator class named by `import_path` (imported). Call it on a path that
    `check_estimator` passed: the spec stage gates every path before a trial builds it."""
    module_name, _, attr = import_path.rpartition(".")
    prefix = f"{where}: " if where else ""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{prefix}estimator {printable(import_path)!r} cannot be imported ({exc}); "
                          "check the import path, e.g. sklearn.ensemble.RandomForestClassifier") from None
    cls = getattr(module, attr, None)
    if cls is None:
        near = difflib.get_close_matches(attr, [n for n in dir(module) if not n.startswith("_")], n=1)
        hint = f"; did you mean {module_name}.{near[0]}?" if near else "; check the class name"
        raise ConfigError(f"{prefix}estimator {printable(import_path)!r}: module {module_name!r} has no "
                          f"{printable(attr)!r}{hint}")
    return cls


def check_path_params(params: dict, grid: dict, allowed: tuple[str, ...] | list[str] = (), where: str = "") -> None:
    """Hyperparameters that name files (an estimator would read or write there, outside the
    run directory) are refused unless the space allows them (allow.path_params)."""
    prefix = f"{where}: " if where else ""
    values = {**{k: [v] for k, v in params.items()}, **grid}
    for name, vs in values.items():
        if name in allowed:
            continue
        for v in vs:
            if isinstance(v, str) and (_PATH_NAME.search(name) or "/" in v or "\\" in v or v.startswith(("~", "."))):
                raise ConfigError(f"{prefix}hyperparameter {name!r} = {printable(v)!r} names a path, where the "
                                  "estimator would read or write files outside the run directory; remove it, "
                                  f"or allow it with `allow: {{path_params: [{name}]}}` in the search space")


def check_params(cls: type, params: dict, import_path: str, where: str = "",
                 places: dict[str, str] | None = None) -> None:
    """Every hyperparameter must be one the estimator takes (per its get_params()); `places`
    gives a hyperparameter's own `where` (its file:line:column and key), else `where`."""
    try:
        accepted = set(cls().get_params(deep=False))
    except Exception as exc:  # an estimator that cannot be built with defaults
        raise ConfigError(f"{where}: estimator {import_path!r} cannot be created with default "
                          f"arguments ({type(exc).__name__}: {exc})") from None
    for name in params:
        if name not in accepted:
            at = (places or {}).get(name, where)
            prefix = f"{at}: " if at else ""
            near = difflib.get_close_matches(name, sorted(accepted), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"it takes: {', '.join(sorted(accepted))}"
            raise ConfigError(f"{prefix}{import_path} takes no hyperparameter {name!r}; {hint}")


@functools.lru_cache(maxsize=None)
def takes_seed(cls: type) -> bool:
    """Whether the estimator class takes `random_state` (asked once per class and process)."""
    try:
        return "random_state" in cls().get_params(deep=False)
    except Exception:
        return False


ENCODINGS = ("onehot", "ordinal", "native")
# Import-path prefixes of estimators that take categorical codes natively.
_NATIVE = ("sklearn.ensemble.HistGradientBoosting", "sklearn.ensemble._hist_gradient_boosting",
           "lightgbm.", "xgboost.")
_TREES = ("sklearn.tree.", "sklearn.ensemble.")
# Packages that come with an extra of this project: a missing one names the extra to install.
_EXTRAS = {"lightgbm": "boost", "xgboost": "boost"}


def default_encoding(import_path: str) -> str:
    """native where the estimator has it, ordinal codes for other tree models, else one-hot."""
    if import_path.startswith(_NATIVE):
        return "native"
    return "ordinal" if import_path.startswith(_TREES) else "onehot"


def check_encoding(import_path: str, encode: str | None, where: str = "") -> None:
    """`encode: native` only for estimators that take categorical codes natively."""
    prefix = f"{where}: " if where else ""
    if encode is not None and encode not in ENCODINGS:
        raise ConfigError(f"{prefix}encode must be one of {', '.join(ENCODINGS)}, but got {encode!r}")
    if encode == "native" and not import_path.startswith(_NATIVE):
        raise ConfigError(f"{prefix}encode: native, but {import_path} has no native categorical support "
                          "(HistGradientBoosting, LightGBM and XGBoost have); use onehot or ordinal")


def _family(import_path: str) -> str:
    return import_path.split(".", 1)[0]


def build(estimator: str, params: dict, seed: int, scale: bool, impute: bool = False,
          layout: list[dict] | None = None, encode: str | None = None, threads: int = 1) -> Any:
    """A fresh, unfitted estimator with its preprocessing, all fit on the training subsample only.

    Without categorical features (and one imputation strategy): a Pipeline with a median
    imputer first when `impute` (or any column of `layout` imputes) and a scaler when
    `scale`. With categorical features (`layout`, from DatasetSpec.feature_layout): a
    ColumnTransformer — categorical columns imputed as declared, then encoded (`encode`, or
    the estimator's default: native, ordinal or onehot), numeric columns imputed and scaled —
    in front of the estimator. Unknown categories (absent from the training subsample) get
    the encoder's unknown treatment: all zeros one-hot, -1 ordinal, missing natively.
    LightGBM and XGBoost get `n_jobs=threads` (they ignore threadpoolctl)."""
    cls = resolve(estimator)
    kwargs = dict(params)
    if takes_seed(cls):
        kwargs["random_state"] = seed
    family = _family(estimator)
    if family in ("lightgbm", "xgboost") and "n_jobs" not in kwargs:
        kwargs["n_jobs"] = max(1, int(threads))
    if family == "lightgbm" and "verbose" not in kwargs and "verbosity" not in kwargs:
        kwargs["verbose"] = -1
    layout = layout or []
    cats = [j for j, f in enumerate(layout) if f["kind"] == "categorical"]
    strategies = {f["impute"] for f in layout if f["kind"] == "numeric" and f["impute"]}
    if not cats and (len(strategies) <= 1 and strategies <= {"median"}):
        est = _labels_encoded(cls, estimator, kwargs)
        return _plain_pipeline(est, impute or bool(strategies), scale)
    mode = encode or default_encoding(estimator)
    pre = _column_transformer(layout, cats, mode, scale)
    fit_params: dict = {}
    n_cat = len(cats)
    if mode == "native" and n_cat:
        codes = list(range(n_cat))  # the transformer puts categorical columns first
        if estimator.startswith(_NATIVE[:2]) and "categorical_features" not in kwargs:
            kwargs["categorical_features"] = codes
        elif family == "xgboost" and "feature_types" not in kwargs:
            kwargs.update(feature_types=["c"] * n_cat + ["q"] * (len(layout) - n_cat), enable_categorical=True)
        elif family == "lightgbm":
            fit_params["categorical_feature"] = codes
    est = _labels_encoded(cls, estimator, kwargs)
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("preprocess", pre), ("model", est)])
    pipe._sweep_fit_params = {f"model__{k}": v for k, v in fit_params.items()}
    return pipe


def build_for(cfg: dict, threads: int = 1) -> Any:
    """build() from a trial's configuration dict (sweep.runner.configuration_dict)."""
    return build(cfg["estimator"], cfg["params"], cfg["seed"], cfg["scale"], cfg.get("impute", False),
                 cfg.get("features"), cfg.get("encode"), threads)


def fit(est, X, y) -> Any:
    """est.fit(X, y) with the fit-time arguments build() attached (LightGBM's categorical columns)."""
    return est.fit(X, y, **getattr(est, "_sweep_fit_params", {}))


def _plain_pipeline(est, impute: bool, scale: bool):
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


def _column_transformer(layout: list[dict], cats: list[int], mode: str, scale: bool):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    def encoder():
        if mode == "onehot":
            return OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if mode == "ordinal":
            return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                  encoded_missing_value=-1)
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)

    parts = []
    groups: dict[tuple, list[int]] = {}
    for j in cats:
        groups.setdefault(("categorical", layout[j]["impute"]), []).append(j)
    for j, f in enumerate(layout):
        if f["kind"] == "numeric":
            groups.setdefault(("numeric", f["impute"]), []).append(j)
    for (kind, strategy), columns in groups.items():
        steps = []
        if strategy == "missing_category":
            steps.append(SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True))
        elif strategy:
            steps.append(SimpleImputer(strategy=strategy, keep_empty_features=True))
        if kind == "categorical":
            steps.append(encoder())
        elif scale:
            steps.append(StandardScaler())
        parts.append((f"{kind}_{strategy or 'as_is'}", make_pipeline(*steps) if steps else "passthrough", columns))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0)


def _labels_encoded(cls: type, import_path: str, kwargs: dict):
    """XGBoost's classifiers take only labels 0..k-1: theirs are encoded (on the training
    subsample) and decoded again; every other estimator is built as it is."""
    est = cls(**kwargs)
    if _family(import_path) == "xgboost" and cls.__name__.endswith("Classifier"):
        return LabelEncoded(est)
    return est


class LabelEncoded(ClassifierMixin, BaseEstimator):
    """A classifier fit on label codes (LabelEncoder fit on its training labels), predicting labels."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        from sklearn.preprocessing import LabelEncoder

        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator.fit(X, self.encoder_.transform(y), **fit_params)
        return self

    def predict(self, X):
        return self.encoder_.inverse_transform(np.asarray(self.estimator.predict(X)).astype(int).ravel())

    def predict_proba(self, X):
        return self.estimator.predict_proba(X)


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
