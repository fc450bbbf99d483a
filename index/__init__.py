"""Fingerprints -> searchable store: the SQLite catalog (source of truth) and
the indexes derived from it (FAISS binary indexes, sorted posting tables)."""

from .catalog import Catalog, CatalogError, NewReference, Reference, Work, describe_sqlite_error, utc_now
from .store import (
    Hits, IndexParams, IndexStore, PostingIndex, SignalIndex, TimeTable,
    build_index, make_ids, naive_range_search, range_search, split_ids, staged_search,
)

__all__ = [
    "Catalog", "CatalogError", "Hits", "IndexParams", "IndexStore", "NewReference", "PostingIndex", "Reference",
    "SignalIndex", "TimeTable", "Work", "build_index", "make_ids", "naive_range_search",
    "range_search", "split_ids", "staged_search", "utc_now", "describe_sqlite_error",
]
