"""Read rows out of JSONL, JSON, CSV and Parquet files, each row tagged with where it came from
(``file:line`` or ``file:row N``) so that every error can name its place."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation.errors import InputError

CONTAINERS = ("jsonl", "json", "csv", "parquet")


@dataclass(frozen=True)
class Row:
    where: str
    data: dict[str, Any]


def container_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in CONTAINERS:
        return suffix
    raise InputError(
        str(path),
        f"cannot tell the file type from the extension {path.suffix!r}",
        fix="name the file .jsonl, .json, .csv or .parquet",
    )


def check_file(path: Path, max_bytes: int) -> None:
    """The file exists and is within the import limit (checked before reading a byte)."""
    if not path.exists():
        raise InputError(str(path), "no such file", fix="check the path")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            str(path),
            f"the file has {size:,} bytes, over the import limit of {max_bytes:,}",
            fix="split it, or raise JUDGELAB_MAX_IMPORT_BYTES",
        )


def read_rows(path: Path, *, max_bytes: int) -> list[Row]:
    """All rows of ``path`` as dicts, in file order. Raises :class:`InputError` naming the place."""
    check_file(path, max_bytes)
    kind = container_of(path)
    if kind == "parquet":
        return _parquet_rows(path)
    raw = path.read_bytes()
    text = _decode(path, raw)
    if kind == "jsonl":
        return _jsonl_rows(path, text)
    if kind == "json":
        return _json_rows(path, text)
    return _csv_rows(path, text)


def iter_jsonl_rows(path: Path, *, max_bytes: int) -> Iterator[Row]:
    """The rows of a JSONL file one at a time (memory flat in the file's size), each checked as
    :func:`read_rows` checks it, errors naming ``file:line``."""
    check_file(path, max_bytes)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}",
                    f"is not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})",
                    fix="save the file as UTF-8",
                ) from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                yield _jsonl_row(path, lineno, line)


def _jsonl_row(path: Path, lineno: int, line: str) -> Row:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{lineno}",
            f"is not valid JSON ({exc.msg} at column {exc.colno})",
            value=line[:80],
            fix="write one JSON object per line",
        ) from None
    except RecursionError:
        raise _too_deep(f"{path}:{lineno}") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{path}:{lineno}",
            f"is a JSON {type(data).__name__}, not an object",
            fix="write one JSON object per line",
        )
    return Row(f"{path}:{lineno}", data)


def _decode(path: Path, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}",
            f"is not valid UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})",
            fix="save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _jsonl_rows(path: Path, text: str) -> list[Row]:
    return [_jsonl_row(path, lineno, line) for lineno, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _too_deep(where: str) -> InputError:
    return InputError(
        where,
        "nests JSON too deeply to read (thousands of levels)",
        fix="flatten the record: items and labels are a few levels deep",
    )


def _json_rows(path: Path, text: str) -> list[Row]:
    decoder = json.JSONDecoder()
    idx = _skip_ws(text, 0)
    if idx >= len(text) or text[idx] != "[":
        # a single object, or something else: parse whole for a precise message
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}", f"is not valid JSON ({exc.msg})", fix="fix the JSON syntax"
            ) from None
        except RecursionError:
            raise _too_deep(str(path)) from None
        if isinstance(data, dict):
            for key in ("data", "rows", "items", "labels"):
                if isinstance(data.get(key), list):
                    return [Row(f"{path}: record {i + 1}", r) for i, r in enumerate(data[key]) if _is_obj(path, i, r)]
        raise InputError(str(path), "expected a JSON array of objects", fix="write [ {...}, {...} ] or use JSONL")
    rows: list[Row] = []
    idx = _skip_ws(text, idx + 1)
    line = 1 + text.count("\n", 0, idx)
    last = idx
    record = 0
    if idx < len(text) and text[idx] == "]":
        return rows
    while True:
        line += text.count("\n", last, idx)
        last = idx
        try:
            data, end = decoder.raw_decode(text, idx)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}", f"is not valid JSON ({exc.msg})", fix="fix the JSON syntax"
            ) from None
        except RecursionError:
            raise _too_deep(f"{path}:{line + text.count(chr(10), last, idx)}") from None
        record += 1
        if not isinstance(data, dict):
            raise InputError(f"{path}:{line}", f"record {record} is a JSON {type(data).__name__}, not an object")
        rows.append(Row(f"{path}:{line}", data))
        idx = _skip_ws(text, end)
        if idx < len(text) and text[idx] == ",":
            idx = _skip_ws(text, idx + 1)
            continue
        if idx < len(text) and text[idx] == "]":
            break
        lineno = 1 + text.count("\n", 0, min(idx, len(text)))
        raise InputError(
            f"{path}:{lineno}", "is not valid JSON (expected ',' or ']' after a record; the file may be truncated)"
        )
    return rows


def _is_obj(path: Path, i: int, data: object) -> bool:
    if not isinstance(data, dict):
        raise InputError(f"{path}: record {i + 1}", f"is a JSON {type(data).__name__}, not an object")
    return True


def _skip_ws(text: str, idx: int) -> int:
    while idx < len(text) and text[idx] in " \t\r\n":
        idx += 1
    return idx


def _csv_rows(path: Path, text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        raise InputError(str(path), "the CSV file is empty", fix="write a header row and at least one data row")
    header = [h.strip() for h in reader.fieldnames]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"{path}:1", f"duplicate column names {dupes}", fix="give each column its own name")
    reader.fieldnames = header
    rows: list[Row] = []
    try:
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if None in record:
                raise InputError(
                    where, f"has more fields than the header's {len(header)}", fix="quote fields that contain commas"
                )
            if any(v is None for v in record.values()):
                raise InputError(
                    where,
                    f"has fewer fields than the header's {len(header)}",
                    fix="fill every column (empty is allowed)",
                )
            rows.append(Row(where, {k: v for k, v in record.items()}))
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}", f"is not valid CSV ({exc})", fix="check quoting") from None
    return rows


def _parquet_rows(path: Path) -> list[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(str(path), f"is not a readable Parquet file ({exc})", fix="re-export the file") from None
    records = table.to_pylist()
    import pyarrow as pa

    # structured columns as JSON objects: a map (the export's probabilities) is a list of pairs in
    # pyarrow, a struct (metadata, a judge's config) holds every key of every row, null where a row
    # has none: a Parquet struct cannot tell an absent key from a null, and both read as absent
    maps = [f.name for f in table.schema if pa.types.is_map(f.type)]
    structs = [f.name for f in table.schema if pa.types.is_struct(f.type)]
    for record in records:
        for name in maps:
            if record.get(name) is not None:
                record[name] = dict(record[name])
        for name in structs:
            if isinstance(record.get(name), dict):
                record[name] = _without_nulls(record[name])
    return [Row(f"{path}: row {i + 1}", r) for i, r in enumerate(records)]


def _without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_nulls(v) if isinstance(v, dict) else v for k, v in value.items() if v is not None}
