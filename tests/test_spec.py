"""Spec loading: valid specs load; every bad input is one ConfigError naming the place."""

from pathlib import Path

import pytest

from sweep.errors import ConfigError
from sweep.spec import load_dataset, load_space

REPO = Path(__file__).resolve().parent.parent

GOOD_SPACE = """\
name: t
metric: accuracy
sample_sizes: [0.5, 1.0]
architectures:
  - name: lr
    estimator: sklearn.linear_model.LogisticRegression
    grid: {C: [1.0, 1e-3]}
"""


def test_bundled_specs_load():
    sp = load_space(REPO / "search_spaces" / "default.yaml")
    assert len(sp.architectures) >= 5
    assert len(sp.sample_sizes) >= 4
    ds = load_dataset(REPO / "datasets" / "digits.yaml")
    assert len(ds.feature_names()) == 64
    assert Path(ds.sources[0].path).is_absolute()


def test_yaml_1e_minus_3_is_a_float(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(GOOD_SPACE)
    sp = load_space(p)
    assert sp.architectures[0].grid["C"] == [1.0, 0.001]


@pytest.mark.parametrize("text, expected", [
    (GOOD_SPACE.replace("metric: accuracy", "metrc: accuracy"),
     r"s.yaml:2:1: unknown key 'metrc'; check the spelling \(allowed keys here: name, dataset, metric"),
    (GOOD_SPACE.replace("    grid:", "    gird:"),
     r"s.yaml:7:5: unknown key 'architectures\[0\].gird'"),
    (GOOD_SPACE.replace("sample_sizes: [0.5, 1.0]", "sample_sizes: lots"),
     r"s.yaml:3:1: key 'sample_sizes' has invalid value 'lots'"),
    (GOOD_SPACE.replace("sample_sizes: [0.5, 1.0]", "sample_sizes: [1.0, 0.5]"),
     r"key 'sample_sizes' has invalid value \[1.0, 0.5\]: sample sizes must be strictly ascending"),
    (GOOD_SPACE.replace("metric: accuracy", "metric: acc"),
     r"key 'metric' has invalid value 'acc': Input should be 'accuracy'"),
    (GOOD_SPACE.replace("name: t\n", ""), r"s.yaml:1:1: missing required key 'name'; add it"),
    (GOOD_SPACE.replace("estimator: sklearn.linear_model.LogisticRegression", "estimator: Logistic Regression"),
     r"key 'architectures\[0\].estimator' has invalid value 'Logistic Regression': an estimator is given by import path"),
    (GOOD_SPACE + "  - name: lr\n    estimator: a.B\n",
     r"architecture names must be unique, but \['lr'\] repeat"),
    ("name: [unclosed\n", r"s.yaml:2:1: YAML syntax error"),
    ("", r"s.yaml: the file is empty"),
    ("- a\n- b\n", r"must be a YAML mapping of keys to values, but got list"),
])
def test_bad_space_messages(tmp_path, text, expected):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_space(p)
    assert "\n" not in str(info.value)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: file not found; check the path"):
        load_space(tmp_path / "nope.yaml")


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s.replace("  train: 0.6", "  train: 0.7"), r"train \+ validation \+ test must be 1, but got 1.1"),
    (lambda s: s.replace("name: pixel_{0..63}", "name: pixel_{9..3}"), r"range \{9..3\} is empty"),
    (lambda s: s.replace("    type: float\n", "    type: double\n", 1), r"key 'columns\[0\].type' has invalid value 'double'"),
    (lambda s: s.replace("partitioning: hive              # day", "partitioning: hiv  # day"),
     r"key 'sources\[0\].partitioning' has invalid value 'hiv'"),
    (lambda s: s + "drift: {alpha: 2}\n", r"key 'drift.alpha' has invalid value 2: Input should be less than 1"),
    (lambda s: s + "drift: {windows: 1}\n", r"key 'drift.windows' has invalid value 1: Input should be greater than or equal to 2"),
    (lambda s: s + "drift: {correction: fdr}\n", r"key 'drift.correction' has invalid value 'fdr': Input should be 'holm', 'bonferroni' or 'benjamini-hochberg'"),
    (lambda s: s + "drift: {psi_bin: 5}\n", r"unknown key 'drift.psi_bin'"),
])
def test_bad_dataset_messages(tmp_path, edit, expected):
    text = (REPO / "datasets" / "digits.yaml").read_text()
    p = tmp_path / "d.yaml"
    p.write_text(edit(text))
    with pytest.raises(ConfigError, match=expected):
        load_dataset(p)


def test_an_error_stays_one_line_when_a_key_holds_a_newline(tmp_path):
    """Found by the fuzz test: a grid key "\\n" with an empty list gave a two-line message."""
    from sweep.errors import ConfigError
    from sweep.spec import load_space
    p = tmp_path / "s.yaml"
    p.write_text('name: s\nsample_sizes: [1.0]\narchitectures:\n  - name: lr\n    estimator: a.B\n'
                 '    grid: {"\\n": []}\n')
    with pytest.raises(ConfigError) as err:
        load_space(p)
    assert "\n" not in str(err.value) and "'\\n' is not a hyperparameter name" in str(err.value)
