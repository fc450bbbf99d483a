"""prescreen's command line: thin; parses, calls the library, prints.

Every command has a human form (rich tables) and a machine form (--json).
Exit codes: 0 success, 1 something failed (a file, a registration), 2 usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service import (
    ConfigError, FormatMismatch, Prescreen, RegisterError, ScreenResult, default_toml, load_config, resolve_home,
)
from service.engine import expand_paths

app = typer.Typer(
    name="prescreen",
    help="Content-fingerprint pre-upload filter: rights holders register works; uploads are screened "
    "against them and get an explained decision (allow / review / block) with the matched seconds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
works_app = typer.Typer(help="List and remove registered works.", no_args_is_help=True)
index_app = typer.Typer(help="Inspect or rebuild the FAISS indexes (derived from the catalog).", no_args_is_help=True)
config_app = typer.Typer(help="Show the configuration in force or the documented defaults.", no_args_is_help=True)
app.add_typer(works_app, name="works")
app.add_typer(index_app, name="index")
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="PRESCREEN_HOME", help="Data folder (catalog + indexes). Default ./prescreen-data."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="TOML config file (default: <home>/config.toml if present, else built-in defaults)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

DECISION_STYLE = {"block": "bold red", "review": "bold yellow", "allow": "green"}


def _engine(home: Optional[Path], config: Optional[Path], check_format: bool = True) -> Prescreen:
    try:
        cfg = load_config(config) if config else None
        engine = Prescreen(home, cfg)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if check_format:
        try:
            engine.check_format()
        except FormatMismatch as exc:
            engine.close()
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    return engine


@app.command()
def register(
    paths: Annotated[list[Path], typer.Argument(help="Media files or folders (every media file inside is registered).")],
    work_id: Annotated[str, typer.Option("--work-id", help="Identifier of the work (new or existing).")],
    title: Annotated[str, typer.Option("--title", help="Human title of the work.")] = "",
    owner: Annotated[str, typer.Option("--owner", help="Rights holder.")] = "",
    home: HomeOpt = None,
    config: ConfigOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Register reference files of a work. All or nothing: if any file fails, nothing is written."""
    with _engine(home, config) as engine:
        items, _ = expand_paths(paths, media_only=True)
        try:
            with _progress(len(items), "fingerprinting", quiet=as_json or len(items) < 2) as advance:
                result = engine.register(paths, work_id, title, owner, progress=advance)
        except RegisterError as exc:
            if as_json:
                print(json.dumps({"status": "error", "error": str(exc), "failures": exc.failures}))
            else:
                err.print(f"[red]error:[/red] {exc}")
                for path, why in exc.failures.items():
                    err.print(f"  {path}: {why}")
            raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"status": "ok", **result.as_dict()}))
        return
    table = Table(title=f"registered work {result.work_id}")
    for col in ("file", "seconds", "video codes", "audio codes"):
        table.add_column(col)
    for f in result.files:
        table.add_row(f["path"], f"{f['duration']:.1f}", str(f["video_codes"]), str(f["audio_codes"]))
    out.print(table)
    for path in result.skipped:
        out.print(f"[dim]skipped (not a media file name): {path}[/dim]")


class _progress:
    """A rich progress bar on stderr (no-op when quiet); yields an advance(label) callable."""

    def __init__(self, total: int, what: str, quiet: bool):
        self.total, self.what, self.quiet = total, what, quiet or not err.is_terminal and total < 2

    def __enter__(self):
        if self.quiet:
            return lambda label="": None
        self.bar = Progress(
            TextColumn(f"{self.what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=err, transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("", total=self.total)
        return lambda label="": self.bar.update(task, advance=1, description=Path(label).name)

    def __exit__(self, *exc):
        if not self.quiet:
            self.bar.stop()


def _segments_text(result: ScreenResult, limit: int = 2) -> str:
    parts = []
    for m in result.matches[:3]:
        spans = "; ".join(
            f"{s.upload_start:.1f}-{s.upload_end:.1f}s→{s.ref_start:.1f}-{s.ref_end:.1f}s" for s in m.segments[:limit]
        )
        more = f" +{len(m.segments) - limit}" if len(m.segments) > limit else ""
        parts.append(f"{m.work_id} [{m.modality}] {spans}{more}")
    return "\n".join(parts)


def screen_table(results: list[ScreenResult], title: str = "screening decisions") -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("upload", overflow="fold")
    table.add_column("decision")
    table.add_column("matched", justify="right")
    table.add_column("share of upload", justify="right")
    table.add_column("segments (upload→work)", overflow="fold")
    table.add_column("why", overflow="fold", max_width=60)
    for r in results:
        if r.status == "error":
            table.add_row(Path(r.upload).name, "[bold magenta]error[/bold magenta]", "", "", "", r.error or "")
            continue
        d = r.decision
        top = r.matches[0] if r.matches else None
        table.add_row(
            Path(r.upload).name,
            f"[{DECISION_STYLE[d.outcome]}]{d.outcome}[/]",
            f"{top.matched_seconds:.1f}s" if top else "",
            f"{100 * top.upload_coverage:.0f}%" if top else "",
            _segments_text(r),
            d.reasons[0] if d.reasons else "",
        )
    return table


@app.command()
def screen(
    paths: Annotated[list[Path], typer.Argument(help="Upload files or folders (every file inside is screened).")],
    json_file: Annotated[
        Optional[Path], typer.Option("--json", help="Write JSON Lines (one object per upload) to FILE ('-' = stdout).")
    ] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress bar.")] = False,
) -> None:
    """Screen uploads against the registered works; exit code 1 if any file could not be screened."""
    with _engine(home, config) as engine:
        items, _ = expand_paths(paths, media_only=False)
        if not items:
            err.print("[red]error:[/red] no files to screen")
            raise typer.Exit(2)
        to_stdout = json_file is not None and str(json_file) == "-"
        sink = sys.stdout if to_stdout else (open(json_file, "w") if json_file else None)
        results: list[ScreenResult] = []
        try:
            with _progress(len(items), "screening", quiet=quiet or to_stdout) as advance:
                for given, path in items:
                    r = engine.screen_one(given, path)
                    results.append(r)
                    if sink:
                        sink.write(json.dumps(r.as_dict()) + "\n")
                        sink.flush()
                    advance(given)
        finally:
            if sink and not to_stdout:
                sink.close()
    if not quiet and not to_stdout:
        out.print(screen_table(results))
        counts = {k: sum(1 for r in results if (r.decision and r.decision.outcome == k)) for k in DECISION_STYLE}
        failed = sum(1 for r in results if r.status == "error")
        out.print(f"{len(results)} uploads: {counts['block']} block, {counts['review']} review, "
                  f"{counts['allow']} allow, {failed} error")
    if any(r.status == "error" for r in results):
        raise typer.Exit(1)


@works_app.command("list")
def works_list(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """List registered works with their reference files and code counts."""
    with _engine(home, config) as engine:
        rows = engine.catalog.work_summaries()
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title="registered works")
    for col in ("work id", "title", "owner", "files", "seconds", "video codes", "audio codes", "registered"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["work_id"], r["title"], r["owner"], str(r["refs"]), f"{r['seconds']:.1f}",
                      str(r["video_codes"]), str(r["audio_codes"]), r["created_at"])
    out.print(table)


@works_app.command("remove")
def works_remove(work_id: str, home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Remove a work; its fingerprints leave the index."""
    from index import CatalogError

    with _engine(home, config) as engine:
        try:
            refs = engine.remove_work(work_id)
        except CatalogError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"status": "ok", "work_id": work_id, "removed_refs": refs}))
    else:
        out.print(f"removed work {work_id} ({len(refs)} reference files)")


@index_app.command("stats")
def index_stats(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Codes, index type and file size per signal."""
    with _engine(home, config) as engine:
        stats = engine.index_stats()
    if as_json:
        print(json.dumps(stats))
        return
    out.print(f"home {stats['home']}: {stats['works']} works, {stats['references']} reference files, "
              f"{stats['uploads_screened']} uploads screened; index kind {stats['kind']}, generation {stats['generation']}")
    table = Table()
    for col in ("signal", "codes", "bits/code", "FAISS type", "bytes"):
        table.add_column(col)
    for signal, s in stats["signals"].items():
        table.add_row(signal, str(s["codes"]), str(s["code_bits"]), s["index_type"], str(s["bytes"]))
    out.print(table)


@index_app.command("rebuild")
def index_rebuild(
    home: HomeOpt = None,
    config: ConfigOpt = None,
    as_json: JsonFlag = False,
    refingerprint: Annotated[bool, typer.Option(
        "--refingerprint", help="First recompute every reference's codes from its file (after changing "
        "fingerprint settings or upgrading prescreen).")] = False,
) -> None:
    """Rebuild every index from the catalog (the source of truth)."""
    with _engine(home, config, check_format=not refingerprint) as engine:
        try:
            with _progress(len(engine.catalog.references()), "fingerprinting",
                           quiet=as_json or not refingerprint) as advance:
                stats = engine.rebuild_index(refingerprint, progress=advance)
        except RegisterError as exc:
            err.print(f"[red]error:[/red] {exc}")
            for path, why in exc.failures.items():
                err.print(f"  {path}: {why}")
            raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(stats))
    else:
        counts = ", ".join(f"{k}: {v['codes']} codes" for k, v in stats["signals"].items())
        out.print(f"rebuilt ({stats['kind']}): {counts}")


@config_app.command("show")
def config_show(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Print the configuration in force (defaults merged with the user file)."""
    try:
        if config is None:
            user = resolve_home(home) / "config.toml"
            config = user if user.exists() else None
        cfg = load_config(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps({"version": cfg.version, "source": str(config) if config else "defaults", **cfg.raw}))
    else:
        out.print(f"# config version {cfg.version} from {config or 'built-in defaults'}")
        out.print_json(json.dumps(cfg.raw))


@config_app.command("defaults")
def config_defaults() -> None:
    """Print the documented default config (TOML); redirect it to <home>/config.toml to edit."""
    print(default_toml(), end="")


@app.command()
def demo(
    home: HomeOpt = None,
    media_dir: Annotated[Optional[Path], typer.Option("--media", help="Where to write the demo media (default <home>/demo-media).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate a few reference works and an upload batch, register, screen and print the decisions."""
    from service.demo import run_demo

    home_dir = resolve_home(home)
    media = media_dir or home_dir / "demo-media"
    if not as_json:
        out.print(f"[bold]prescreen demo[/bold]: data in {home_dir}, media in {media}")
    results, expected = run_demo(home_dir, media, say=(lambda m: None) if as_json else out.print)
    if as_json:
        for r in results:
            print(json.dumps({**r.as_dict(), "expected": expected.get(Path(r.upload).name)}))
        return
    out.print(screen_table(results, title="demo: screening decisions"))
    right = sum(1 for r in results if _outcome(r) == expected.get(Path(r.upload).name))
    out.print(f"{right} of {len(results)} uploads got the expected outcome "
              f"(the corrupt file is expected to fail: that is bad input handled per file).")
    out.print("Next: `prescreen screen FILE --json out.jsonl`, `prescreen works list`, `prescreen --help`.")


def _outcome(r: ScreenResult) -> str:
    return r.decision.outcome if r.decision else r.status


def main() -> None:
    app()


if __name__ == "__main__":
    main()
