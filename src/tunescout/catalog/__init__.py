"""The catalog stage: schema and on-disk tables (re-exported here), raw snapshots, identity, assembly."""

from tunescout.catalog.io import (
    Catalog,
    check_references,
    file_sha256,
    read_catalog,
    read_manifest,
    write_catalog,
)
from tunescout.catalog.schema import (
    KEYS,
    SCHEMAS,
    TABLES,
    TAG_TYPE,
    Column,
    arrow_schema,
    as_list,
    empty,
    to_arrow,
    to_pandas,
    validate,
)

__all__ = [
    "KEYS",
    "SCHEMAS",
    "TABLES",
    "TAG_TYPE",
    "Catalog",
    "Column",
    "arrow_schema",
    "as_list",
    "check_references",
    "empty",
    "file_sha256",
    "read_catalog",
    "read_manifest",
    "to_arrow",
    "to_pandas",
    "validate",
    "write_catalog",
]
