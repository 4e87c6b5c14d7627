"""The dataset spec: sources, canonical schema, label, de-duplication, split."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._load import load_model
from .names import check_name

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ColumnType = Literal["float", "int", "str", "bool"]
Scalar = Union[bool, int, float, str]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Frozen):
    """One input: a folder (or file) of Parquet, optionally hive-partitioned."""

    name: str
    path: str = Field(description="folder or file; relative paths are taken from the spec's folder")
    partitioning: Literal["hive", "none"] = "hive"
    rename: dict[str, str] = Field(default_factory=dict,
                                   description="source column name -> canonical column name")
    casts: dict[str, ColumnType] = Field(
        default_factory=dict, description="parse these (canonical) columns of this source as this "
        "type first, e.g. numbers stored as strings; a value that fails is quarantined")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("a source name must be letters, digits and _ (not starting with a digit)")
        return v


class Column(_Frozen):
    """A canonical column. `name` may hold a range, `pixel_{0..63}`, to declare many.

    A feature is categorical when it declares `categories` (type str, int or bool) or is a
    bool; a str feature must declare its categories (they are never learned from the data,
    so every split and every rung encodes a value the same way)."""

    name: str
    type: ColumnType
    role: Literal["feature", "metadata"] = "feature"
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: list[Scalar] | None = None
    missing: Literal["quarantine", "impute"] = Field(
        "quarantine", description="what a missing value gets: the row is quarantined, or the value "
        "is imputed in the model pipeline (fit on the training subsample only)")
    impute: Literal["median", "mean", "most_frequent", "missing_category"] | None = Field(
        None, description="with missing: impute — numeric: median (default) or mean; categorical: "
        "most_frequent (default) or missing_category (missing becomes a category of its own)")

    @model_validator(mode="after")
    def _check(self) -> "Column":
        if self.missing == "impute" and self.role != "feature":
            raise ValueError(f"missing: impute applies to feature columns only, but this column is a {self.role}")
        if self.impute is not None:
            if self.missing != "impute":
                raise ValueError(f"impute: {self.impute} needs missing: impute (now missing: {self.missing}); "
                                 "add missing: impute or remove impute")
            allowed = ("most_frequent", "missing_category") if self.is_categorical() else ("median", "mean")
            if self.impute not in allowed:
                kind = "categorical" if self.is_categorical() else "numeric"
                raise ValueError(f"impute: {self.impute} does not apply to a {kind} column; "
                                 f"choose one of {', '.join(allowed)}")
        if self.categories is not None:
            if self.type == "float":
                raise ValueError("categories apply to str, int or bool columns, but the type is 'float'; "
                                 "use type: int or str for a categorical column")
            if len(self.categories) == 0:
                raise ValueError("categories is an empty list; list the allowed values")
            if len({str(c) for c in self.categories}) != len(self.categories):
                raise ValueError(f"categories must be distinct, but got {self.categories}")
            want = {"str": str, "int": int, "bool": bool}[self.type]
            wrong = [c for c in self.categories
                     if not isinstance(c, want) or (want is int and isinstance(c, bool))]
            if wrong:
                raise ValueError(f"categories of a {self.type} column must be {self.type} values, but "
                                 f"{wrong[0]!r} is a {type(wrong[0]).__name__}"
                                 + ("; quote it in the YAML (yes, no, on, off read as booleans)"
                                    if self.type == "str" else ""))
        if self.role == "feature" and self.type == "str" and self.categories is None:
            raise ValueError("a str feature is categorical and needs its categories, e.g. "
                             "categories: [MALE, FEMALE] (values outside them are quarantined as "
                             "unknown_category), or role: metadata")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min must be <= max, but got min={self.min}, max={self.max}")
        if (self.min is not None or self.max is not None) and self.type in ("str", "bool"):
            raise ValueError(f"min/max apply to numeric columns, but the type is {self.type!r}")
        for n in self.names():
            if not _NAME.match(n):
                raise ValueError(f"column name {n!r} must be letters, digits and _ "
                                 "(a range is written pixel_{0..63})")
        return self

    def is_categorical(self) -> bool:
        return self.role == "feature" and (self.categories is not None or self.type == "bool")

    def category_values(self) -> list[Scalar]:
        """The declared categories in order (a bool column's are [False, True]): value i is code i."""
        if self.categories is not None:
            return list(self.categories)
        return [False, True] if self.type == "bool" else []

    def impute_strategy(self) -> str | None:
        if self.missing != "impute":
            return None
        return self.impute or ("most_frequent" if self.is_categorical() else "median")

    def names(self) -> list[str]:
        m = _RANGE.search(self.name)
        if not m:
            return [self.name]
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ValueError(f"column name {self.name!r}: range {{{lo}..{hi}}} is empty; write {{low..high}}")
        return [self.name[:m.start()] + str(i) + self.name[m.end():] for i in range(lo, hi + 1)]


class Label(_Frozen):
    column: str
    type: ColumnType = "int"
    values: list[Scalar] | None = Field(default=None, description="allowed classes (classification)")
    min: float | None = None
    max: float | None = None


class Dedup(_Frozen):
    exact: Literal["drop", "keep"] = "drop"
    conflicting: Literal["quarantine", "keep"] = "quarantine"


class Rules(_Frozen):
    """Data rules checked after cleaning; a failed rule is a warning, or exit 3 when fatal."""

    max_quarantined_fraction: float | None = Field(
        None, ge=0, le=1, description="per source: rows_quarantined / rows_read may not exceed this")
    min_rows_kept: int | None = Field(None, ge=0, description="rows kept over all sources")
    fatal: bool = True


class Split(_Frozen):
    method: Literal["stratified", "time", "group"] = "stratified"
    train: float = Field(0.6, gt=0, lt=1)
    validation: float = Field(0.2, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(0, ge=0, le=2**32 - 1, description="the split's seed (numpy and scikit-learn take < 2**32)")

    @model_validator(mode="after")
    def _sum(self) -> "Split":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + validation + test must be 1, but got {total:g}")
        return self


class Drift(_Frozen):
    """Drift profiling over time windows (needs `time`); the documented defaults are these."""

    windows: int | None = Field(
        None, ge=2, le=100, description="number of time windows; default: one per distinct time value "
        "(e.g. a time-like partition key) when there are at most 20, else 10 windows of about equal rows")
    alpha: float = Field(0.05, gt=0, lt=1, description="family-wise significance level after correction")
    correction: Literal["holm", "bonferroni", "benjamini-hochberg"] = Field(
        "holm", description="multiple-testing correction across every feature x window comparison")
    psi_bins: int = Field(10, ge=2, le=100, description="quantile bins of the reference window for PSI")
    psi_threshold: float = Field(0.1, ge=0, description="a comparison is flagged only when its PSI is at "
                                 "least this (and its corrected p-value is under alpha)")


class DatasetSpec(_Frozen):
    name: str = Field(description="letters, digits, _ . - (shown in reports and messages)")
    task: Literal["classification", "regression"] = "classification"
    bundled: Literal["digits", "drift_demo", "penguins"] | None = Field(
        default=None, description="write this bundled dataset's sources on first use")
    sources: list[Source] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)
    label: Label
    time: str | None = Field(None, description="time column (declared under columns): for time splits")
    group: str | None = Field(None, description="group column (declared under columns): for group splits")
    dedup: Dedup = Dedup()
    split: Split = Split()
    rules: Rules = Rules()
    drift: Drift = Drift()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "a dataset's name")

    @model_validator(mode="after")
    def _check(self) -> "DatasetSpec":
        names = [s.name for s in self.sources]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"source names must be unique, but {sorted(dup)} repeat")
        cols = self.column_names()
        dupc = {c for c in cols if cols.count(c) > 1}
        if dupc:
            raise ValueError(f"column names must be unique, but {sorted(dupc)[:3]} repeat")
        if self.label.column in cols:
            raise ValueError(f"the label column {self.label.column!r} is declared under 'label', "
                             "not under 'columns'; remove it from 'columns'")
        if not self.feature_names():
            raise ValueError("at least one column must have role 'feature'")
        if self.task == "classification" and not self.label.values:
            raise ValueError("a classification dataset needs label.values (its allowed classes)")
        for key in ("time", "group"):
            col = getattr(self, key)
            if col is not None and col not in cols:
                raise ValueError(f"{key} names column {col!r}, which is not declared under 'columns'; declare it")
        if self.split.method == "time" and self.time is None:
            raise ValueError("split.method 'time' needs a time column: add 'time: COLUMN'")
        if self.split.method == "group" and self.group is None:
            raise ValueError("split.method 'group' needs a group column: add 'group: COLUMN'")
        for s in self.sources:
            unknown = [c for c in s.casts if c not in cols and c != self.label.column]
            if unknown:
                raise ValueError(f"source {s.name!r}: casts name {unknown}, which are not declared columns")
        return self

    def imputed_features(self) -> list[str]:
        return [n for c in self.columns if c.role == "feature" and c.missing == "impute" for n in c.names()]

    def feature_layout(self) -> list[dict]:
        """What a model pipeline needs to know of each feature, in the order of the data's
        columns: {name, kind (numeric | categorical), n_categories, impute (strategy or None)}."""
        cols = self.expanded_columns()
        return [{"name": n, "kind": "categorical" if cols[n].is_categorical() else "numeric",
                 "n_categories": len(cols[n].category_values()), "impute": cols[n].impute_strategy()}
                for n in self.feature_names()]

    def column_names(self) -> list[str]:
        out: list[str] = []
        for c in self.columns:
            out.extend(c.names())
        return out

    def feature_names(self) -> list[str]:
        out: list[str] = []
        for c in self.columns:
            if c.role == "feature":
                out.extend(c.names())
        return out

    def expanded_columns(self) -> dict[str, Column]:
        return {n: c for c in self.columns for n in c.names()}


def is_uri(path: str) -> bool:
    return "://" in path


def load_dataset(path: str | Path) -> DatasetSpec:
    """Load a dataset spec; relative source paths become absolute (from the spec's folder)."""
    p = Path(path)
    spec = load_model(DatasetSpec, p, "dataset spec")
    base = p.resolve().parent
    sources = [
        s if is_uri(s.path) or Path(s.path).is_absolute()
        else s.model_copy(update={"path": str((base / s.path).resolve())})
        for s in spec.sources
    ]
    return spec.model_copy(update={"sources": sources})
