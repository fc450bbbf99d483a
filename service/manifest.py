"""Upload batch manifests: CSV or JSON Lines with path, upload_id, uploader_id, declared_use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from policy import DECLARED_USES, UploadContext

FIELDS = ("path", "upload_id", "uploader_id", "declared_use")


class ManifestError(Exception):
    """A manifest that cannot be read; the message names the line."""


def read_manifest(path: str | Path) -> list[tuple[str, UploadContext]]:
    """The manifest's rows in order: (media path resolved against the manifest's folder, upload context).

    CSV needs a header row naming the columns; JSON Lines needs one object per
    line (UTF-8, with or without a byte-order mark). ``path`` is required;
    ``declared_use`` must be one of DECLARED_USES (quotation, parody, criticism,
    review, commentary, news, education) or empty. One file may appear on
    several rows (two uploaders sending the same file); an upload id may not.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
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
    out: list[tuple[str, UploadContext]] = []
    ids: dict[str, int] = {}
    for n, row in rows:
        if not isinstance(row, dict):
            raise ManifestError(f"{path}:{n}: not an object with a path")
        unknown = set(row) - set(FIELDS)
        if unknown:
            raise ManifestError(f"{path}:{n}: unknown field(s) {', '.join(sorted(unknown))}")
        if not row.get("path"):
            raise ManifestError(f"{path}:{n}: no path")
        use = (row.get("declared_use") or "").strip().lower() or None
        if use and use not in DECLARED_USES:
            raise ManifestError(f"{path}:{n}: declared_use {use!r} is not one of {', '.join(DECLARED_USES)}")
        upload_id = str(row["upload_id"]).strip() if row.get("upload_id") else None
        if upload_id in ids:
            raise ManifestError(f"{path}:{n}: upload_id {upload_id!r} is already on line {ids[upload_id]}")
        if upload_id:
            ids[upload_id] = n
        media = Path(row["path"])
        if not media.is_absolute():
            media = path.parent / media
        out.append((str(media), UploadContext(upload_id, row.get("uploader_id") or None, use)))
    return out
