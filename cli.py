"""prescreen's command line: thin; parses, calls the application layer (service/app.py), prints.

Every command has a human form (rich tables) and a machine form (--json).
Exit codes: 0 success, 1 something failed (a file, a registration), 2 usage.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fingerprint import REGISTRY
from service import (
    ConfigError, ScreenResult, clock_from_environment, default_toml, expand_paths, load_config, resolve_home,
)
from service.app import App
from service.errors import PrescreenError
from service.oplog import log_failure

# -- help that reads normally ------------------------------------------------
# typer 0.29's rich help prints each parameter's Python type: "--json <bool>" and "--help <bool>" after
# flags, "paths... <list[Path]>" for arguments, and "{paths}..." in the usage line. The command classes
# below give the parameters the usual forms instead: nothing after a flag, an upper-case placeholder after
# an option that takes a value (PATH, TEXT, NUMBER), and "PATHS..." / "[PATHS]..." for arguments. With
# typer versions that already print these forms the overrides are unused.
_PLACEHOLDERS = {"path": "PATH", "str": "TEXT", "int": "INTEGER", "float": "NUMBER"}


def _plain_param(param) -> None:
    if getattr(param, "_prescreen_plain", False):
        return
    param._prescreen_plain = True
    if isinstance(param, TyperOption):
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            try:
                kind = param.display_type(None).strip("<>")
            except Exception:  # noqa: BLE001 - a type typer cannot name: keep its own display
                return
            kind = kind[5:-1] if kind.startswith("list[") else kind
            param.metavar = _PLACEHOLDERS.get(kind.lower(), kind.upper())
    elif isinstance(param, TyperArgument):
        name = (param.metavar or param.name or "").upper()
        many = param.nargs != 1
        shown = f"{name}..." if many else name
        param.metavar = shown
        param.display_type_rich = lambda ctx: None
        param._usage_display_name = lambda: shown if param.required else (f"[{name}]..." if many else f"[{name}]")


class _PlainParams:
    """Mixin for typer's command and group classes: parameters shown as ``_plain_param`` says."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            _plain_param(param)
        return params


class _PlainHelpCommand(_PlainParams, TyperCommand):
    pass


class _PlainHelpGroup(_PlainParams, TyperGroup):
    pass


class _Typer(typer.Typer):
    """typer.Typer whose groups and commands print plain help (see above)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(cls=_PlainHelpGroup, **kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _PlainHelpCommand)
        register = super().command(*args, **kwargs)
        return lambda function: register(_guarded(function))


# -- no traceback reaches the user ---------------------------------------------
# Every command runs inside ``_guarded``: what can go wrong outside one file's screening (the data
# folder, the catalog, a lock, the disk, an interruption, a bug) ends the command with an 'error:'
# line in words and exit code 1 (2 for usage: settings, a data folder that is not one). The traceback
# of an unexpected failure goes to <home>/logs/prescreen.log, never to the terminal.


def _passed_through() -> tuple[type, ...]:
    """typer's own exits and usage errors (typer may bundle its own copy of click): already said."""
    classes = {typer.Exit, typer.Abort, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")}
    try:
        import click

        classes |= {click.exceptions.Exit, click.exceptions.Abort, click.ClickException}
    except ImportError:
        pass
    return tuple(classes)


_PASSED_THROUGH = _passed_through()


def _guarded(command):
    @functools.wraps(command)
    def run(*args, **kwargs):
        _refuse_undecodable(command, kwargs)
        home = kwargs.get("home")
        try:
            return command(*args, **kwargs)
        except _PASSED_THROUGH:
            raise
        except KeyboardInterrupt:
            _say_error("interrupted: what was finished is recorded; run the same command again to go on "
                       "(a manifest batch resumes where it stopped)", "stopped")
            raise typer.Exit(1) from None
        except BrokenPipeError:  # `prescreen ... | head`: the reader left; nothing more to say
            _silence_stdout()
            raise typer.Exit(1) from None
        except ConfigError as exc:  # (config show and defaults read the file themselves)
            _say_error(exc, "config error")
            raise typer.Exit(2) from None
        except PrescreenError as exc:  # the application layer's errors: their exit code
            _say_error(exc, "config error" if isinstance(exc.__cause__, ConfigError) else "error")
            if exc.details.get("failures"):
                for path, why in exc.details["failures"].items():
                    _say(f"  {path}: {why}", console=err)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _say_error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the last guard: a message, not a traceback
            log = log_failure(resolve_home(home), f"command {command.__name__.replace('_', ' ')} failed", exc)
            what = "ran out of memory" if isinstance(exc, MemoryError) else "internal error"
            detail = " ".join(str(exc).split())[:300]
            _say_error(f"{what} ({type(exc).__name__}{': ' + detail if detail else ''})"
                       + (f"; the details are in {log}" if log else ""))
            raise typer.Exit(1) from None

    return run


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


_FILE_NAME_PARAMS = {"paths", "upload"}  # text parameters that are (or may be) file names


def _refuse_undecodable(command, kwargs: dict) -> None:
    """Usage error for text options with bytes that are not UTF-8 (the catalog stores UTF-8 text).
    File names (paths) may have them: they are screened and shown escaped."""
    for name, value in kwargs.items():
        if name in _FILE_NAME_PARAMS:
            continue
        bad = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and not _is_utf8(v)]
        if bad:
            _say_error(f"{_option_label(command, name)}: not valid UTF-8 text ({shown(bad[0])})")
            raise typer.Exit(2)


def _option_label(command, name: str) -> str:
    """'--work-id' for the parameter ``work_id`` of a command (its first option name), else 'WORK_ID'."""
    import typing

    try:
        hint = typing.get_type_hints(command, include_extras=True).get(name)
        decls = [d for info in getattr(hint, "__metadata__", ())  # Annotated: the first name is kept as default
                 for d in (getattr(info, "default", None), *(getattr(info, "param_decls", None) or ()))
                 if isinstance(d, str)]
    except Exception:  # noqa: BLE001 - only a label
        decls = []
    return next((d for d in decls if d.startswith("-")), name.upper())


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


app = _Typer(
    name="prescreen",
    help="Content-fingerprint pre-upload filter: rights holders register works; uploads are screened "
    "against them and get an explained decision (allow, review, block, or the work's own mute-audio or "
    "track) with the matched seconds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
works_app = _Typer(help="Registered works: list, show, remove; their rules, priority, licences and excluded "
                   "time ranges.", no_args_is_help=True)
index_app = _Typer(help="Inspect or rebuild the FAISS indexes (derived from the catalog).", no_args_is_help=True)
config_app = _Typer(help="Show the configuration in force or the documented defaults.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"prescreen {version('prescreen')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("prescreen (not installed)")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print prescreen's version and exit.")] = False,
          catalog: Annotated[Optional[str], typer.Option(
              "--catalog", envvar="PRESCREEN_CATALOG", metavar="URL",
              help="A PostgreSQL catalog (postgresql://...) instead of the data folder's SQLite file "
                   "(default: [catalog] url in the config).")] = None) -> None:
    """Content-fingerprint pre-upload filter: rights holders register works; uploads are screened against them
    and get an explained decision (allow, review, block, or the work's own mute-audio or track) with the
    matched seconds."""
    _CATALOG_URL[0] = catalog


_CATALOG_URL: list[str | None] = [None]  # the global --catalog (read by _engine)


app.add_typer(works_app, name="works")
app.add_typer(index_app, name="index")
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="PRESCREEN_HOME", metavar="DIR",
                 help="Data folder (catalog + indexes). Default ./prescreen-data."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", metavar="FILE",
                 help="TOML config file (default: <home>/config.toml if present, else built-in defaults)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the table.")]
JsonLinesFlag = Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of the table: one object "
                                             "per line, one line per row.")]
VerboseFlag = Annotated[bool, typer.Option("--verbose", "-v", help="After the table, every decision's full "
                                           "reasons (works, seconds, shares, similarity, the rule that fired).")]
WorkIdArg = Annotated[str, typer.Argument(help="The work's id (see `prescreen works list`).")]
MAX_ID = 2 ** 63 - 1  # row ids are SQLite integers
REVIEW_OUTCOMES = ("allow", "block", "mute-audio", "track", "upheld", "released")  # screening, then dispute
ReviewIdArg = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The review's number (see `prescreen review list`).")]
ActorOpt = Annotated[str, typer.Option("--actor", envvar="PRESCREEN_ACTOR",
                                       help="Who is acting (recorded in the audit log).")]

# every outcome policy can give, most restrictive first (the summary line follows this order)
DECISION_STYLE = {"block": "bold red", "review": "bold yellow", "mute-audio": "bold dark_orange", "track": "cyan",
                  "allow": "green"}


# -- user data on the terminal ------------------------------------------------
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def shown(value: object) -> str:
    """Text from a file, a manifest or the catalog (file names, work ids, titles, owners, reasons, notes,
    messages quoting them), safe for a terminal: control characters (C0, DEL, C1: ``\\033[2J`` clears the
    screen) and every other non-printable character (format controls such as right-to-left overrides,
    separators, unassigned code points) become visible escapes: ``\\x1b``, ``\\u202e``, ``\\n``. A byte
    of a file name that is not UTF-8 shows as ``\\xff``. Every table cell and message with user data goes
    through here; JSON output is json.dumps' standard escaping instead.
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _cell(*lines: object, style: str = "") -> Text:
    """A table cell of one or more lines of user data, each line shown safely (see ``shown``)."""
    return Text("\n".join(shown(line) for line in lines), style=style)


def _say(message: object, style: str = "", console: Optional[Console] = None) -> None:
    """Print one line carrying user data (never read as markup; controls escaped)."""
    (console or out).print(Text(shown(message), style=style), soft_wrap=True)


def _say_error(message: object, what: str = "error") -> None:
    """'error: MESSAGE' on stderr. Messages carry user data (paths, titles, reasons): never read as markup,
    control characters escaped."""
    err.print(Text.assemble((f"{what}:", "red"), " ", shown(message)), soft_wrap=True)


def _dumps(obj) -> str:
    """Standard JSON (no NaN or Infinity, which most parsers refuse): a number that is not finite
    becomes null."""
    try:
        return json.dumps(obj, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), default=str, allow_nan=False)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _when(iso: Optional[str]) -> str:
    """'2026-11-24T20:01:18+00:00' -> '2026-11-24 20:01' (tables; --json keeps the full timestamp)."""
    return iso[:16].replace("T", " ") if iso else ""


def _table(*columns: str, title: Optional[str] = None, no_wrap: tuple[str, ...] = ()) -> Table:
    """A listing table whose cells wrap instead of being cut off with '…' in narrow terminals.

    ``no_wrap`` names short columns (counts, dates) that stay on one line; the text columns give way.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in no_wrap)
    return table


def _row(table: Table, *cells) -> None:
    """Add a row; str cells are shown literally (a title like 'x [/]' or 'clip [bold]' is not markup) and
    safely (controls escaped, see ``shown``); a cell of several lines is passed as ``_cell(...)``."""
    table.add_row(*(_cell(c) if isinstance(c, str) else c for c in cells))


def _parse_rules(texts: Optional[list[str]]) -> Optional[list[dict]]:
    if not texts:
        return None
    from policy import Rule

    rules = []
    for text in texts:
        try:
            rules.append(Rule.from_dict(json.loads(text)).as_dict())
        except (ValueError, TypeError, RecursionError) as exc:  # not JSON, or a RuleError naming the field
            _say_error(f"bad --rule {text!r}: {exc if not isinstance(exc, RecursionError) else 'nested too deeply'}")
            raise typer.Exit(2) from None
    return rules


def _app(home: Optional[Path], config: Optional[Path], check_format: bool = True, create: bool = False) -> App:
    """Open the data folder and its catalog (the global --catalog, else the config's [catalog] url, else the
    folder's SQLite file; see App.open: only commands that add works may start a new one)."""
    return App.open(home, config, create=create, check_format=check_format, clock=clock_from_environment(),
                    catalog=_CATALOG_URL[0])


@app.command()
def register(
    paths: Annotated[list[str], typer.Argument(help="Media files or folders (every media file inside is registered).")],
    work_id: Annotated[str, typer.Option("--work-id", help="Identifier of the work (new or existing).")],
    title: Annotated[str, typer.Option("--title", help="Human title of the work.")] = "",
    owner: Annotated[str, typer.Option("--owner", help="Rights holder.")] = "",
    rule: Annotated[Optional[list[str]], typer.Option(
        "--rule", metavar="JSON", help='A rule of this work, as JSON, e.g. \'{"action": "mute-audio", "modality": "audio"}\' '
        "(repeatable; evaluated in order before the global rules).")] = None,
    priority: Annotated[Optional[bool], typer.Option(
        "--priority/--no-priority", help="Priority work: stricter thresholds, borderline matches to review.")] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
    actor: ActorOpt = "operator",
    as_json: JsonFlag = False,
) -> None:
    """Register the reference files of a work (new or existing).

    All or nothing: if any file fails, or the content already belongs to another owner's work (an ownership
    conflict), nothing is written."""
    rules = _parse_rules(rule)
    with _app(home, config, create=True) as app_:
        items, _ = expand_paths(paths, media_only=True)
        try:
            with _progress([given for given, _ in items], "fingerprinting",
                           quiet=as_json or len(items) < 2) as advance:
                result = app_.register(paths, work_id, title, owner, progress=advance, rules=rules,
                                       priority=priority, actor=actor)
        except PrescreenError as exc:
            if not as_json:
                raise
            print(_dumps({"status": "error", "error": str(exc), "code": exc.code,
                          "failures": exc.details.get("failures", {})}))
            raise typer.Exit(exc.exit_code) from exc
    if as_json:
        print(_dumps({"status": "ok", **result.as_dict()}))
        return
    table = Table(title=_cell(f"registered work {result.work_id}"))
    columns = _code_columns()
    for col in ("file", "seconds", *(s.code_column for s in columns), "excluded (another owner's)"):
        table.add_column(col)
    for f in result.files:
        excluded = ", ".join(f"{e['start']:g}-{e['end']:g} s ({e['work_id']})" for e in f.get("excluded", ()))
        _row(table, f["path"], f"{f['duration']:.1f}", *(str(f.get(f"{s.name}_codes", 0)) for s in columns),
             excluded or "none")
    out.print(table)
    for line in result.warnings:
        _say(f"warning: {line}", "yellow")
    for f in result.files:
        for line in f.get("warnings", ()):
            _say(f"warning: {f['path']}: {line}", "yellow")
    for path in result.skipped:
        _say(f"skipped (not a media file name): {path}", "dim")
    for path in result.already_registered:
        _say(f"skipped (already registered for {result.work_id}): {path}", "dim")


class _progress:
    """A rich progress bar on stderr (no-op when quiet) over ``labels``, the files in processing order.

    Yields an ``advance(finished="")`` callable to call after each file; the label shown is the file in
    progress (the next one), not the one just finished.
    """

    def __init__(self, labels: list[str], what: str, quiet: bool):
        self.labels, self.what = [escape(shown(Path(label).name)) for label in labels], what
        self.quiet = quiet or not err.is_terminal and len(labels) < 2

    def __enter__(self):
        if self.quiet:
            return lambda finished="": None
        self.bar = Progress(
            TextColumn(f"{self.what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=err, transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(self.labels[0] if self.labels else "", total=len(self.labels))
        done = 0

        def advance(finished: str = "") -> None:
            nonlocal done
            done += 1
            self.bar.update(task, advance=1, description=self.labels[done] if done < len(self.labels) else "")

        return advance

    def __exit__(self, *exc):
        if not self.quiet:
            self.bar.stop()


# Short "why" per rule name (policy.decide); the full reasons are in --verbose and --json.
RULE_WORDS = {
    "exact-file": "identical file (same SHA-256)",
    "most-of-upload": "most of the upload is the work",
    "long-stretch": "a long stretch of the work",
    "most-of-work": "most of the work is used",
    "fair-use-band": "short excerpt: maybe quotation",
    "fair-use-preset": "fair-use band: maybe quotation",
    "audio-under-other-sound": "music under other sound",
    "priority-borderline": "borderline, priority work",
    "below-similarity": "too weak to count",
    "below-duration": "too short to count",
    "licensed-uploader": "uploader is licensed",
    "no-rule": "no rule applies",
    "no-match": "no registered work matched",
}
MODALITY_WORDS = {"both": "audio+video", "video": "video", "audio": "audio"}


def _rule_words(rule: str) -> str:
    if rule.startswith("work-rule:"):
        return "the rights holder's rule"
    return RULE_WORDS.get(rule, rule)


def _segments_text(m, limit: int = 2) -> str:
    """'0.0-30.0 → 0.1-30.0' per matched stretch (upload seconds → work seconds), at most ``limit``."""
    lines = [f"{s.upload_start:.1f}-{s.upload_end:.1f}→{s.ref_start:.1f}-{s.ref_end:.1f}" for s in m.segments[:limit]]
    if len(m.segments) > limit:
        lines.append(f"+{len(m.segments) - limit} more")
    return "\n".join(lines)


def screen_table(results: list[ScreenResult], title: str = "screening decisions", max_works: int = 3,
                 width: Optional[int] = None) -> Table:
    """One compact row per upload; per matched work (at most ``max_works``): seconds, share of the upload,
    the matched stretches and a short why (the full reasons: ``print_reasons``, --verbose, --json)."""
    table = Table(title=title, box=box.SIMPLE_HEAD, show_lines=True, caption_justify="left",
                  caption="matched: seconds of the upload found in the work, and their share of the upload; "
                  "upload s→work s: where they are on both timelines. Full reasons: --verbose or --json.")
    table.add_column("upload", overflow="fold")
    table.add_column("decision", no_wrap=True)
    table.add_column("matched", justify="right", no_wrap=True)
    # keep '12.0-30.0→0.1-18.0' on one line where there is room (a min_width too wide for the console
    # makes Rich clip the table instead of wrapping it)
    table.add_column("work\nupload s→work s", overflow="fold",
                     min_width=18 if (width or out.width) >= 76 else None)
    table.add_column("why", overflow="fold")
    for r in results:
        name = Path(r.upload).name
        if r.decision is None:
            _row(table, name, Text("error", style="bold magenta"), "", "", r.error or "")
            continue
        d = r.decision
        outcome = Text(d.outcome, style=DECISION_STYLE.get(d.outcome, "bold"))
        damaged = ["(damaged file; --verbose)"] if r.warnings else []
        if not r.matches:
            _row(table, name, outcome, "", "", _cell(_rule_words(d.rule), *damaged))
            continue
        per_work = {w.work_id: w for w in d.works}
        matched, spans, whys = [], [], []  # lines of the cells (user data shown line by line)
        for m in r.matches[:max_works]:
            segments = _segments_text(m).split("\n")
            spans += [f"{m.work_id} ({MODALITY_WORDS.get(m.modality, m.modality)})", *segments]
            matched += [f"{m.matched_seconds:.1f} s", f"{100 * m.upload_coverage:.0f}%"] + [""] * (len(segments) - 1)
            w = per_work.get(m.work_id)
            why = _rule_words(w.rule) if w else ""
            if w and (len(r.matches) > 1 or w.outcome != d.outcome):
                why = f"{m.work_id}: {w.outcome}, {why}"
            whys.append(why)
        if len(r.matches) > max_works:
            spans.append(f"+{len(r.matches) - max_works} more works (--json lists them)")
        _row(table, name, outcome, _cell(*matched), _cell(*spans), _cell(*whys, *damaged))
    return table


def print_reasons(results: list[ScreenResult]) -> None:
    """The full reasons of every decision, one block per upload (screen --verbose)."""
    out.print("\n[bold]reasons[/bold]")
    for r in results:
        head = Text.assemble((shown(Path(r.upload).name), "bold"), " — ",
                             (r.decision.outcome, DECISION_STYLE.get(r.decision.outcome, "bold"))
                             if r.decision else ("error", "bold magenta"))
        out.print(head)
        for line in (r.decision.reasons if r.decision else [r.error or ""]):
            out.print(Padding(_cell("• " + line), (0, 0, 0, 2)))
        for line in r.warnings:
            out.print(Padding(_cell("• warning: " + line, style="yellow"), (0, 0, 0, 2)))


def _check_output_file(path: Path, option: str) -> None:
    """Usage error (exit 2) unless ``path`` can be written: checked before any work starts."""
    why = None
    if path.is_dir():
        why = "is a folder; give a file name"
    elif not path.parent.is_dir():
        why = f"the folder {path.parent} does not exist"
    elif not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        why = "permission denied"
    if why:
        _say_error(f"{option} {path}: cannot write the file: {why}")
        raise typer.Exit(2)


def _open_output(path: Path, option: str):
    try:
        return open(path, "w")
    except OSError as exc:
        _say_error(f"{option} {path}: cannot write the file: {exc.strerror or exc}")
        raise typer.Exit(2) from exc


def screen_summary(results: list[ScreenResult]) -> str:
    """'7 uploads: 2 block, 1 review, 1 mute-audio, 0 track, 2 allow, 1 error' (every outcome, even if 0)."""
    counts = {k: 0 for k in DECISION_STYLE}
    failed = 0
    for r in results:
        if r.decision is None:
            failed += 1
        else:
            counts[r.decision.outcome] = counts.get(r.decision.outcome, 0) + 1
    parts = [f"{n} {k}" for k, n in counts.items()]
    return f"{_plural(len(results), 'upload')}: " + ", ".join(parts + [f"{failed} error"])


@app.command()
def screen(
    paths: Annotated[Optional[list[str]], typer.Argument(  # str: an empty argument is not '.' (the current folder)
        help="Upload files or folders (every file inside is screened).")] = None,
    manifest: Annotated[Optional[Path], typer.Option(
        "--manifest", metavar="FILE", help="CSV or JSON Lines: path, upload_id, uploader_id, declared_use (quotation, parody, "
        "criticism, review, ...). Its files are screened with that context.")] = None,
    json_file: Annotated[
        Optional[Path], typer.Option("--json", metavar="FILE",
                                     help="Write JSON Lines (one object per upload) to FILE ('-' = stdout).")
    ] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress bar.")] = False,
    rescreen: Annotated[bool, typer.Option("--rescreen", help="Screen manifest upload ids again even when they "
                                           "were screened before with the same file (default: resume, reusing "
                                           "the stored decision), and files whose earlier screening did not "
                                           "finish.")] = False,
    retry_unfinished: Annotated[bool, typer.Option(
        "--retry-unfinished", help="Screen again only the files whose earlier screening did not finish (the "
        "process was killed or crashed, say out of memory): otherwise they are reported as that error, not "
        "tried again, so one such file cannot stop a batch for ever.")] = False,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", metavar="N", min=0, max=256,
        help="Worker processes that decode, fingerprint and search the files (default: [service] jobs in the "
        "config, 0 = one per core). This process records every decision in the batch's order: the records are "
        "the same for any N; 1 screens in this process alone.")] = None,
    verbose: VerboseFlag = False,
) -> None:
    """Screen uploads against the registered works and print each decision.

    Exit code 1 if any file could not be screened (it is reported and recorded, and the batch goes on)."""
    to_stdout = json_file is not None and str(json_file) == "-"
    if json_file is not None and not to_stdout:
        _check_output_file(json_file, "--json")
    with _app(home, config) as app_:  # no catalog: refused, never "allow" against nothing
        items = app_.upload_items(paths or [], manifest)
        sink = sys.stdout if to_stdout else (_open_output(json_file, "--json") if json_file else None)
        results: list[ScreenResult] = []
        try:
            with _progress([given for given, _, _ in items], "screening", quiet=quiet or to_stdout) as advance:
                for r in app_.screen(items, rescreen=rescreen, retry_unfinished=retry_unfinished, jobs=jobs):
                    given = r.upload
                    results.append(r)
                    if sink:
                        sink.write(_dumps(r.as_dict()) + "\n")
                        sink.flush()
                    advance(given)
        except BaseException:  # interrupted, or the catalog failed: what was done is recorded; show it
            if results and not quiet and not to_stdout:
                _print_screening(results, verbose)
                out.print(f"stopped after {len(results)} of {len(items)} files")
            raise
        finally:
            if sink and not to_stdout:
                sink.close()
    if not quiet and not to_stdout:
        _print_screening(results, verbose)
    if any(r.status == "error" for r in results):
        raise typer.Exit(1)


def _print_screening(results: list[ScreenResult], verbose: bool) -> None:
    out.print(screen_table(results))
    if verbose:
        print_reasons(results)
    pending = [r for r in results if r.review_id]
    if pending:
        out.print(f"{_plural(len(pending), 'upload')} {'waits' if len(pending) == 1 else 'wait'} for review: "
                  "`prescreen review list`")
    reused = [r for r in results if r.already_screened_at]
    if reused:
        _say(f"{_plural(len(reused), 'row')} reused an earlier result (the same upload id with the same file was "
             "screened before; --rescreen screens again): "
             + ", ".join(f"{r.upload_id} ({_when(r.already_screened_at)})" for r in reused[:20])
             + (f" and {len(reused) - 20} more" if len(reused) > 20 else ""), "dim")
    out.print(screen_summary(results))


def _code_columns() -> list:
    """The signals whose code counts the tables show (``code_column``), in registry order."""
    return [s for s in REGISTRY if s.code_column]


@works_app.command("list")
def works_list(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonLinesFlag = False) -> None:
    """List registered works with their reference files and code counts. --json: JSON Lines."""
    with _app(home, config) as app_:
        works = app_.works()
    if as_json:
        _print_lines(w.as_dict() for w in works)
        return
    columns = _code_columns()
    table = _table("work id", "title", "owner", "files", "seconds", "codes " + " / ".join(s.name for s in columns),
                   "registered", title="registered works", no_wrap=("files", "seconds", "registered"))
    for w in works:
        _row(table, w.work_id, w.title, w.owner, str(w.refs), f"{w.seconds:.1f}",
             " / ".join(str(w.codes.get(s.name, 0)) for s in columns), w.created_at[:10])
    out.print(table)


@works_app.command("remove")
def works_remove(work_id: WorkIdArg, home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator",
                 as_json: JsonFlag = False) -> None:
    """Remove a work; its fingerprints leave the index, and the filter's decisions that rested on it are
    released (people's decisions stay)."""
    with _app(home, config) as app_:
        res = app_.remove_work(work_id, actor=actor)
    if as_json:
        print(_dumps(res.as_dict()))
    else:
        n, r, w = len(res.removed_refs), len(res.released), len(res.withdrawn_reviews)
        _say(f"removed work {work_id} ({_plural(n, 'reference file')}); {_plural(r, 'upload')} released, "
             f"{_plural(w, 'pending review')} withdrawn")
        for line in res.warnings:
            _say(f"warning: {line}", "yellow")


@index_app.command("stats")
def index_stats(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Codes, index type and file size per signal."""
    with _app(home, config) as app_:
        stats = app_.index_stats().as_dict()
    if as_json:
        print(_dumps(stats))
        return
    _say(f"home {stats['home']}: {stats['works']} works, {stats['references']} reference files, "
         f"{stats['uploads_screened']} uploads screened (index generation {stats['generation']})")
    _say(_kind_text(stats))
    table = Table()
    for col in ("signal", "codes", "bits/code", "search", "FAISS type", "bytes"):
        table.add_column(col)
    for name, s in stats["signals"].items():
        table.add_row(name, str(s["codes"]), str(s["code_bits"]), s["search"], s["index_type"], str(s["bytes"]))
    out.print(table)


def _kind_text(stats: dict) -> str:
    hashed = [k for k, s in stats["signals"].items() if s["search"] == "hash"]
    note = f" ({' and '.join(hashed)}: exact hashes, found by table lookup)" if hashed else ""
    if stats["kind"] != "ivf":
        return f"index kind {stats['kind']}: exact search{note}"
    fallback = [k for k, s in stats["signals"].items() if s["search"] == "exact"]
    if not fallback:
        return f"index kind ivf: approximate search over inverted lists{note}"
    return (f"index kind ivf, but exact search for {' and '.join(fallback)}: an IVF index needs at least "
            f"{stats['ivf_min_codes']} codes to train (nlist x ivf_min_train_per_list); the exact index is "
            f"used until the catalog grows{note}")


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
    with _app(home, config, check_format=not refingerprint) as app_:
        with _progress(app_.reference_paths(), "fingerprinting", quiet=as_json or not refingerprint) as advance:
            stats = app_.rebuild_index(refingerprint, progress=advance).as_dict()
    if as_json:
        print(_dumps(stats))
    else:
        counts = ", ".join(f"{k}: {v['codes']} codes" for k, v in stats["signals"].items())
        _say(f"rebuilt: {counts}")
        _say(_kind_text(stats))


@config_app.command("show")
def config_show(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Print the configuration in force (defaults merged with the user file)."""
    if config is None:
        folder = resolve_home(home)
        user = folder / "config.toml"
        config = user if user.exists() else None
        if not folder.is_dir():
            _say(f"note: there is no data folder {folder}; showing the built-in defaults", console=err)
    cfg = load_config(config)  # a bad file: a usage error (see _guarded)
    if as_json:
        print(_dumps({"version": cfg.version, "source": str(config) if config else "defaults", **cfg.shown()}))
    else:
        _say(f"# config version {cfg.version} from {config or 'built-in defaults'}")
        out.print_json(_dumps(cfg.shown()))


@config_app.command("defaults")
def config_defaults() -> None:
    """Print the documented default config (TOML); redirect it to <home>/config.toml to edit."""
    print(default_toml(), end="")


@app.command()
def demo(
    home: HomeOpt = None,
    media_dir: Annotated[Optional[Path], typer.Option(
        "--media", metavar="DIR", help="Where to write the demo media (default <home>/demo-media).")] = None,
    as_json: JsonLinesFlag = False,
    verbose: VerboseFlag = False,
) -> None:
    """Generate a few reference works and an upload batch, register, screen and print the decisions."""
    from service.demo import run_demo

    home_dir = resolve_home(home)
    media = media_dir or home_dir / "demo-media"
    if not as_json:
        out.print(Text.assemble(("prescreen demo", "bold"), shown(f": data in {home_dir}, media in {media}")))
    results, expected = run_demo(home_dir, media, say=(lambda m: None) if as_json else _say,
                                 clock=clock_from_environment())
    if as_json:
        for r in results:
            print(_dumps({**r.as_dict(), "expected": expected.get(Path(r.upload).name)}))
        return
    out.print(screen_table(results, title="demo: screening decisions"))
    if verbose:
        print_reasons(results)
    out.print(screen_summary(results))
    right = sum(1 for r in results if _outcome(r) == expected.get(Path(r.upload).name))
    out.print(f"{right} of {len(results)} uploads got the expected outcome "
              f"(the corrupt file is expected to fail: that is bad input handled per file).")
    where = "" if home is None else f" --home {home_dir}"
    _say(f"Next: `prescreen works list{where}`, `prescreen screen FILE{where} --json out.jsonl`, "
         f"`prescreen review list{where}`, `prescreen --help`.")


# -- rights workflow ---------------------------------------------------------
review_app = _Typer(help="The human review queue: list, show evidence, decide.", no_args_is_help=True)
uploaders_app = _Typer(help="Uploaders: strikes and history.", no_args_is_help=True)
uploads_app = _Typer(help="Screened uploads: the latest, and one upload's outcome, evidence and history.",
                     no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(uploaders_app, name="uploaders")
app.add_typer(uploads_app, name="uploads")

OUTCOMES = ("allow", "review", "block", "mute-audio", "track")


@uploads_app.command("list")
def uploads_list(
    outcome: Annotated[Optional[str], typer.Option("--outcome", callback=lambda v: v and _one_of(v, OUTCOMES),
                                                   help="Only uploads with this current outcome.")] = None,
    uploader: Annotated[Optional[str], typer.Option("--uploader", help="Only this uploader's uploads.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many, newest first.")] = 50,
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonLinesFlag = False,
) -> None:
    """The newest screened uploads and their current outcome. --json: JSON Lines, one upload per line."""
    with _app(home, config) as app_:
        rows = [r.as_dict() for r in app_.uploads(outcome, uploader, limit)]
    if as_json:
        _print_lines(rows)
        return
    table = _table("upload", "uploader", "screened (UTC)", "decision", "outcome", "set by", "file",
                   title=f"uploads (newest first, at most {limit})", no_wrap=("screened (UTC)",))
    for r in rows:
        _row(table, r["upload_id"], r["uploader_id"] or "", _when(r["screened_at"]),
             r["decision"] or r["status"], r["outcome"] or r["status"], r["outcome_by"] or "", r["path"])
    out.print(table)
    if not rows:
        _say("no uploads" + (" with that outcome" if outcome else "") + (" of that uploader" if uploader else ""))


@uploads_app.command("show")
def uploads_show(
    upload: Annotated[str, typer.Argument(help="The upload's id, or the path of a screened file.")],
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """One upload: current outcome (who set it, when), the screening's reasons, the matched works and
    seconds on both timelines, its reviews and disputes, and its audit history. --json: one document."""
    with _app(home, config) as app_:
        info = app_.upload(upload).as_dict()

    def human(o):
        out.print(Text.assemble(shown(f"upload {o['upload_id']}"), " — ", (o["outcome"] or o["status"], "bold"),
                                shown(f" (set by {o['outcome_by'] or 'system'} {_when(o['outcome_at'])}; screening "
                                      f"decided {o['decision'] or o['status']} {_when(o['screened_at'])})")))
        _say(f"file: {o['path']}" + (f"; uploader {o['uploader_id']}" if o["uploader_id"] else "")
             + (f"; declared use {o['declared_use']}" if o["declared_use"] else ""))
        if o["error"]:
            _say(f"error: {o['error']}", "red")
        for reason in o["reasons"]:
            _say(f"  • {reason}")
        if o["works"]:
            works = _table("work", "outcome", "rule", title="per work")
            for w in o["works"]:
                _row(works, w["work_id"], w["outcome"], w.get("rule", ""))
            out.print(works)
        segs = _table("work", "modality", "upload (s)", "work (s)", "similarity", "stream", title="matched seconds")
        for m in o["matches"]:
            for seg in m["segments"]:
                _row(segs, m["work_id"], seg["modality"], f"{seg['upload_start']:.1f}–{seg['upload_end']:.1f}",
                     f"{seg['ref_start']:.1f}–{seg['ref_end']:.1f}", f"{seg['similarity']:.2f}",
                     seg.get("stream") or "")
        if o["matches"]:
            out.print(segs)
        if o["reviews"]:
            reviews = _table("review", "kind", "status", "due", "reviewer", "outcome", "note", title="reviews")
            for r in o["reviews"]:
                _row(reviews, str(r["review_id"]), r["kind"], r["status"], _when(r["due_at"]), r["reviewer"] or "",
                     r["outcome"] or "", r["note"] or "")
            out.print(reviews)
        history = _table("#", "time (UTC)", "actor", "action", title="history", no_wrap=("time (UTC)",))
        for a in o["audit"]:
            _row(history, str(a["audit_id"]), _when(a["at"]), a["actor"], a["action"])
        out.print(history)
    _print(info, as_json, human)


def _seconds(value: Optional[float], name: str) -> Optional[float]:
    """A typer callback: seconds must be finite ('nan' and 'inf' parse as floats)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{name} must be a finite number of seconds, got {value}")
    return value


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    """A typer callback: ``value`` must be one of ``choices`` (a misspelling is a usage error, exit 2)."""
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(choices)}")
    return value


def _plural(n: int, noun: str) -> str:
    """'1 file', '2 files' (nouns that take -s)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fail(exc: Exception, code: int = 1):
    _say_error(exc)
    raise typer.Exit(code) from exc


def _print_lines(rows) -> None:
    """JSON Lines: one object per row (listings; a single record is one document, see ``_print``)."""
    for row in rows:
        print(_dumps(row))


def _print(obj, as_json: bool, human) -> None:
    if as_json:
        print(_dumps(obj))
    else:
        human(obj)


@works_app.command("set-rule")
def works_set_rule(
    work_id: WorkIdArg,
    rule: Annotated[Optional[list[str]], typer.Option("--rule", help="Rule as JSON (repeatable); replaces the "
                                                      "work's rules. Fields: action, band, modality, min_seconds, "
                                                      "min_upload_share, min_reference_share.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the work's own rules.")] = False,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False,
) -> None:
    """Set what happens when this work matches (block, mute-audio, review, track, allow)."""
    if not rule and not clear:
        _say_error("give --rule JSON (repeatable) or --clear")
        raise typer.Exit(2)
    rules = [] if clear else _parse_rules(rule)
    with _app(home, config) as app_:
        change = app_.set_rules(work_id, rules, actor=actor)
    _print(change.as_dict(), as_json, lambda o: _say(
        f"{work_id}: {_plural(len(rules), 'rule')} set; {_plural(len(change.released), 'earlier decision')} released"))


@works_app.command("priority")
def works_priority(
    work_id: WorkIdArg,
    on: Annotated[bool, typer.Option("--on/--off", help="Mark or unmark the work as priority.")] = True,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator",
) -> None:
    """Priority works (new releases, protection warning lists) use stricter thresholds."""
    with _app(home, config) as app_:
        app_.set_priority(work_id, on, actor=actor)
    _say(f"{work_id}: priority {'on' if on else 'off'}")


@works_app.command("license")
def works_license(
    work_id: WorkIdArg,
    uploader_id: Annotated[str, typer.Argument(help="The uploader's id (from the batch manifest).")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the licence back.")] = False,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator",
) -> None:
    """Allow-list an uploader licensed for a work: their uploads are allowed on it."""
    with _app(home, config) as app_:
        app_.license(work_id, uploader_id, granted=not revoke, actor=actor)
    _say(f"{uploader_id} {'no longer licensed' if revoke else 'licensed'} for {work_id}")


@works_app.command("exclude")
def works_exclude(
    work_id: WorkIdArg,
    start: Annotated[float, typer.Argument(callback=lambda v: _seconds(v, "START"), help="Reference seconds, start.")],
    end: Annotated[float, typer.Argument(callback=lambda v: _seconds(v, "END"), help="Reference seconds, end.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (public domain, licensed clip...).")],
    ref_id: Annotated[Optional[int], typer.Option("--ref", min=1, max=MAX_ID,
                                                  help="Only this reference file (default: all).")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False,
) -> None:
    """Exclude a time range of the work from matching; earlier decisions that relied only on it are released."""
    with _app(home, config) as app_:
        res = app_.exclude(work_id, start, end, reason, actor=actor, ref_id=ref_id).as_dict()
    _print(res, as_json, lambda o: _say(
        f"excluded {work_id} {start:g}-{end:g}s (#{o['exclusion_id']}); released: "
        + (", ".join(f"{r['upload_id']} {r['from']}→{r['to']}" for r in o["released"]) or "none")))


@works_app.command("unexclude")
def works_unexclude(
    work_id: WorkIdArg,
    exclusion_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The exclusion's id (`works show`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn.")],
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False,
) -> None:
    """Withdraw an exclusion: its seconds match again from the next screening on."""
    with _app(home, config) as app_:
        res = app_.unexclude(work_id, exclusion_id, reason, actor=actor).as_dict()
    _print(res, as_json, lambda o: _say(
        f"exclusion #{exclusion_id} of {work_id} ({o['start']:g}-{o['end']:g} s) withdrawn; earlier decisions "
        "stay as they are"))


@works_app.command("show")
def works_show(work_id: WorkIdArg, home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """A work's files, rules, priority, licences and exclusions."""
    with _app(home, config) as app_:
        info = app_.work(work_id).as_dict()
    _print(info, as_json, _print_work)


def _print_work(o: dict) -> None:
    """The human view of ``works show``: who owns it, what happens on a match, what never matches."""
    _say(f"{o['work_id']}: {o['title']} — owned by {o['owner'] or '(no owner given)'}"
         + ("  [priority: stricter thresholds, borderline cases to review]" if o["priority"] else ""))
    files = _table("ref", "kind", "seconds", "file", title="reference files", no_wrap=("ref", "kind", "seconds"))
    for r in o["references"]:
        _row(files, str(r["ref_id"]), r["kind"], f"{r['seconds']:.1f}", r["path"])
    out.print(files)
    if o["rules"]:
        rules = _table("action", "band", "modality", "min seconds", "min upload share", "min reference share",
                       title="own rules (checked first; the first that holds wins)")
        for r in o["rules"]:
            _row(rules, r.get("action", ""), r.get("band", "any"), r.get("modality", "any"),
                 f"{r.get('min_seconds', 0.0):g}", f"{r.get('min_upload_share', 0.0):g}",
                 f"{r.get('min_reference_share', 0.0):g}")
        out.print(rules)
    else:
        out.print(Text("rules: the global [[policy.rules]] of the config (`prescreen works set-rule` adds its own)"))
    if o["exclusions"]:
        excl = _table("id", "reference", "from (s)", "to (s)", "reason", "added", title="exclusions (never match)")
        for e in o["exclusions"]:
            _row(excl, str(e["exclusion_id"]), "every original file" if e["ref_id"] is None else f"ref {e['ref_id']}",
                 f"{e['start']:.1f}", f"{e['end']:.1f}", e["reason"], _when(e["created_at"]))
        out.print(excl)
    else:
        out.print("exclusions: none")
    _say("licensed uploaders: " + (", ".join(o["licensed_uploaders"]) or "none"))


@review_app.command("list")
def review_list(
    all_: Annotated[bool, typer.Option("--all", help="Decided and expired reviews too.")] = False,
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonLinesFlag = False,
) -> None:
    """Pending reviews, most urgent first (expired ones are resolved first). --json: JSON Lines."""
    with _app(home, config) as app_:
        rows = [r.as_dict() for r in app_.reviews(pending_only=not all_)]

    def human(rows):
        columns = ["id", "kind", "upload", "uploader", "automatic", "status", "due (UTC)"]
        table = _table(*columns, *(["outcome"] if all_ else []),  # pending reviews have no outcome yet
                       title="review queue" + (" (all)" if all_ else " (pending)"))
        for r in rows:
            _row(table, str(r["review_id"]), r["kind"], r["upload_id"], r["uploader_id"] or "",
                 r["decision"] or "", r["status"], _when(r["due_at"]), *([r["outcome"] or ""] if all_ else []))
        out.print(table)
        if not rows:
            out.print("no reviews" + ("" if all_ else " pending (`--all` lists decided ones too)"))
    if as_json:
        _print_lines(rows)
    else:
        human(rows)


@review_app.command("show")
def review_show(
    review_id: ReviewIdArg,
    out_dir: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Where to write the evidence "
                                                    "files (default <home>/evidence/review-ID).")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Evidence for a review: matched segments on both timelines, side-by-side key frames (PNG files) and,
    for audio matches, the matched seconds of both files to play (WAV) with their spectrograms (PNG)."""
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        _say_error(f"--out {out_dir}: is a file; give a folder for the thumbnails")
        raise typer.Exit(2)
    with _app(home, config) as app_:
        info = app_.review_evidence(review_id, out_dir).as_dict()

    def human(o):
        r = o["review"]
        out.print(Text.assemble((f"review {r['review_id']}", "bold"), shown(
            f" ({r['kind']}, {r['status']}, due {r['due_at']}) — upload {o['upload']['upload_id']} "
            f"{o['upload']['path']}")))
        _say(f"uploader {o['upload']['uploader_id'] or 'unknown'}, declared use "
             f"{o['upload']['declared_use'] or 'none'}; automatic decision {o['upload']['decision']}")
        if o["dispute"]:
            _say(f"dispute: {o['dispute']['reason']}")
        for reason in o["reasons"]:
            _say(f"• {reason}")
        table = Table(title="matched segments")
        for col in ("work", "modality", "upload seconds", "work seconds", "similarity", "evidence files"):
            table.add_column(col, overflow="fold")
        for e in o["evidence"]:
            for s in e["segments"]:
                files = [s["thumbnail"]] if s["thumbnail"] else []
                files += [s["audio"][k] for k in ("spectrogram", "upload", "reference")] if s["audio"] else []
                _row(table, e["work_id"], s["modality"], f"{s['upload_start']:.1f}–{s['upload_end']:.1f}",
                              f"{s['ref_start']:.1f}–{s['ref_end']:.1f}", f"{s['similarity']:.2f}",
                              "\n".join(files))
        out.print(table)
    _print(info, as_json, human)


@review_app.command("decide")
def review_decide(
    review_id: ReviewIdArg,
    outcome: Annotated[str, typer.Option("--outcome", callback=lambda v: _one_of(v, REVIEW_OUTCOMES),
                                         help="Screening review: allow, block, mute-audio or "
                                         "track. Dispute review: upheld or released.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who decided (recorded in the audit log).")],
    note: Annotated[str, typer.Option("--note", help="Why.")] = "",
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Record a reviewer's decision; it applies to the upload at once."""
    with _app(home, config) as app_:
        rv = app_.decide_review(review_id, reviewer, outcome, note).as_dict()
    _print(rv, as_json, lambda r: _say(f"review {review_id} decided: {r['outcome']} by {r['reviewer']}"))


@app.command()
def dispute(
    upload_id: Annotated[str, typer.Argument(help="The upload's id (from the manifest or the JSON output).")],
    reason: Annotated[str, typer.Option("--reason", help="The uploader's counter-notice: why the use is lawful.")],
    uploader: Annotated[str, typer.Option("--uploader", help="The disputing uploader's id: the upload's "
                                          "uploader of record.")],
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """The uploader of record disputes a decision; it goes to review with a deadline."""
    with _app(home, config) as app_:
        res = app_.dispute(upload_id, reason, uploader).as_dict()
    _print(res, as_json, lambda r: _say(
        f"dispute #{r['dispute_id']} filed; review {r['review_id']} due {r['due_at']}"))


@app.command()
def notice(
    upload: Annotated[str, typer.Argument(help="Upload id from the catalog, or the published file.")],
    work: Annotated[str, typer.Option("--work", help="The work the notice is for.")],
    start: Annotated[Optional[float], typer.Option("--start", callback=lambda v: _seconds(v, "--start"),
                                                   help="Only from this upload second.")] = None,
    end: Annotated[Optional[float], typer.Option("--end", callback=lambda v: _seconds(v, "--end"),
                                                 help="Only up to this upload second.")] = None,
    only: Annotated[Optional[str], typer.Option("--only", help="Only this signal: video or audio (say, the "
                                                "picture of a copy whose soundtrack is not the work's).")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False,
) -> None:
    """Takedown notice for a published upload: record it, and keep that variant down on re-upload."""
    if only not in (None, "video", "audio"):
        _say_error("--only takes video or audio")
        raise typer.Exit(2)
    span = None
    if start is not None or end is not None:
        span = (start or 0.0, end if end is not None else float("inf"))
        if not span[1] > span[0] >= 0:
            _say_error("give 0 <= --start < --end (upload seconds)")
            raise typer.Exit(2)
    with _app(home, config) as app_:
        res = app_.notice(work, upload, actor=actor, span=span,
                          modalities=(only,) if only else ("video", "audio")).as_dict()
    _print(res, as_json, lambda r: _say(
        f"notice #{r['notice_id']}: {r['path']} taken down for {work}; its fingerprints joined the work "
        f"(reference {r['ref_id']}), so re-uploads stay down"))


@uploaders_app.command("show")
def uploaders_show(uploader_id: Annotated[str, typer.Argument(help="The uploader's id.")], home: HomeOpt = None, config: ConfigOpt = None,
                   as_json: JsonFlag = False) -> None:
    """An uploader's uploads and strikes (active and expired)."""
    with _app(home, config) as app_:
        info = app_.uploader(uploader_id).as_dict()

    def human(o):
        flag = ("  repeat infringer", "bold red") if o["repeat_infringer"] else ""
        out.print(Text.assemble(shown(f"uploader {o['uploader_id']}: {len(o['uploads'])} uploads, "
                                      f"{o['active_strikes']} active strikes"), flag))
        table = _table("upload", "works", "reason", "given", "expires", "active", title="strikes")
        for s in o["strikes"]:
            _row(table, s["upload_id"], ", ".join(s["work_ids"]), s["reason"], _when(s["created_at"]), _when(s["expires_at"]),
                          "yes" if s["active"] else "expired")
        out.print(table)
        uploads = _table("upload", "screened (UTC)", "decision", "outcome", "file", title="uploads",
                         no_wrap=("screened (UTC)",))
        for u in o["uploads"]:
            _row(uploads, u["upload_id"], _when(u["screened_at"]), u["decision"] or "", u["outcome"] or "", u["path"])
        out.print(uploads)
    _print(info, as_json, human)


@app.command()
def audit(
    upload: Annotated[Optional[str], typer.Option("--upload", help="Only this upload id.")] = None,
    work: Annotated[Optional[str], typer.Option("--work", help="Only this work id.")] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Only this action.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check the log's keyed chain instead: exit 1 if any "
                                         "record was edited, removed or inserted, or a work or upload changed, "
                                         "behind its back. Prints the head to keep elsewhere.")] = False,
    head: Annotated[Optional[str], typer.Option("--head", metavar="RECORDS:MAC",
                                                help="With --verify: a head printed earlier (kept outside "
                                                "the catalog); the log must still hold it.")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of the table: one record per "
                                           "line; with --verify one JSON document.")] = False,
) -> None:
    """The append-only audit log: every decision, review, dispute, rule change and catalog change."""
    if head is not None and not verify:
        _fail(ValueError("--head is only used with --verify"), 2)
    if verify:
        with _app(home, config) as app_:
            check = app_.verify_audit(head).as_dict()
        def human(c):
            out.print(Text.assemble(f"{c['records']} audit records; head {c['head'] or '(none)'}; ",
                                    ("intact", "green") if not c["problems"] else
                                    (f"{len(c['problems'])} problems:", "red")))
            for problem in c["problems"]:
                _say(problem)
        _print(check, as_json, human)
        if check["problems"]:
            raise typer.Exit(1)
        return
    with _app(home, config) as app_:
        rows = [r.as_dict() for r in app_.audit_log(upload, work, action)]
    if as_json:
        _print_lines(rows)
        return
    table = _table("#", "time (UTC)", "actor", "action", "upload", "work", "config", "evidence",
                   title="audit log")
    table.caption = "evidence shortened; `prescreen audit --json` has it in full"
    limit = 160 if out.width >= 140 else 60
    for r in rows:
        ev = _dumps(r["evidence"])
        _row(table, str(r["audit_id"]), _when(r["at"]), r["actor"], r["action"], r["upload_id"] or "",
             r["work_id"] or "", r["config_version"] or "", ev[:limit] + ("…" if len(ev) > limit else ""))
    out.print(table)


@app.command()
def report(
    png: Annotated[Optional[Path], typer.Option("--png", metavar="FILE", help="Write the chart here "
                                                "(default <home>/report.png).")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Transparency report: uploads screened, decisions, reviews, disputes, overturned share, per work."""
    if png is not None and (png.is_dir() or png.suffix.lower() != ".png"):
        _say_error(f"--png {png}: " + ("is a folder; give a file name for the chart" if png.is_dir() else
                                       "the chart is a PNG image: give a file name ending in .png"))
        raise typer.Exit(2)
    with _app(home, config) as app_:
        rep = app_.report(png).as_dict()
    chart = rep["chart"]
    if as_json:
        print(_dumps(rep))
        return
    out.print(Text.assemble(("transparency report", "bold"), f" ({rep['generated_at']}, config {rep['config_version']})"))
    out.print(f"{rep['uploads_screened']} uploads screened, {rep['errors']} could not be read")
    table = Table(title="decisions")
    for col in ("outcome", "automatic decisions", "current outcomes"):
        table.add_column(col)
    for k in ("allow", "track", "mute-audio", "review", "block"):
        table.add_row(k, str(rep["decisions"].get(k, 0)), str(rep["outcomes"].get(k, 0)))
    out.print(table)
    table = _table("", "kind", "status", "count", title="reviews and disputes")
    for key, n in sorted(rep["reviews"].items()):
        kind, _, status = key.partition(":")
        _row(table, "review", kind, status, str(n))
    for status, n in sorted(rep["disputes"].items()):
        _row(table, "dispute", "", status, str(n))
    out.print(table)
    out.print(f"reviewers decided screening reviews as: {_counts(rep['review_outcomes'])}")
    out.print(f"of {_plural(rep['restrictive_decisions'], 'upload')} ever blocked or muted, "
              f"{rep['overturned']} were released on dispute ({100 * rep['overturned_share']:.0f}% overturned); "
              f"{rep['released_by_rights_holders']} decisions released by rights holders' exclusions or rules")
    table = Table(title="per work")
    for col in ("work", "matched uploads", "decisions", "outcomes", "restricted", "overturned"):
        table.add_column(col)
    for w, d in sorted(rep["per_work"].items()):
        _row(table, w, str(d["matched_uploads"]), _counts(d["decisions"]), _counts(d["outcomes"]),
             str(d["restricted"]), str(d["overturned"]))
    out.print(table)
    _say(f"chart: {chart}")


def _counts(counts) -> str:
    """{'block': 3, 'allow': 1} -> 'block 3, allow 1' (a table cell, not a dict); a plain number as it is."""
    if not isinstance(counts, dict):
        return str(counts)
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


# -- the HTTP service ------------------------------------------------------------
keys_app = _Typer(help="API keys of the HTTP service (`prescreen serve`): create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
ROLE_NAMES = ("operator", "rights_holder", "reviewer", "uploader")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="The key's name: the actor the audit log records for its writes.")],
    role: Annotated[str, typer.Option("--role", help="operator, rights_holder, reviewer or uploader.")],
    subject: Annotated[Optional[str], typer.Option(
        "--subject", help="Whom the key acts for: a rights holder's owner name (its works' --owner), an uploader's "
                          "uploader id.")] = None,
    home: HomeOpt = None, config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False,
) -> None:
    """Create an API key and print it once: the catalog keeps only its SHA-256."""
    role = role.replace("-", "_")
    with _app(home, config) as app_:
        made = app_.create_key(name, role, subject, actor=actor)
    if as_json:
        print(_dumps({"key": made.key, **made.record.as_dict()}))
        return
    print(made.key)  # (alone on stdout: `KEY=$(prescreen keys create ...)`)
    _say(f"created {made.record.role} key {shown(name)}"
         + (f" for {shown(made.record.subject)}" if made.record.subject else "")
         + ": keep it now, it is not shown again", console=err)


@keys_app.command("list")
def keys_list(home: HomeOpt = None, config: ConfigOpt = None, as_json: JsonLinesFlag = False) -> None:
    """The keys (never their secrets): name, role, subject, prefix, created, revoked."""
    with _app(home, config) as app_:
        keys = app_.keys()
    if as_json:
        _print_lines(k.as_dict() for k in keys)
        return
    table = _table("name", "role", "subject", "prefix", "created", "by", "revoked", title="API keys")
    for k in keys:
        _row(table, k.name, k.role, k.subject or "", k.prefix, _when(k.created_at), k.created_by,
             _when(k.revoked_at) if k.revoked_at else "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")], home: HomeOpt = None,
                config: ConfigOpt = None, actor: ActorOpt = "operator", as_json: JsonFlag = False) -> None:
    """Revoke a key at once (audited); requests with it get 401 from then on."""
    with _app(home, config) as app_:
        rec = app_.revoke_key(name, actor=actor)
    _print(rec.as_dict(), as_json, lambda r: _say(f"revoked key {shown(r['name'])} ({r['role']})"))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    create: Annotated[bool, typer.Option("--create", help="Make the catalog if the data folder has none "
                                         "(otherwise a folder without one is refused).")] = False,
    home: HomeOpt = None, config: ConfigOpt = None,
) -> None:
    """Serve the HTTP API and the web pages (FastAPI on uvicorn) over the data folder or catalog: API docs at
    /docs, pages at /. Keys: `prescreen keys create`."""
    import socket

    import uvicorn

    from service.http import create_app

    try:  # the address first: a bad one is the command's error, not the server's exit 3
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
    except (OSError, UnicodeError, ValueError) as exc:
        _say_error(f"cannot listen on {shown(host)} port {port}: {shown(str(exc))}")
        raise typer.Exit(1)
    with listening:
        api = create_app(home, config, catalog=_CATALOG_URL[0], clock=clock_from_environment(), create=create)
        _say(f"prescreen serving {shown(str(resolve_home(home)))} on http://{shown(host)}:{listening.getsockname()[1]} "
             "(API docs /docs, pages /)", console=err)
        server = uvicorn.Server(uvicorn.Config(api, log_level="warning", timeout_graceful_shutdown=10))
        try:
            server.run(sockets=[listening])
        except KeyboardInterrupt:  # SIGTERM or Ctrl-C once the server has shut down gracefully
            pass
        finally:  # (the lifespan's shutdown closes it; also when the server never started)
            api.state.service.close()
    _say("prescreen serve stopped", console=err)


def _outcome(r: ScreenResult) -> str:
    return r.decision.outcome if r.decision else r.status


def _terminate(signum, frame) -> None:
    """SIGTERM stops like Ctrl-C: the file in progress is released, not left as a crash."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="prescreen")


if __name__ == "__main__":
    main()
