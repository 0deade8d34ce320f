"""The `captorra-import` command line: a thin shell over the library.

Each command parses its options into a typed job, calls one library function
and turns the report into output and an exit code. Library errors become one
line on stderr and a documented exit code here, in one place; `--debug` shows
the traceback instead.

Exit codes: 0 all rows posted (or valid, when validating); 1 some rows need a
person (invalid, rejected, duplicate, unconfirmed); 2 usage, input, mapping or
journal error before anything was sent, or a configuration stop (the endpoint
or the mapping is misconfigured; possibly after some leads were sent); 3 some
rows failed transiently (a re-run retries them); 4 locked out by another run;
130 interrupted.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import platformdirs
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from importer.assistant import preview_mapping, propose_mapping, write_mapping
from importer.batch import BatchJob, JsonLines, run_batch, summary_document
from importer.captorra import FIELDS, PRODUCTION_ENDPOINT
from importer.errors import ExitCode, ImporterError, UsageError
from importer.journal import Journal, default_journal_path
from importer.mapping import json_schema, load_mapping
from importer.pipeline import (
    STATUSES,
    FileReport,
    ImportJob,
    RunReport,
    import_files,
    rejection_groups,
    rejection_label,
)
from importer.posting import OnUnanswered, PostSettings
from importer.returns import VALID, write_returns
from importer.sandbox import AnswerStyle

log = logging.getLogger("captorra_importer")

EXIT_CODES_HELP = (
    "Exit codes: 0 every row posted (validate: every row valid); 1 some rows need a person "
    "(invalid, rejected, duplicate, unconfirmed); 2 usage, file, mapping or journal error, "
    "nothing sent; or stopped because the endpoint or the mapping is misconfigured, possibly "
    "after some leads were sent; 3 some rows failed transiently, a re-run retries them; "
    "130 interrupted."
)

F = TypeVar("F", bound=Callable[..., Any])

APP_NAME = "captorra-importer"
# Where the page started without arguments (the downloaded program, double-clicked)
# keeps its mappings: the working folder of a double-click is not the user's choice.
CONFIG_DIR = platformdirs.user_config_path(APP_NAME)
PLACES_HELP = (
    f"Files on this computer: the journal of what was sent in {default_journal_path().parent} "
    f"(or --journal, $CAPTORRA_JOURNAL); settings, and the mappings of the page opened "
    f"without arguments, in {CONFIG_DIR}."
)


class _Cli(click.Group):
    """Turns library errors into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImporterError as error:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: {error}", err=True)
            ctx.exit(int(error.exit_code))
        except KeyboardInterrupt:  # a second Ctrl-C: stop at once
            click.echo("error: interrupted before the results were written", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))


def _set_debug(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["debug"] = True
    return value


def debug_option(command: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_set_debug,
        is_eager=True,
        help="Show tracebacks and debug logs.",
    )(command)


def _sheet(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]}, epilog=PLACES_HELP)
@click.version_option(package_name="captorra-importer")
def cli() -> None:
    """Load spreadsheets of leads into Captorra intake, safely.

    Start with `validate` to see what would fail, then `run` to send.
    """


def _header_options() -> list[Callable[[F], F]]:
    return [
        click.option(
            "--header-row",
            type=click.IntRange(min=1),
            help="The row holding the column names (default: the mapping's, else row 1).",
        ),
        click.option(
            "--no-header",
            is_flag=True,
            help="The file has no header row: every row is a lead, columns are "
            "'Column 1', 'Column 2', ...",
        ),
    ]


def _header_row(header_row: int | None, no_header: bool) -> int | None:
    if no_header and header_row is not None:
        raise click.UsageError("use --header-row or --no-header, not both")
    return 0 if no_header else header_row


def _input_options(command: F) -> F:
    for option in reversed(
        [
            click.argument(
                "inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False)
            ),
            click.option(
                "--mapping",
                "-m",
                type=click.Path(path_type=Path),
                help="The mapping file (YAML) saying which column is which field.",
            ),
            click.option(
                "--mappings-dir",
                type=click.Path(path_type=Path, file_okay=False),
                help="Instead of --mapping: a folder of vendor profiles; each input gets the "
                "one whose `match:` rule fits it.",
            ),
            click.option(
                "--output",
                "-o",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Results file (.xlsx or .csv); default: <input>.results.xlsx.",
            ),
            click.option("--sheet", help="Excel sheet name or 0-based index (default: first)."),
            *_header_options(),
            click.option(
                "--only-failed",
                is_flag=True,
                help="INPUTS are results workbooks of an earlier run: import only their rows "
                "not posted.",
            ),
            click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
            click.option(
                "--summary-json",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Also write the summary as JSON to this file.",
            ),
            debug_option,
        ]
    ):
        command = option(command)
    return command


@cli.command(epilog=EXIT_CODES_HELP)
@_input_options
def validate(
    inputs: tuple[Path, ...],
    mapping: Path | None,
    mappings_dir: Path | None,
    output: Path | None,
    sheet: str | None,
    header_row: int | None,
    no_header: bool,
    only_failed: bool,
    quiet: bool,
    summary_json: Path | None,
) -> None:
    """Check spreadsheets against Captorra's rules; send nothing.

    Writes a results workbook with a status and the reasons for every row.
    """
    _configure_logging(quiet=quiet, payloads=False)
    job = ImportJob(
        inputs=inputs,
        mapping=mapping,
        mappings_dir=mappings_dir,
        output=output,
        sheet=_sheet(sheet),
        header_row=_header_row(header_row, no_header),
        only_failed=only_failed,
    )
    _finish(_run_job(job, quiet=quiet), quiet=quiet, summary_json=summary_json)


def _destination_options(command: F) -> F:
    """Where leads go and where that is recorded: every command that can send."""
    for option in reversed(
        [
            click.option(
                "--endpoint",
                envvar="CAPTORRA_ENDPOINT",
                show_envvar=True,
                help=f"Captorra's posting URL (default: {PRODUCTION_ENDPOINT}).",
            ),
            click.option(
                "--sandbox",
                is_flag=True,
                help="Post to the built-in sandbox in this process; nothing leaves the machine.",
            ),
            click.option(
                "--journal",
                type=click.Path(path_type=Path, dir_okay=False),
                envvar="CAPTORRA_JOURNAL",
                show_envvar=True,
                help=f"The journal of what was sent (default: {default_journal_path()}).",
            ),
        ]
    ):
        command = option(command)
    return command


def _posting_options(command: F) -> F:
    """The options of every command that posts: where to, how fast, how patiently."""
    command = _destination_options(command)
    for option in reversed(
        [
            click.option(
                "--concurrency",
                default=8,
                show_default=True,
                type=click.IntRange(1, 256),
                help="Requests in flight at once.",
            ),
            click.option(
                "--rate", type=click.FloatRange(min=0.01), help="At most this many requests/s."
            ),
            click.option(
                "--timeout",
                default=60.0,
                show_default=True,
                type=click.FloatRange(min=0.1),
                help="Seconds for each attempt: connecting, sending and the complete answer.",
            ),
            click.option(
                "--retries",
                default=5,
                show_default=True,
                type=click.IntRange(0, 20),
                help="Retries of a transient failure (429, 5xx, timeouts).",
            ),
            click.option(
                "--log-payloads",
                is_flag=True,
                help="Log every request body (contains personal data: for debugging only).",
            ),
            click.option(
                "--duplicate-window",
                type=click.IntRange(0, 36_500),
                metavar="DAYS",
                help="A lead with the phone or email of one posted in the last DAYS days is a "
                "duplicate and is not sent (default: the mapping's duplicates:, else 30; 0: off).",
            ),
            click.option(
                "--max-retry-after",
                default=300.0,
                show_default=True,
                type=click.FloatRange(min=0),
                help="Longest Retry-After honoured, in seconds; a server asking for more "
                "stops the run (exit 3).",
            ),
            click.option(
                "--stop-after-same-rejection",
                default=10,
                show_default=True,
                type=click.IntRange(min=0),
                help="Stop (exit 2) when this many answers in a row are the same rejection "
                "before any lead was created: the mapping is wrong. 0: never.",
            ),
            click.option(
                "--on-unanswered",
                type=click.Choice(["resend", "hold"]),
                default="resend",
                show_default=True,
                help="A lead whose attempt went unanswered: send it again (flagged as a "
                "possible duplicate), or hold it as `unconfirmed` for a person to check.",
            ),
            _proxy_option,
            _ca_bundle_option,
        ]
    ):
        command = option(command)
    return command


_proxy_option = click.option(
    "--proxy",
    metavar="URL",
    help="HTTP proxy for every request (https goes through it with CONNECT); default: "
    "HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, minus NO_PROXY.",
)
_ca_bundle_option = click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM file of CA certificates to trust besides the system's and certifi's "
    "(a corporate HTTPS-inspecting proxy's CA).",
)


def _post_settings(endpoint: str | None, **options: Any) -> PostSettings:
    """The posting settings from the options every sending command shares."""
    return PostSettings(endpoint=endpoint or PRODUCTION_ENDPOINT, **options)


@cli.command(epilog=EXIT_CODES_HELP)
@_input_options
@click.option(
    "--repost",
    is_flag=True,
    help="Send again rows the journal says were posted, and rows with the phone or email of "
    "a lead posted before.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --repost.")
@click.option("--dry-run", is_flag=True, help="Validate only: exactly `validate`.")
@_posting_options
def run(
    inputs: tuple[Path, ...],
    mapping: Path | None,
    mappings_dir: Path | None,
    output: Path | None,
    sheet: str | None,
    header_row: int | None,
    no_header: bool,
    only_failed: bool,
    quiet: bool,
    summary_json: Path | None,
    endpoint: str | None,
    sandbox: bool,
    concurrency: int,
    rate: float | None,
    timeout: float,
    retries: int,
    journal: Path | None,
    repost: bool,
    yes: bool,
    dry_run: bool,
    log_payloads: bool,
    max_retry_after: float,
    stop_after_same_rejection: int,
    on_unanswered: OnUnanswered,
    proxy: str | None,
    ca_bundle: Path | None,
    duplicate_window: int | None,
) -> None:
    """Validate spreadsheets and post every valid row to Captorra.

    Re-running is safe: the journal remembers what was posted, and those rows are
    reported `already_posted` instead of being sent again.
    """
    if sandbox and endpoint:
        raise click.UsageError("use --sandbox or --endpoint, not both")
    _configure_logging(quiet=quiet, payloads=log_payloads)
    post = None
    if not dry_run:
        if (
            repost
            and not yes
            and not click.confirm(
                "--repost sends rows that were already posted, and rows with the phone or email "
                "of a lead posted before: Captorra will hold them twice. Continue?",
                err=True,
            )
        ):
            raise UsageError("nothing sent: --repost was not confirmed")
        post = _post_settings(
            endpoint,
            concurrency=concurrency,
            rate=rate,
            timeout=timeout,
            retries=retries,
            log_payloads=log_payloads,
            max_retry_after=max_retry_after,
            stop_after_same_rejection=stop_after_same_rejection,
            on_unanswered=on_unanswered,
            proxy=proxy,
            ca_bundle=ca_bundle,
        )
    job = ImportJob(
        inputs=inputs,
        mapping=mapping,
        mappings_dir=mappings_dir,
        output=output,
        sheet=_sheet(sheet),
        header_row=_header_row(header_row, no_header),
        only_failed=only_failed,
        post=post,
        sandbox=sandbox,
        repost=repost,
        journal=journal or default_journal_path(),
        duplicate_window=duplicate_window,
    )
    _finish(_run_job(job, quiet=quiet), quiet=quiet, summary_json=summary_json)


@cli.command(epilog=EXIT_CODES_HELP + " 4 another batch run holds the inbox.")
@click.argument("inbox", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--mappings-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of vendor profiles: mappings with a `match:` rule.",
)
@click.option(
    "--archive",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where imported files go, by date (default: INBOX/archive).",
)
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where results workbooks go (default: INBOX/results).",
)
@click.option(
    "--settle-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Leave files modified more recently than this for the next run (still being copied).",
)
@click.option(
    "--log-file", type=click.Path(path_type=Path, dir_okay=False), help="Also log to this file."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--summary-json",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write what became of every file as JSON.",
)
@click.option("--quiet", "-q", is_flag=True, help="Log nothing but errors.")
@click.option(
    "--returns",
    "write_returns_report",
    is_flag=True,
    help="After the run, write a returns report of its files to the results folder.",
)
@_posting_options
@debug_option
def batch(
    inbox: Path,
    mappings_dir: Path,
    archive: Path | None,
    results_dir: Path | None,
    settle_seconds: float,
    log_file: Path | None,
    log_format: str,
    summary_json: Path | None,
    quiet: bool,
    endpoint: str | None,
    sandbox: bool,
    concurrency: int,
    rate: float | None,
    timeout: float,
    retries: int,
    journal: Path | None,
    log_payloads: bool,
    max_retry_after: float,
    stop_after_same_rejection: int,
    on_unanswered: OnUnanswered,
    proxy: str | None,
    ca_bundle: Path | None,
    duplicate_window: int | None,
    write_returns_report: bool,
) -> None:
    """Import every spreadsheet dropped in INBOX, unattended (the nightly job).

    Each file is imported with the profile that matches it, then moved: to the
    archive when done, to INBOX/rejected (with a .error.txt) when it cannot be
    imported. Files with rows that failed for now stay, and the next run retries
    them. When the endpoint is misconfigured the whole batch stops at once (exit 2)
    and the files stay; a file whose every lead is refused alike goes to
    INBOX/rejected. Overlapping runs are safe: the second one exits 4.
    """
    if sandbox and endpoint:
        raise click.UsageError("use --sandbox or --endpoint, not both")
    _configure_logging(
        quiet=quiet,
        payloads=log_payloads,
        always_info=True,
        log_file=log_file,
        json_lines=log_format == "json",
    )
    job = BatchJob(
        inbox=inbox,
        mappings_dir=mappings_dir,
        post=_post_settings(
            endpoint,
            concurrency=concurrency,
            rate=rate,
            timeout=timeout,
            retries=retries,
            log_payloads=log_payloads,
            max_retry_after=max_retry_after,
            stop_after_same_rejection=stop_after_same_rejection,
            on_unanswered=on_unanswered,
            proxy=proxy,
            ca_bundle=ca_bundle,
        ),
        journal=journal or default_journal_path(),
        archive=archive,
        results=results_dir,
        sandbox=sandbox,
        settle_seconds=settle_seconds,
        duplicate_window=duplicate_window,
        returns=write_returns_report,
    )
    report = run_batch(job)
    if summary_json is not None:
        _write_json(summary_json, summary_document(report))
    sys.exit(int(report.exit_code))


@cli.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False))
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only workbooks imported on or after this day (YYYY-MM-DD).",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only workbooks imported on or before this day (YYYY-MM-DD).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The report workbook (.xlsx; default: returns-<today>.xlsx here).",
)
@debug_option
def returns(
    results: tuple[Path, ...],
    since: datetime | None,
    until: datetime | None,
    output: Path | None,
) -> None:
    """Rows to return to each vendor for credit, from results workbooks (files or folders).

    Writes one workbook: a Summary with each vendor's counts and rates (valid,
    duplicate, invalid, rejected), and a sheet per vendor with its duplicate,
    invalid and rejected rows, their reasons and the original columns.
    """
    target = output or Path(f"returns-{date.today().isoformat()}.xlsx")
    report = write_returns(
        results,
        target,
        since=since.date() if since else None,
        until=until.date() if until else None,
    )
    table = Table(
        "vendor", "rows", "valid %", "duplicate %", "invalid %", "rejected %", "to return"
    )
    for vendor in report.vendors:
        table.add_row(
            vendor.vendor,
            f"{vendor.rows:,}",
            f"{vendor.rate(*VALID):.1%}",
            f"{vendor.rate('duplicate'):.1%}",
            f"{vendor.rate('invalid'):.1%}",
            f"{vendor.rate('rejected'):.1%}",
            f"{len(vendor.returned):,}",
        )
    _console().print(table)
    click.echo(f"Read {report.workbooks} results workbooks. Returns report: {report.path}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--referrer", "referrers", multiple=True, help="Known Referrer GUID (repeat).")
@click.option("--type", "types", multiple=True, help="Known Type GUID (repeat).")
@click.option("--latency", default=0.0, type=click.FloatRange(min=0), help="Seconds per answer.")
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of requests answered with a fault.",
)
@click.option(
    "--retry-after",
    default=1.0,
    type=click.FloatRange(min=0),
    help="Retry-After seconds on injected 503s.",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append each created intake to this JSON-lines file.",
)
@click.option("--seed", type=int, help="Seed for reproducible faults.")
@click.option(
    "--answer-style",
    type=click.Choice([style.value for style in AnswerStyle]),
    default=AnswerStyle.CAPTORRA.value,
    show_default=True,
    help="How a created intake is answered: Captorra's documented shape, or one a real "
    "deployment may use instead.",
)
@click.option(
    "--status",
    type=click.IntRange(200, 599),
    help="Answer every request with this HTTP status and create nothing (401, 403, 404, "
    "a redirect, 429/503 with Captorra-shaped bodies, 200 with a page that is not Captorra's).",
)
@click.option("--redirect", metavar="URL", help="Answer every request with 302 to URL.")
@click.option("--reject-with", metavar="TEXT", help="Refuse every valid lead with this text.")
@click.option(
    "--trickle",
    default=0.0,
    type=click.FloatRange(min=0),
    help="Seconds between the bytes of every answer (a slow network or server).",
)
@click.option(
    "--certfile",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Serve https with this PEM certificate chain (with --keyfile).",
)
@click.option(
    "--keyfile",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The private key of --certfile (PEM).",
)
@debug_option
def sandbox(
    host: str,
    port: int,
    referrers: tuple[str, ...],
    types: tuple[str, ...],
    latency: float,
    fault_rate: float,
    retry_after: float,
    record: Path | None,
    seed: int | None,
    answer_style: str,
    status: int | None,
    redirect: str | None,
    reject_with: str | None,
    trickle: float,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Run a Captorra-compatible API on this machine, for trying imports safely.

    It can also misbehave as real deployments do (--answer-style, --status,
    --redirect, --reject-with, --trickle), to rehearse them.
    """
    from importer import sandbox as sandbox_module
    from importer.posting import is_loopback

    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together")
    if not is_loopback(host):
        click.echo(f"warning: the sandbox listens on {host}, beyond this machine", err=True)
    config = sandbox_module.SandboxConfig(
        referrers=frozenset(g.lower() for g in referrers),
        types=frozenset(g.lower() for g in types),
        latency=latency,
        fault_rate=fault_rate,
        retry_after=retry_after,
        record=record,
        seed=seed,
        answer_style=AnswerStyle(answer_style),
        status=status,
        redirect=redirect,
        reject_with=reject_with,
        trickle=trickle,
    )
    sandbox_module.serve(
        config,
        host=host,
        port=port,
        tls=(certfile, keyfile) if certfile and keyfile else None,
        on_ready=lambda url: click.echo(
            f"Captorra sandbox listening; post to: {url}\nStop it with Ctrl-C.", err=False
        ),
    )


@cli.command("check-connection")
@click.option(
    "--endpoint",
    envvar="CAPTORRA_ENDPOINT",
    show_envvar=True,
    help=f"Captorra's posting URL (default: {PRODUCTION_ENDPOINT}).",
)
@click.option("--sandbox", is_flag=True, help="Check the built-in sandbox (in this process).")
@_proxy_option
@_ca_bundle_option
@click.option(
    "--timeout",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds for each step.",
)
@debug_option
def check_connection(
    endpoint: str | None,
    sandbox: bool,
    proxy: str | None,
    ca_bundle: Path | None,
    timeout: float,
) -> None:
    """Check the way to Captorra step by step; send no lead.

    Resolves the host, connects (through the proxy), checks TLS, then posts `{}`,
    which Captorra refuses ("Please provide the CaptorraId") without creating
    anything. Exit 0 when the endpoint answers like Captorra, 2 otherwise.
    """
    if sandbox and endpoint:
        raise click.UsageError("use --sandbox or --endpoint, not both")
    from importer.connection import check_connection as check

    report = check(
        endpoint or PRODUCTION_ENDPOINT,
        sandbox=sandbox,
        proxy=proxy,
        ca_bundle=ca_bundle,
        timeout=timeout,
    )
    where = "the built-in sandbox" if sandbox else report.endpoint
    click.echo(f"Checking {where}" + (f" through the proxy {report.proxy}" if report.proxy else ""))
    for step in report.steps:
        click.echo(f"  {'ok' if step.ok else 'FAILED':6} {step.name}: {step.detail}")
        if step.fix:
            click.echo(f"         what to do: {step.fix}")
    if report.ok:
        click.echo("The endpoint answers like Captorra: ready to send.")
        return
    click.echo("error: the endpoint cannot be used yet; see the failed step above", err=True)
    sys.exit(int(ExitCode.STOPPED))


@cli.command()
@click.argument("run_id", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--journal",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="CAPTORRA_JOURNAL",
    show_envvar=True,
    help="The journal to read.",
)
@debug_option
def history(run_id: str | None, limit: int, journal: Path | None) -> None:
    """List recent runs from the journal (no personal data), or show one."""
    path = journal or default_journal_path()
    if not path.exists():
        raise click.ClickException(f"no journal at {path} yet: nothing has been run")
    store = Journal(path)
    try:
        records = [store.run(run_id)] if run_id else store.runs(limit=limit)
    finally:
        store.close()
    if run_id and records == [None]:
        raise click.ClickException(f"no run {run_id} in {path}")
    table = Table("run", "started (UTC)", "file", "endpoint", "counts", "exit")
    for record in records:
        assert record is not None
        counts = ", ".join(f"{name} {n}" for name, n in record.counts.items())
        table.add_row(
            record.run_id,
            record.started,
            record.input_name,
            record.endpoint,
            counts or ("running or stopped" if record.ended is None else "-"),
            "" if record.exit_code is None else str(record.exit_code),
        )
    _console().print(table)


@cli.command("init-mapping")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the mapping (default: mappings/<input name>.yaml).",
)
@click.option("--sheet", help="Excel sheet name or 0-based index (default: first).")
@_header_options()[0]
@_header_options()[1]
@click.option("--force", is_flag=True, help="Overwrite an existing mapping file.")
@debug_option
def init_mapping(
    input_path: Path,
    output: Path | None,
    sheet: str | None,
    header_row: int | None,
    no_header: bool,
    force: bool,
) -> None:
    """Propose a commented mapping for a spreadsheet, from its headers and values.

    Every decision is explained in a comment; open the file, check the lines
    marked REVIEW, set CAPTORRA_ID and CAPTORRA_REFERRER, and run `validate`.
    """
    target = output or Path("mappings") / f"{input_path.stem}.yaml"
    proposal = propose_mapping(
        input_path, sheet=_sheet(sheet), header_row=_header_row(header_row, no_header)
    )
    write_mapping(target, proposal.text, overwrite=force)
    review = [decision for decision in proposal.decisions if decision.review]
    click.echo(f"Wrote {target}: {len(proposal.decisions)} decisions, {len(review)} to review.")
    for decision in review:
        click.echo(f"  {decision.reason}")
    click.echo(f"Next: captorra-import check-mapping {target} {input_path}")


@cli.command("check-mapping")
@click.argument("mapping", type=click.Path(path_type=Path, dir_okay=False))
@click.argument(
    "input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--rows", default=10, show_default=True, type=click.IntRange(0, 1000))
@click.option("--sheet", help="Excel sheet name or 0-based index (default: first).")
@debug_option
def check_mapping(mapping: Path, input_path: Path | None, rows: int, sheet: str | None) -> None:
    """Check a mapping file, and show the first rows of INPUT as they would be sent."""
    loaded = load_mapping(mapping)
    if input_path is None:
        click.echo(f"{mapping}: a valid mapping of {len(loaded.mapping.fields)} fields.")
        return
    preview = preview_mapping(loaded, input_path, rows=rows, sheet=_sheet(sheet))
    console = _console()
    console.print(f"{mapping} fits {input_path.name}.")
    if preview.unused_columns:
        unused = ", ".join(repr(name) for name in preview.unused_columns)
        console.print(f"Columns not sent: {unused}")
    for row in preview.rows:
        table = Table(
            title=f"row {row.source_row}: {row.status}",
            title_justify="left",
            show_header=False,
            box=None,
            padding=(0, 2),
        )
        table.add_column(style="bold")
        table.add_column(max_width=100, overflow="ellipsis", no_wrap=True)
        for name, value in row.payload.items():
            table.add_row(name, " / ".join(value.splitlines()))
        for label, text in (("error", row.error), ("warnings", row.warnings)):
            if text:
                table.add_row(label, text, style="red" if label == "error" else "yellow")
        console.print(table)
        console.print()


@cli.command("mapping-schema")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False))
def mapping_schema(output: Path | None) -> None:
    """Print the JSON Schema of mapping files, for editors that validate YAML as you type."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_mapping(output, text, overwrite=True)


@cli.command()
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--mappings-dir",
    default=Path("mappings"),
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where saved mappings are read from and new ones written.",
)
@_destination_options
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
@debug_option
def ui(
    port: int,
    mappings_dir: Path,
    journal: Path | None,
    endpoint: str | None,
    sandbox: bool,
    no_browser: bool,
) -> None:
    """Import spreadsheets from a page in your browser, on this computer only.

    Prints the page's address (it holds a key that keeps other programs out) and
    opens it. Stop it with Ctrl-C: uploaded files are then deleted.
    """
    if sandbox and endpoint:
        raise click.UsageError("use --sandbox or --endpoint, not both")
    from importer.ui import UiConfig, serve  # the web stack loads only for this command

    config = UiConfig(
        port=port,
        mappings_dir=mappings_dir,
        journal=journal or default_journal_path(),
        endpoint=endpoint or PRODUCTION_ENDPOINT,
        sandbox=sandbox,
        open_browser=not no_browser,
    )
    serve(
        config,
        on_ready=lambda url: click.echo(
            f"Captorra importer page: {url}\n"
            "Keep this window open while you use the page: closing it (or Ctrl-C) stops it."
        ),
    )


@cli.command("settings")
@click.option("--captorra-id", help="Save your firm's CaptorraId (digits).")
@click.option("--referrer", help="Save the Referrer GUID Captorra gave this lead source.")
@click.option(
    "--forget-case-types", is_flag=True, help="Forget the case-type GUIDs learnt from mappings."
)
@debug_option
def settings_command(
    captorra_id: str | None, referrer: str | None, forget_case_types: bool
) -> None:
    """Show, or save, the CaptorraId and Referrer used when the environment sets none."""
    from importer import settings

    saved = settings.update_settings(
        captorra_id=captorra_id, referrer=referrer, forget_case_types=forget_case_types
    )
    if captorra_id is not None or referrer is not None or forget_case_types:
        click.echo(f"Saved {settings.settings_path()}")
    used = settings.effective(saved)
    for label, name in (("CaptorraId", "captorra_id"), ("Referrer", "referrer")):
        value, source = used[name].value, used[name].source
        where = {"environment": f" (from {settings.VARIABLES[name]})", "settings": ""}
        click.echo(f"{label + ':':12} {value + where.get(source, '') if value else 'not set'}")
    click.echo(f"{'Case types:':12} {len(saved.case_types):,} GUIDs learnt from mappings")
    click.echo(f"{'File:':12} {settings.settings_path()}")


@cli.command()
def fields() -> None:
    """List the Captorra fields a mapping can fill."""
    table = Table("field", "required", "kind", "limit", "meaning")
    for field in FIELDS:
        table.add_row(
            field.name,
            "yes" if field.required else "",
            str(field.kind),
            str(field.max_length or ""),
            field.description,
        )
    _console().print(table)


# ---------------------------------------------------------------- running and reporting


def _configure_logging(
    *,
    quiet: bool,
    payloads: bool,
    always_info: bool = False,
    log_file: Path | None = None,
    json_lines: bool = False,
) -> None:
    """Log to stderr (and a file): progress lines when unattended, never personal data."""
    formatter = (
        JsonLines()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    detail = logging.DEBUG if payloads else logging.INFO
    interactive = sys.stderr.isatty() and not always_info
    screen = logging.StreamHandler(sys.stderr)
    screen.setLevel(logging.ERROR if quiet else logging.WARNING if interactive else detail)
    handlers: list[logging.Handler] = [screen]
    if log_file is not None:  # a log file always gets the lines: --quiet is for the screen
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        handlers[-1].setLevel(detail)
    for handler in handlers:
        handler.setFormatter(formatter)
    for old in log.handlers:
        old.close()
    log.handlers[:] = handlers
    log.propagate = False
    log.setLevel(detail)
    if payloads:
        log.warning("--log-payloads: the log now contains personal data (names, phones, emails)")


class _ProgressObserver:
    """A progress bar on a terminal; a log line every few seconds otherwise."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.counts: dict[str, int] = {}
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.last_line = 0.0
        self.done = 0
        self.total: int | None = None

    def file_started(self, path: Path, rows: int | None) -> None:
        self.counts, self.done, self.total = {}, 0, rows
        if self.quiet:
            return
        if sys.stderr.isatty():
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(path.name, total=rows, counts="")
        else:
            log.info("%s: %s rows to import", path.name, rows if rows is not None else "?")

    def rows_done(self, status: str, count: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + count
        self.done += count
        text = ", ".join(f"{name} {n}" for name, n in self.counts.items())
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=count, counts=text)
        elif not self.quiet and time.monotonic() - self.last_line > 5:
            self.last_line = time.monotonic()
            log.info("progress: %d/%s rows (%s)", self.done, self.total or "?", text)

    def file_finished(self, report: FileReport) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if not self.quiet and not sys.stderr.isatty():
            log.info(
                "%s: done in %.1fs (%s), exit %d",
                report.input.name,
                report.seconds,
                ", ".join(f"{n} {c}" for n, c in report.counts.items()),
                report.exit_code,
            )


def _run_job(job: ImportJob, *, quiet: bool) -> RunReport:
    return import_files(job, observer=_ProgressObserver(quiet=quiet))


def _finish(report: RunReport, *, quiet: bool, summary_json: Path | None) -> None:
    if summary_json is not None:
        _write_json(summary_json, _summary_document(report))
    if not quiet:
        _print_summary(report)
    printed: set[str] = set()
    for file in report.files:
        # A configuration stop is said once, even with --quiet: the run cannot cure it.
        message = file.error or (file.stopped if file.configuration_stop else "")
        if message and message not in printed:
            printed.add(message)
            click.echo(f"error: {message}", err=True)
    sys.exit(int(report.exit_code))


def _summary_document(report: RunReport) -> dict[str, Any]:
    return {
        "endpoint": report.endpoint,
        "exit_code": int(report.exit_code),
        "files": [
            {
                "input": str(file.input),
                "results": str(file.results) if file.results else None,
                "counts": {status: file.counts[status] for status in STATUSES},
                "rows": sum(file.counts.values()),
                "seconds": round(file.seconds, 3),
                "exit_code": int(file.exit_code),
                "error": file.error or None,
                "stopped": file.stopped or None,
                "results_note": file.results_note or None,
                "stop_kind": file.stop_kind,
                "rejections": rejection_groups(file),
            }
            for file in report.files
        ],
    }


def _write_json(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _print_summary(report: RunReport) -> None:
    console = _console()
    for file in report.files:
        if file.error:
            continue
        rows = sum(file.counts.values())
        console.print(f"[bold]{file.input}[/bold] -> {report.endpoint}")
        table = Table()
        table.add_column("status")
        table.add_column("rows", justify="right")
        for status in STATUSES:
            if file.counts[status]:
                table.add_row(status, f"{file.counts[status]:,}")
        table.add_row("total", f"{rows:,}", style="bold")
        console.print(table)
        rate = rows / file.seconds if file.seconds else 0.0
        console.print(f"{file.seconds:.1f}s, {rate:,.0f} rows/s. Results: {file.results}")
        if file.results_note:
            console.print(f"[bold]Note:[/bold] {file.results_note}")
        if file.rejections:
            grouped = Table("rejected by Captorra")
            grouped.add_column("rows", justify="right")
            for (error, type_guid), count in file.rejections.most_common():
                grouped.add_row(escape(rejection_label(error, type_guid)), f"{count:,}")
            console.print(grouped)
        if file.stopped:
            console.print(f"[bold]Stopped early:[/bold] {escape(file.stopped)}")
    code = report.exit_code
    console.print(f"exit code {int(code)}: {_EXPLAINED[code]}")


_EXPLAINED = {
    ExitCode.OK: "all done",
    ExitCode.NEEDS_A_PERSON: "some rows need a person: see Status and Error in the results",
    ExitCode.STOPPED: "stopped: a file, the mapping or the endpoint needs fixing first: "
    "see the error",
    ExitCode.RETRY_LATER: "some rows failed for now: re-run the same command to retry them",
    ExitCode.LOCKED: "another run holds the lock",
    ExitCode.INTERRUPTED: "interrupted: re-run to send the rest",
}


def _console() -> Console:
    """stdout; wide enough not to wrap run ids and paths when it is a pipe or a log file."""
    return Console(width=None if sys.stdout.isatty() else 160)


def main() -> None:
    _never_fail_on_encoding()
    if getattr(sys, "frozen", False) and len(sys.argv) == 1:
        _started_by_double_click()
    cli(prog_name="captorra-import")


def _never_fail_on_encoding() -> None:
    """Print `?` for what the console or file cannot encode, instead of a traceback.

    A cp1252 console, or output redirected to a file on Windows (Task Scheduler),
    cannot encode a Chinese file name; stdout's default there is to raise.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


def _started_by_double_click() -> None:
    """The downloaded program opened without arguments: the page, in the browser.

    Any free port, so a second double-click never fails on a taken one; mappings
    in the user's settings folder. The console window stays: it says where the
    page is, and closing it stops the importer. Should it fail, the window waits
    for Enter so that the message can be read before it closes.
    """
    arguments = ["ui", "--port", "0", "--mappings-dir", str(CONFIG_DIR / "mappings")]
    try:
        cli(arguments, prog_name="captorra-import")
    except SystemExit as stop:
        if stop.code not in (None, 0) and sys.stdin is not None and sys.stdin.isatty():
            input("Press Enter to close this window.")
        raise
