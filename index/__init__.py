"""Fingerprints -> searchable store: the SQLite catalog (source of truth) and
FAISS binary indexes derived from it."""

from .catalog import Catalog, CatalogError, NewReference, Reference, Work, describe_sqlite_error, utc_now
from .store import (
    Hits, IndexParams, IndexStore, SignalIndex, TimeTable,
    build_index, make_ids, naive_range_search, range_search, split_ids, staged_search,
)

__all__ = [
    "Catalog", "CatalogError", "Hits", "IndexParams", "IndexStore", "NewReference", "Reference",
    "SignalIndex", "TimeTable", "Work", "build_index", "make_ids", "naive_range_search",
    "range_search", "split_ids", "staged_search", "utc_now", "describe_sqlite_error",
]
