"""The storage URI (sweep.storage) with real file:// destinations: a bad URI or an unwritable
destination is one ConfigError naming the value and the fix; a run directory is copied byte
for byte under URI/<run name>, and copied again over an earlier copy."""

import os

import pytest

from sweep import storage
from sweep.errors import ConfigError


def make_run(root, name="20260101-000000-demo"):
    """A small run directory with nested folders, a binary file and an empty file."""
    run = root / name
    (run / "tensorboard" / "abc123").mkdir(parents=True)
    (run / "quarantine").mkdir()
    (run / "manifest.json").write_text('{"status": "complete"}\n')
    (run / "ledger.jsonl").write_text('{"config_id": "abc123", "rung": 10, "status": "ok"}\n')
    (run / "tensorboard" / "abc123" / "events.out.tfevents.1.host").write_bytes(os.urandom(4096))
    (run / "quarantine" / "src.parquet").write_bytes(bytes(range(256)) * 8)
    (run / "stopped.csv").write_bytes(b"")
    return run


def files_of(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("uri, says", [
    ("/shared/runs", "give a URI such as s3://bucket/runs, gs://bucket/runs or file:///shared/runs "
                     "(for a local folder use --out)"),
    ("runs", "(for a local folder use --out)"),
    ("ftp2://bucket/runs", "; check the scheme (s3://, gs://, file://) and the query options"),
    ("file://relative/runs", "; check the scheme (s3://, gs://, file://) and the query options"),
])
def test_check_rejects_a_bad_uri(uri, says):
    with pytest.raises(ConfigError) as info:
        storage.check(uri)
    msg = str(info.value)
    assert msg.startswith(f"--storage {uri!r}")                 # names the value
    assert says in msg                                          # and the fix
    assert "\n" not in msg


def test_check_rejects_an_unwritable_destination(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    uri = f"file://{blocker}/runs"
    with pytest.raises(ConfigError) as info:
        storage.check(uri)
    msg = str(info.value)
    assert msg.startswith(f"--storage {uri!r} is not writable (")
    assert msg.endswith("; check that the folder can be created and written by this user")
    assert "\n" not in msg
    assert blocker.read_text() == "not a folder"


def test_check_of_a_writable_destination_leaves_no_probe(tmp_path):
    dest = tmp_path / "store" / "runs"
    assert storage.check(f"file://{dest}") is None
    assert dest.is_dir()                                        # created, as upload will need
    assert list(dest.iterdir()) == []                           # the probe object was removed


def test_upload_copies_every_file_byte_identical(tmp_path):
    run = make_run(tmp_path / "local")
    store = tmp_path / "store"
    where = storage.upload(run, f"file://{store}")
    assert where == f"file://{store}/{run.name}"
    assert files_of(store / run.name) == files_of(run)
    assert sorted(p.name for p in store.iterdir()) == [run.name]
    assert files_of(run)["stopped.csv"] == b""                  # the empty file came too
    # the returned location is a URI that reaches the copy
    import pyarrow.fs as pafs
    fs, path = pafs.FileSystem.from_uri(where)
    with fs.open_input_stream(f"{path}/ledger.jsonl") as fh:
        assert fh.read() == (run / "ledger.jsonl").read_bytes()


def test_upload_with_a_trailing_slash_and_a_new_prefix(tmp_path):
    run = make_run(tmp_path / "local", name="run-b")
    store = tmp_path / "deep" / "er" / "store"                  # does not exist yet
    where = storage.upload(run, f"file://{store}/")
    assert where == f"file://{store}/run-b"
    assert files_of(store / "run-b") == files_of(run)


def test_upload_again_overwrites_the_earlier_copy(tmp_path):
    run = make_run(tmp_path / "local")
    store = tmp_path / "store"
    storage.upload(run, f"file://{store}")
    (run / "manifest.json").write_text('{"status": "failed"}\n')          # shorter than before
    with open(run / "ledger.jsonl", "a") as fh:
        fh.write('{"config_id": "abc123", "rung": 20, "status": "ok"}\n')
    (run / "report.html").write_text("<html></html>")
    where = storage.upload(run, f"file://{store}")
    assert where == f"file://{store}/{run.name}"
    copy = files_of(store / run.name)
    assert copy == files_of(run)
    assert copy["manifest.json"] == b'{"status": "failed"}\n'
    assert copy["ledger.jsonl"].count(b"\n") == 2
