"""File digests: exact re-uploads are found without decoding."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """SHA-256 and MD5 of a file's bytes (hex) and its size in bytes."""

    sha256: str
    md5: str
    size: int


def file_digest(path: str | os.PathLike) -> FileDigest:
    """Hash a file's bytes in 1 MiB chunks; raises OSError if unreadable."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return FileDigest(sha256=sha.hexdigest(), md5=md5.hexdigest(), size=size)
