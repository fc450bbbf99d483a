"""Upload batch manifests: CSV or JSON Lines with path, upload_id, uploader_id, declared_use."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from policy import DECLARED_USES, UploadContext

FIELDS = ("path", "upload_id", "uploader_id", "declared_use")
MAX_FIELD_CHARS = 4096       # a path or an id longer than this is no manifest value
MAX_PROBLEMS_SHOWN = 10      # a manifest with many bad lines names the first ten


class ManifestError(Exception):
    """A manifest that cannot be used; the message names the file and every bad line (the first ten)."""

    kind = "invalid_input"


def read_manifest(path: str | Path) -> list[tuple[str, UploadContext]]:
    """The manifest's rows in order: (media path resolved against the manifest's folder, upload context).

    CSV needs a header row naming the columns; JSON Lines needs one object per
    line (UTF-8, with or without a byte-order mark). ``path`` is required;
    ``declared_use`` must be one of DECLARED_USES (quotation, parody, criticism,
    review, commentary, news, education) or empty. One file may appear on
    several rows (two uploaders sending the same file); an upload id may not.
    Values are text (JSON: strings; an upload id may also be a whole number).

    The whole manifest is checked before anything is screened: any bad line
    (extra CSV values, a value of the wrong type, a missing path, an unknown
    declared use, a repeated upload id) raises ManifestError naming the lines.
    """
    path = Path(path)
    text = _read_text(path)
    problems: list[str] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = _json_rows(text, problems)
    else:
        rows = _csv_rows(path, text, problems)
    out: list[tuple[str, UploadContext]] = []
    ids: dict[str, int] = {}
    for n, row in rows:
        try:
            media, ctx = _row(path, row)
        except ValueError as exc:
            problems.append(f"line {n}: {exc}")
            continue
        if ctx.upload_id in ids:
            problems.append(f"line {n}: upload_id {ctx.upload_id!r} is already on line {ids[ctx.upload_id]}")
            continue
        if ctx.upload_id:
            ids[ctx.upload_id] = n
        out.append((media, ctx))
    if problems:
        problems.sort(key=lambda p: int(p.split(":")[0].split()[1]))  # 'line N: ...', in file order
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise ManifestError(f"{path}: {len(problems)} bad line(s), nothing was screened: " + "; ".join(shown)
                            + (f"; and {more} more" if more else ""))
    return out


def _read_text(path: Path) -> str:
    try:
        if not path.is_file():
            why = "it is a folder" if path.is_dir() else "no such file" if not path.exists() else "not a regular file"
            raise ManifestError(f"cannot read manifest {path}: {why}")
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ManifestError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
                            "manifest as UTF-8") from None


def _json_rows(text: str, problems: list[str]) -> list[tuple[int, object]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except ValueError as exc:
            problems.append(f"line {n}: not JSON ({exc})")
        except RecursionError:
            problems.append(f"line {n}: not JSON (nested too deeply)")
    return rows


def _csv_rows(path: Path, text: str, problems: list[str]) -> list[tuple[int, object]]:
    rows = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))  # a quoted value may hold a line break
        header = next(reader, None)
        if not header or "path" not in header:
            raise ManifestError(f"{path}: the CSV header must name the columns, at least 'path'")
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:
            raise ManifestError(f"{path}: line 1: column(s) named twice: {', '.join(twice)}")
        for values in reader:
            n = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                problems.append(f"line {n}: {len(values)} values but the header names {len(header)} columns")
                continue
            rows.append((n, dict(zip(header, values))))
    except csv.Error as exc:  # a NUL byte, a field beyond csv's size limit, an unfinished quote
        raise ManifestError(f"{path}: line {reader.line_num}: not readable CSV ({exc})") from None
    return rows


def _text(row: dict, name: str, whole_number: bool = False, strip: bool = True) -> str | None:
    """The text of a field (stripped), None if absent or blank; ValueError if it is not text."""
    value = row.get(name)
    if value is None:
        return None
    if whole_number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {json.dumps(value)[:60]}")
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"{name} is longer than {MAX_FIELD_CHARS} characters")
    if "\0" in value:  # (no file name holds one, and a PostgreSQL catalog cannot store one: the batch stopped)
        raise ValueError(f"the {name} contains a NUL character")
    if not value.strip():
        return None
    return value.strip() if strip else value


def _row(manifest: Path, row: object) -> tuple[str, UploadContext]:
    """One manifest row -> (media path, context); ValueError says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError("not an object with a path")
    unknown = sorted(str(k) for k in row if k not in FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (the fields are {', '.join(FIELDS)})")
    media_text = _text(row, "path", strip=False)  # a file name is taken as written
    if not media_text:
        raise ValueError("no path")
    media = Path(media_text)
    if not media.is_absolute():
        media = manifest.parent / media
    return str(media), upload_context(row)


def upload_context(fields: dict) -> UploadContext:
    """The upload context in ``fields`` (``upload_id``, ``uploader_id``, ``declared_use``; absent or
    blank: None), checked as every front end must check it — a manifest row's or an HTTP request's:
    text of at most MAX_FIELD_CHARS without NUL, a declared use of DECLARED_USES, no '#' in an
    upload id. ValueError says what is wrong."""
    use = (_text(fields, "declared_use") or "").lower() or None
    if use and use not in DECLARED_USES:
        raise ValueError(f"declared_use {use!r} is not one of {', '.join(DECLARED_USES)}")
    upload_id = _text(fields, "upload_id", whole_number=True)
    if upload_id and "#" in upload_id:
        raise ValueError(f"upload_id {upload_id!r} contains '#', which marks re-screens (id#2, id#3...)")
    return UploadContext(upload_id, _text(fields, "uploader_id"), use)
