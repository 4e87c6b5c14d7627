"""Fuzzing the spec loaders with hypothesis: every failure is a ConfigError naming the file
and the key (or line:column for YAML syntax errors); nothing else escapes; the CLI prints
one line and exits 2, never a traceback."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep.errors import ConfigError
from sweep.spec import load_dataset, load_space

VALID_SPACE = {
    "name": "fuzz", "metric": "accuracy", "sample_sizes": [0.25, 1.0], "repeats": 1, "seed": 0,
    "max_failures": 1, "time_limit_s": 30,
    "architectures": [{"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression",
                       "params": {"max_iter": 100}, "grid": {"C": [0.1, 1.0]}, "scale": True,
                       "resources": {"cpu": 1}}],
    "smoke": {"architectures": ["lr", "lr"], "sample_sizes": [0.5, 1.0]},
}
VALID_DATASET = {
    "name": "fuzz", "task": "classification",
    "sources": [{"name": "a", "path": "/tmp/nowhere/a", "partitioning": "hive"},
                {"name": "b", "path": "/tmp/nowhere/b", "rename": {"target": "digit"},
                 "casts": {"pixel_2": "float"}}],
    "columns": [{"name": "pixel_{0..3}", "type": "float", "min": 0, "max": 16},
                {"name": "sample_id", "type": "int", "role": "metadata"}],
    "label": {"column": "digit", "type": "int", "values": [0, 1, 2]},
    "dedup": {"exact": "drop", "conflicting": "quarantine"},
    "split": {"method": "stratified", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0},
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=8)


def _paths(d, prefix=()):
    """Every (path) to a value inside nested dicts/lists."""
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, base):
    import copy

    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        elif action == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["s", "_", "x"]))] = parent.pop(key)
        if not isinstance(doc, dict):
            break
    return doc


def _check(loader, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "spec.yaml"
        p.write_text(text, encoding="utf-8")
        try:
            loader(p)
        except ConfigError as exc:
            msg = str(exc)
            assert msg.startswith(str(p)), msg
            assert "\n" not in msg.strip(), msg
            named = ("key '" in msg or "key " in msg or re.search(rf"{re.escape(str(p))}:\d+:\d+", msg)
                     or "the file is empty" in msg or "must be a YAML mapping" in msg or "YAML error" in msg)
            assert named, msg


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(mutated(VALID_SPACE))
def test_fuzzed_search_spaces(doc):
    _check(load_space, yaml.safe_dump(doc, sort_keys=False))


@FUZZ
@given(mutated(VALID_DATASET))
def test_fuzzed_dataset_specs(doc):
    _check(load_dataset, yaml.safe_dump(doc, sort_keys=False))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=st.sampled_from(list("ab: -[]{}'\"#&*!|>\n\t0.,%@`")), max_size=60))
def test_fuzzed_yaml_text(text):
    _check(load_space, text)
    _check(load_dataset, text)


def test_valid_bases_load():
    for base, loader in ((VALID_SPACE, load_space), (VALID_DATASET, load_dataset)):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "spec.yaml"
            p.write_text(yaml.safe_dump(base))
            loader(p)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(VALID_SPACE))
def test_cli_never_prints_a_traceback_for_bad_specs(doc):
    import contextlib
    import io

    from sweep.cli import main

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "space.yaml"
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        try:
            load_space(p)
        except ConfigError:
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["run", str(p)])
            assert code == 2
            assert "Traceback" not in err.getvalue()
            assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
        else:
            return  # a valid mutation: nothing to check (running it would start a sweep)
