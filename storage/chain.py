"""The audit chain's arithmetic: keyed record MACs, the signed chain head, row digests.

Pure functions; the storage of records and rows is in :mod:`storage.audit_log`.

Each record's MAC is HMAC-SHA-256 (hex, 64 characters) under the catalog's
audit key over the previous record's MAC, the record's fields and the *state*
it carries: the SHA-256 digest of every tracked row group (a work with its
references, exclusions, licences and notices; one upload row) that its
transaction changed. The chain *head* is the number of records and the last
MAC, signed with the same key. Without the key nobody can append, edit,
remove or reorder records, nor change a tracked row, and recompute a chain
that verifies; with an old head kept elsewhere, even a log deleted as a whole
and rebuilt with the key is caught up to that head.
"""

from __future__ import annotations

import hashlib
import hmac
import json

AUDIT_FIELDS = ("at", "actor", "action", "upload_id", "work_id", "work_ids", "config_version", "evidence")
MAC_HEX_CHARS = 64


def _canonical(value: object) -> bytes:
    """Deterministic bytes to hash (non-finite floats as JSON's NaN/Infinity: only hashed, never parsed)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=True, default=str).encode()


def record_mac(key: bytes, prev_mac: str, fields: dict, state: str) -> str:
    """HMAC-SHA-256 (hex) of one record: ``fields`` (the :data:`AUDIT_FIELDS`), ``state``
    (the record's JSON text of row digests, '{}' for none) and the previous record's MAC."""
    payload = _canonical([prev_mac, *(fields[k] for k in AUDIT_FIELDS), state])
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str, fields: dict) -> str:
    """SHA-256 (hex) of a record written before the log was keyed (unkeyed chain of older versions)."""
    payload = json.dumps([prev_hash, *(fields[k] for k in AUDIT_FIELDS)], separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def head_seal(key: bytes, records: int, last_mac: str, keyed_from: int) -> str:
    """HMAC-SHA-256 (hex) of the chain head: ``records`` in the log, the last record's MAC, and
    ``keyed_from`` (the id of the first keyed record: records before it are from an older version)."""
    return hmac.new(key, _canonical(["head", records, last_mac, keyed_from]), hashlib.sha256).hexdigest()


def group_mac(key: bytes, group: str, digest: str | None, audit_id: int) -> str:
    """HMAC-SHA-256 (hex) of a row group's last recorded digest and the record that carries it."""
    return hmac.new(key, _canonical(["group", group, digest, audit_id]), hashlib.sha256).hexdigest()


def rows_digest(rows: list[list]) -> str:
    """SHA-256 (hex) of a group of rows (each a list of column values, in a fixed order)."""
    return hashlib.sha256(_canonical(rows)).hexdigest()


def format_head(records: int, last_mac: str) -> str:
    """The head as one token to keep elsewhere: ``<records>:<last MAC>``."""
    return f"{records}:{last_mac}"


def parse_head(text: str) -> tuple[int, str]:
    """``<records>:<MAC>`` -> (records, MAC); ValueError when it is not one."""
    count, sep, mac = text.strip().partition(":")
    if not sep or not count.isdigit() or len(mac) != MAC_HEX_CHARS or any(c not in "0123456789abcdef" for c in mac):
        raise ValueError(f"{text!r} is not an audit head (expected <records>:<64 hex digits>, as "
                         "`prescreen audit --verify` prints it)")
    return int(count), mac


__all__ = ["AUDIT_FIELDS", "group_mac", "record_mac", "legacy_hash", "head_seal", "rows_digest", "format_head", "parse_head"]
