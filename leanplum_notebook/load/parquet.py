"""The loader's Parquet cache of one export part, and its in-memory stand-in.

Layout of ``<parquet_dir>``: one ``<table>.parquet`` per table of ``schema.TABLES`` (lz4,
one row group per parsed batch) and ``meta.json`` (loader version, source file names and
sizes, the counts found while parsing). Tables are written under temporary names and moved
into place with ``os.replace`` once complete; ``meta.json`` is removed first and written
last, so a cache without a matching ``meta.json`` is never read and a crash leaves no file
that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from leanplum_notebook import schema
from leanplum_notebook.load.common import ARROW_SCHEMAS, LOADER_VERSION, STORED_KINDS
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

META_NAME = "meta.json"


def source_signature(files: Sequence[Path]) -> list[list[Any]]:
    """Names and sizes of the raw files, as stored in ``meta.json``."""
    return [[path.name, path.stat().st_size] for path in files]


class MemorySink:
    """Collects the parsed batches in memory (``use_parquet=False`` or no writable cache)."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.Table]] = {name: [] for name in schema.TABLES}

    def write(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self.batches[table].append(data)

    def tables(self) -> dict[str, pa.Table]:
        out = {}
        for name, parts in self.batches.items():
            data = pa.concat_tables(parts) if parts else ARROW_SCHEMAS[name].empty_table()
            out[name] = _dictionary_encode(name, data)
            parts.clear()
        return out


def _dictionary_encode(table: str, data: pa.Table) -> pa.Table:
    """Category columns as dictionaries, as the Parquet reader returns them."""
    for name, kind in STORED_KINDS[table].items():
        if kind == "category":
            index = data.schema.get_field_index(name)
            data = data.set_column(index, name, data.column(name).dictionary_encode())
    return data


class ParquetSink:
    """Streams batches into ``<table>.parquet`` files of one cache folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (directory / META_NAME).unlink()  # what follows invalidates the old cache
        token = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.temp = {name: directory / f"{name}.parquet{token}" for name in schema.TABLES}
        self.writers: dict[str, pq.ParquetWriter] = {}

    def _writer(self, table: str) -> pq.ParquetWriter:
        writer = self.writers.get(table)
        if writer is None:
            categories = [c for c, kind in STORED_KINDS[table].items() if kind == "category"]
            writer = pq.ParquetWriter(
                self.temp[table],
                ARROW_SCHEMAS[table],
                # lz4: a third of zstd's CPU to write and read back; files ~35 % larger.
                compression="lz4",
                # Dictionary pages only where they pay (low-cardinality text): building them
                # for random 64-bit ids and free text costs time for nothing.
                use_dictionary=categories,
                write_statistics=False,
            )
            self.writers[table] = writer
        return writer

    def write(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self._writer(table).write_table(data, row_group_size=max(data.num_rows, 1))

    def commit(self, meta: dict[str, Any]) -> None:
        """Close every table file, move them into place, then write ``meta.json``."""
        for name in schema.TABLES:
            self._writer(name).close()  # opens an empty file for a table without rows
        for name, temp in self.temp.items():
            os.replace(temp, self.directory / f"{name}.parquet")
        write_meta(self.directory, meta)

    def abort(self) -> None:
        """Close and delete the temporary files (after an error)."""
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        for temp in self.temp.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically."""
    temp = directory / f"{META_NAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.write_bytes(orjson.dumps({"loader_version": LOADER_VERSION, **meta}))
    os.replace(temp, directory / META_NAME)


def read_meta(directory: Path, files: Sequence[Path]) -> dict[str, Any] | None:
    """Return the cache's meta if it is complete and made from exactly ``files``, else None."""
    try:
        meta = orjson.loads((directory / META_NAME).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or meta.get("loader_version") != LOADER_VERSION:
        return None
    try:
        if meta.get("files") != source_signature(files):
            return None
    except OSError:
        return None
    if not all((directory / f"{name}.parquet").is_file() for name in schema.TABLES):
        return None
    return meta


def read_table(directory: Path, table: str, columns: Sequence[str]) -> pa.Table:
    """Read ``columns`` of one cached table; category columns come back as dictionaries."""
    kinds = STORED_KINDS[table]
    dictionary = [c for c in columns if kinds[c] == "category"]
    data = pq.read_table(
        directory / f"{table}.parquet", columns=list(columns), read_dictionary=dictionary
    )
    return data
