"""Bundled sources written by two runs at once (a fresh checkout, two terminals, or two test
workers): the second writer finds the folder complete and keeps it."""

import pyarrow as pa
import pyarrow.parquet as pq

from sweep.data.bundled import write_partitions


def test_a_writer_that_loses_the_race_keeps_the_winners_folder(tmp_path):
    dest = tmp_path / "src"
    first = {"k=a": pa.table({"x": [1, 2]})}
    write_partitions(dest, first)
    # the second writer decided to write before the first renamed its folder into place
    write_partitions(dest, {"k=b": pa.table({"x": [3]})})
    assert sorted(p.name for p in dest.iterdir()) == ["k=a"]
    assert pq.read_table(dest / "k=a" / "part-0.parquet").column("x").to_pylist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["src"]          # no temporary left behind
