"""The catalog schema (tracks, artists, artist map, interactions) and validated Arrow/pandas conversion.

The same table schemas describe raw source snapshots; there ``artist_id`` is the source's own id,
and after identity resolution it is the canonical id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from tunescout.domain.features import FEATURE_SOURCES, UNIT_FEATURES
from tunescout.errors import CatalogError

TAG_TYPE = pa.list_(pa.struct([("tag", pa.string()), ("weight", pa.float32())]))


@dataclass(frozen=True)
class Column:
    """One column: its Arrow type and the checks a value must pass."""

    name: str
    type: pa.DataType
    nullable: bool = True
    lo: float | None = None
    hi: float | None = None
    allowed: tuple[str, ...] | None = None


def _features(nullable: bool) -> list[Column]:
    cols = [Column(f, pa.float32(), nullable, 0.0, 1.0) for f in UNIT_FEATURES]
    return [
        *cols,
        Column("tempo", pa.float32(), nullable, 0.0, 300.0),
        Column("loudness", pa.float32(), nullable, -70.0, 10.0),
    ]


SCHEMAS: dict[str, list[Column]] = {
    "tracks": [
        Column("track_id", pa.string(), False),
        Column("name", pa.string()),
        Column("artist_id", pa.string(), False),
        Column("artist_name", pa.string()),
        Column("album", pa.string()),
        Column("release_year", pa.int32(), True, 1800, 2100),
        Column("popularity", pa.float32(), True, 0.0, 100.0),
        Column("duration_ms", pa.int64(), True, 0, None),
        Column("genres", pa.list_(pa.string())),
        *_features(nullable=False),
        Column("key", pa.int8(), True, -1, 11),
        Column("mode", pa.int8(), True, 0, 1),
        Column("features_source", pa.string(), False, allowed=FEATURE_SOURCES),
        Column("source", pa.string(), False),
    ],
    "artists": [
        Column("artist_id", pa.string(), False),
        Column("name", pa.string(), False),
        Column("genres", pa.list_(pa.string())),
        Column("tags", TAG_TYPE),
        Column("popularity", pa.float32(), True, 0.0, 100.0),
        Column("listeners", pa.int64(), True, 0, None),
        *_features(nullable=True),
        Column("features_source", pa.string(), True, allowed=FEATURE_SOURCES),
        Column("track_count", pa.int32(), False, 0, None),
        Column("source", pa.string(), False),
    ],
    "artist_map": [
        Column("source", pa.string(), False),
        Column("source_id", pa.string(), False),
        Column("source_name", pa.string()),
        Column("artist_id", pa.string(), False),
        Column("method", pa.string(), False),
        Column("confidence", pa.float32(), False, 0.0, 1.0),
    ],
    "interactions": [
        Column("user_id", pa.string(), False),
        Column("artist_id", pa.string(), False),
        Column("track_id", pa.string()),
        Column("weight", pa.float32(), False, 0.0, None),
        Column("timestamp", pa.timestamp("ms", tz="UTC")),
        Column("source", pa.string(), False),
    ],
}
KEYS: dict[str, list[str]] = {
    "tracks": ["track_id"],
    "artists": ["artist_id"],
    "artist_map": ["source", "source_id"],
    "interactions": ["user_id", "artist_id", "track_id"],
}
TABLES = tuple(SCHEMAS)


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table`` (one of :data:`TABLES`)."""
    return pa.schema([pa.field(c.name, c.type, c.nullable) for c in SCHEMAS[table]])


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the columns of ``table``."""
    return to_pandas(arrow_schema(table).empty_table())


def _check_column(table: str, col: Column, values: pd.Series) -> list[str]:
    where = f"{table}.{col.name}"
    errors = []
    nulls = int(values.isna().sum()) if not pa.types.is_list(col.type) else 0
    if nulls and not col.nullable:
        errors.append(f"{where}: {nulls} rows are null")
    present = values.dropna()
    if col.lo is not None or col.hi is not None:
        num = pd.to_numeric(present, errors="coerce")
        bad = num.isna() | (num < col.lo if col.lo is not None else False)
        if col.hi is not None:
            bad |= num > col.hi
        if int(bad.sum()):
            errors.append(f"{where}: {int(bad.sum())} rows outside {col.lo}..{col.hi}")
    if col.allowed is not None:
        bad = ~present.isin(col.allowed)
        if int(bad.sum()):
            errors.append(f"{where}: {int(bad.sum())} rows not in {list(col.allowed)}")
    return errors


def to_arrow(table: str, df: pd.DataFrame) -> pa.Table:
    """Validate ``df`` against the schema of ``table`` and convert it.

    Args:
        table: One of :data:`TABLES`.
        df: The rows; extra columns are dropped, missing nullable columns are an error too.

    Returns:
        An Arrow table with exactly the schema's columns and types.

    Raises:
        CatalogError: Listing every problem as ``<table>.<column>: <count> rows …``.
    """
    columns = SCHEMAS[table]
    missing = [c.name for c in columns if c.name not in df.columns]
    if missing:
        raise CatalogError(f"{table}: missing columns {missing}")
    errors = []
    for col in columns:
        errors += _check_column(table, col, df[col.name])
    key = KEYS[table]
    dupes = int(df.duplicated(subset=key).sum())
    if dupes:
        errors.append(f"{table}.{'+'.join(key)}: {dupes} rows repeat a key")
    arrays = []
    for col in columns:
        try:
            arrays.append(pa.array(df[col.name], type=col.type, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            errors.append(f"{table}.{col.name}: cannot be stored as {col.type} ({exc})")
    if errors:
        raise CatalogError("; ".join(errors))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with nullable integer columns (``release_year`` stays an integer)."""
    return table.to_pandas(types_mapper=_NULLABLE_INTS.get)


def validate(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` reduced to the schema's columns with its types, or raise :class:`CatalogError`."""
    return to_pandas(to_arrow(table, df))


def as_list(value: object) -> list:
    """A list-valued cell (list, numpy array or missing) as a plain list."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)
