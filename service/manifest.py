"""Upload batch manifests: CSV or JSON Lines with path, upload_id, uploader_id, declared_use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from policy import DECLARED_USES, UploadContext

FIELDS = ("path", "upload_id", "uploader_id", "declared_use")


class ManifestError(Exception):
    """A manifest that cannot be read; the message names the line."""


def read_manifest(path: str | Path) -> dict[str, UploadContext]:
    """Path (resolved against the manifest's folder) -> upload context.

    CSV needs a header row naming the columns; JSON Lines needs one object per
    line. ``path`` is required; ``declared_use`` must be one of DECLARED_USES
    (quotation, parody, criticism, review, commentary, news, education) or empty.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror}") from exc
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except ValueError as exc:
                    raise ManifestError(f"{path}:{n}: not JSON ({exc})") from exc
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ManifestError(f"{path}: the CSV header must name the columns, at least 'path'")
        rows = [(n, row) for n, row in enumerate(reader, 2)]
    out: dict[str, UploadContext] = {}
    for n, row in rows:
        unknown = set(row) - set(FIELDS)
        if unknown:
            raise ManifestError(f"{path}:{n}: unknown field(s) {', '.join(sorted(unknown))}")
        if not row.get("path"):
            raise ManifestError(f"{path}:{n}: no path")
        use = (row.get("declared_use") or "").strip().lower() or None
        if use and use not in DECLARED_USES:
            raise ManifestError(f"{path}:{n}: declared_use {use!r} is not one of {', '.join(DECLARED_USES)}")
        media = Path(row["path"])
        if not media.is_absolute():
            media = path.parent / media
        out[str(media)] = UploadContext(row.get("upload_id") or None, row.get("uploader_id") or None, use)
    return out
