"""Ray Data read of each source with its own schema, harmonised inside the read tasks."""

from __future__ import annotations

import os

import pyarrow as pa

from ..errors import DataError
from ..spec import DatasetSpec, Source, is_uri
from .harmonise import canonical_schema, harmonise_batch


def check_source(source: Source, spec: DatasetSpec) -> list[str]:
    """Fail early, naming the source, when its path is absent or lacks a required column.

    Reads only Parquet footers (the schema), never data. Returns the files found.
    """
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    try:
        fs, root = filesystem(source)
        info = fs.get_file_info(root)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise DataError(f"source {source.name!r}: cannot open {source.path!r} ({exc}); "
                        "check the path or URI in the dataset spec") from None
    if info.type == pafs.FileType.NotFound:
        raise DataError(f"source {source.name!r}: path {source.path!r} does not exist; "
                        "fix 'path' in the dataset spec (relative paths are taken from the spec's folder)")
    if info.type == pafs.FileType.Directory:
        sel = pafs.FileSelector(root, recursive=True)
        files = sorted(f.path for f in fs.get_file_info(sel)
                       if f.type == pafs.FileType.File and not _hidden(f.path, root))
    else:
        files = [root]
    if not files:
        raise DataError(f"source {source.name!r}: no Parquet files under {source.path!r}; "
                        "point 'path' at the folder that holds them")
    names: set[str] = set()
    for f in files:
        try:
            schema = pads.dataset(f, filesystem=fs, format="parquet").schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"source {source.name!r}: file {f} is not readable Parquet ({exc}); "
                            "replace or remove it") from None
        names |= set(schema.names)
    if source.partitioning == "hive":
        for f in files:
            for part in os.path.relpath(f, root).split("/")[:-1]:
                if "=" in part:
                    names.add(part.split("=", 1)[0])
    names = {source.rename.get(n, n) for n in names}
    cols = spec.expanded_columns()
    required = [c for c in spec.column_names() if not cols[c].nullable] + [spec.label.column]
    missing = [c for c in required if c not in names]
    if missing:
        shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        raise DataError(f"source {source.name!r}: required column(s) {shown} not found in "
                        f"{source.path!r}; add a 'rename' entry (source name: canonical name) to this "
                        "source in the dataset spec")
    return files


def filesystem(source: Source):
    """(pyarrow filesystem, root path inside it) for a source's path or URI (file://, s3://, ...).

    S3 options ride on the URI's query, e.g. s3://bucket/x?endpoint_override=host:port&scheme=http.
    """
    import pyarrow.fs as pafs

    if is_uri(source.path):
        return pafs.FileSystem.from_uri(source.path)
    return pafs.LocalFileSystem(), source.path


def _hidden(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    return any(p.startswith((".", "_")) for p in rel.split("/"))


def read_file(path: str, source: Source, spec: DatasetSpec) -> pa.Table:
    """Read one Parquet file (a path inside the source's filesystem) with its own schema,
    add its hive keys and its path, harmonise."""
    import pyarrow.parquet as pq

    fs, root = filesystem(source)
    table = pq.read_table(path, filesystem=fs)
    rel = os.path.relpath(path, root) if path != root else os.path.basename(path)
    if source.partitioning == "hive":
        for part in rel.split("/")[:-1]:
            if "=" in part:
                key, value = part.split("=", 1)
                if key not in table.column_names:
                    table = table.append_column(key, pa.array([value] * table.num_rows, pa.string()))
    table = table.append_column("path", pa.array([rel] * table.num_rows, pa.string()))
    return harmonise_batch(table, spec, source)


def _read_batch(batch: pa.Table, spec: DatasetSpec) -> pa.Table:
    sources = {s.name: s for s in spec.sources}
    tables = [read_file(f, sources[n], spec) for f, n in
              zip(batch.column("file").to_pylist(), batch.column("source").to_pylist())]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def read_dataset(spec: DatasetSpec, sources_files: list[tuple[Source, list[str]]]):
    """A lazy Ray Dataset: one read task per Parquet file, each file read with its own
    schema and harmonised to the canonical one inside the task (so sources whose types
    differ never meet before they agree)."""
    import ray.data

    import warnings

    items = [{"source": s.name, "file": f} for s, files in sources_files for f in files]
    with warnings.catch_warnings():  # ray_remote_args_fn: deprecated after the pinned 2.60, kept there
        warnings.simplefilter("ignore")
        return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _read_batch, batch_size=1, batch_format="pyarrow", fn_kwargs={"spec": spec},
            ray_remote_args_fn=_placement(items))


def _placement(items: list[dict]) -> dict:
    """Files on this machine's disk are read on this node: on a multi-node cluster the other
    nodes cannot see them (sources on a storage URI are read anywhere)."""
    import ray

    local = any("://" not in it["file"] or it["file"].startswith("file://") for it in items)
    if not local or sum(1 for n in ray.nodes() if n.get("Alive")) <= 1:
        return None
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    return lambda: {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=here, soft=False)}


def collect(spec: DatasetSpec, sources_files: list[tuple[Source, list[str]]]) -> pa.Table:
    """Run the read tasks (one per file) and gather the harmonised rows (canonical schema)."""
    import ray

    schema = canonical_schema(spec)
    try:
        tables = [t for t in ray.get(read_dataset(spec, sources_files).to_arrow_refs()) if t.num_rows]
    except Exception as exc:  # a read task failed: name the cause (it names the file)
        raise DataError(f"reading the sources failed: {_root_cause(exc)}; check the files of "
                        + ", ".join(repr(s.name) for s, _ in sources_files)) from None
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])


def quiet_ray_data() -> None:
    """No progress bars or per-operator INFO lines from Ray Data: sweep prints its own summary."""
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:  # Ray wraps the task's own error: report that one
        exc = exc.__cause__
    # Ray appends advice on retries after the task's own error: skip lines of that kind.
    text = [line for line in str(exc).strip().splitlines()
            if line.strip() and "DataContext" not in line and "retry" not in line.lower()]
    return text[-1].strip()[:300] if text else type(exc).__name__
