"""The audit chain's arithmetic lives in :mod:`storage.chain` (next to the log that uses it)."""

from storage.chain import (AUDIT_FIELDS, MAC_HEX_CHARS, format_head, group_mac, head_seal, legacy_hash,
                           parse_head, record_mac, rows_digest)

__all__ = ["AUDIT_FIELDS", "MAC_HEX_CHARS", "format_head", "group_mac", "head_seal", "legacy_hash", "parse_head",
           "record_mac", "rows_digest"]
