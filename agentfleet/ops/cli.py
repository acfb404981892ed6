"""`agentfleet status`, `agentfleet dlq list|show|redrive|purge`, `agentfleet send`.

Each finds the fleet in `--outputs` (what `pulumi stack output --json` prints; `-` reads stdin)
and talks to it with the cloud's SDK and the operator's own credentials (docs/operations.md says
which permissions each command needs).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentfleet.agent.backends.admin import DeadLetter, OutputsError, QueueAdmin, open_admin
from agentfleet.ops import redrive as moves
from agentfleet.ops.outputs import FleetOutputs, OutputsFileError, load_fleet_outputs
from agentfleet.ops.send import JsonLinesError, parse_json_lines, send_batched
from agentfleet.ops.status import collect

OUTPUTS_HELP = "the stack's outputs: a file holding `pulumi stack output --json`, or - for stdin"
OutputsOpt = Annotated[str, typer.Option("--outputs", help=OUTPUTS_HELP, metavar="OUTPUTS")]
FleetOpt = Annotated[
    str | None, typer.Option("--fleet", help="which fleet, when the outputs hold several", metavar="FLEET")
]
IdsOpt = Annotated[
    list[str] | None, typer.Option("--id", help="only this dead letter (repeat for more)", metavar="ID")
]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="only dead letters whose reason contains this", metavar="REASON")
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="at most this many dead letters", metavar="LIMIT")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="say what would be done, do nothing")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
#: How many dead letters `show` and a dry run look through.
SCAN = 1000

dlq_app = typer.Typer(
    rich_markup_mode=None,  # click's help layout, as every agentfleet command (agentfleet/cli.py)
    help="The fleet's dead letters: list, show, redrive to the work queue, purge.",
)


def _fail(message: str, code: int = 2) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]{message}[/]", highlight=False)
    raise typer.Exit(code)


@contextmanager
def opened(outputs: str, fleet: str | None) -> Iterator[tuple[FleetOutputs, QueueAdmin]]:
    """The chosen fleet and its admin; a bad outputs file exits 2, a failing cloud call exits 1,
    each with one line."""
    try:
        chosen = load_fleet_outputs(outputs, fleet)
        admin = open_admin(chosen.values)
    except (OutputsFileError, OutputsError) as error:
        _fail(f"agentfleet: {error}")
    try:
        yield chosen, admin
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail(
            "agentfleet: interrupted. Dead letters taken but not moved were given back; rerun the same "
            "command to finish (a redrive resends nothing whose copy was already confirmed)",
            130,
        )
    except Exception as error:  # the cloud's own error classes: one line, not a traceback
        _fail(f"agentfleet: {chosen.cloud} ({admin.name}) call failed: {type(error).__name__}: {error}", 1)
    finally:
        admin.close()


def _selection(ids: list[str] | None, reason: str, limit: int | None) -> moves.Selection:
    return moves.Selection(keys=frozenset(ids or ()), reason=reason, limit=limit)


def _progress(console: Console, what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def status(
    outputs: OutputsOpt,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", help="refresh until Ctrl-C")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="seconds between refreshes", metavar="INTERVAL")
    ] = 5.0,
) -> None:
    """Waiting, in flight, dead-lettered, oldest message age, agents, the last dead-letter reasons."""
    with opened(outputs, fleet) as (chosen, admin):
        if as_json:
            print(json.dumps(collect(admin, chosen.label, chosen.cloud).as_json(), indent=2))
            return
        console = Console()
        if not watch:
            console.print(collect(admin, chosen.label, chosen.cloud).table())
            return
        try:
            with Live(console=console, auto_refresh=False) as live:
                while True:
                    shown = collect(admin, chosen.label, chosen.cloud)
                    live.update(
                        shown.table(f"fleet {shown.fleet} · {shown.cloud} · {time.strftime('%H:%M:%S')}")
                    )
                    live.refresh()
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass


def _letter_json(letter: DeadLetter, with_body: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": letter.key,
        "reason": letter.reason,
        "delivery_count": letter.delivery_count,
        "enqueued_at": letter.enqueued_at,
    }
    if with_body:
        data["attributes"] = letter.attributes
        try:
            data["body"] = json.loads(letter.body)
        except ValueError:
            data["body"] = letter.text()
    return data


@dlq_app.command("list")
def dlq_list(
    outputs: OutputsOpt,
    fleet: FleetOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="show at most this many", metavar="LIMIT")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Dead letters with their reason and delivery count (left in place)."""
    with opened(outputs, fleet) as (_, admin):
        letters = admin.peek_dead_letters(limit)
    if as_json:
        print(json.dumps([_letter_json(m, with_body=False) for m in letters], indent=2))
        return
    table = Table("id", "reason", "deliveries", "enqueued", "body")
    for m in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(m.enqueued_at)) if m.enqueued_at else "n/a"
        count = "n/a" if m.delivery_count is None else str(m.delivery_count)
        table.add_row(m.key, m.reason.splitlines()[0] if m.reason else "", count, when, m.text()[:60])
    Console().print(table)
    Console().print(f"{len(letters)} dead letter(s) shown")


@dlq_app.command("show")
def dlq_show(
    key: Annotated[str, typer.Argument(help="the dead letter's id, as `dlq list` prints it")],
    outputs: OutputsOpt,
    fleet: FleetOpt = None,
) -> None:
    """One dead letter: reason, delivery count, attributes and body, as JSON."""
    with opened(outputs, fleet) as (_, admin):
        found = [m for m in admin.peek_dead_letters(SCAN) if m.key == key]
    if not found:
        _fail(f"agentfleet: no dead letter with id {key} among the first {SCAN}", 1)
    print(json.dumps(_letter_json(found[0], with_body=True), indent=2))


@dlq_app.command("redrive")
def dlq_redrive(
    outputs: OutputsOpt,
    fleet: FleetOpt = None,
    ids: IdsOpt = None,
    reason: ReasonOpt = "",
    limit: LimitOpt = None,
    dry_run: DryRunOpt = False,
    journal_dir: Annotated[
        Path,
        typer.Option(
            "--journal-dir",
            help="where an interrupted redrive remembers what it confirmed",
            metavar="JOURNAL_DIR",
        ),
    ] = moves.DEFAULT_JOURNAL_DIR,
) -> None:
    """Move dead letters (all, or those --id / --reason / --limit pick) back to the work queue.
    Interrupted and rerun, it resends nothing whose copy was already confirmed."""
    selection = _selection(ids, reason, limit)
    console = Console(stderr=True)
    with opened(outputs, fleet) as (chosen, admin):
        if dry_run:
            would = moves.count_matching(admin, selection, SCAN)
            print(f"would redrive {len(would)} dead letter(s) of {chosen.label} (looked at up to {SCAN})")
            return
        identity = json.dumps(
            [chosen.cloud, chosen.values.get("dead_letter_queue"), chosen.values.get("queue")]
        )
        journal = moves.Journal.for_queue(journal_dir, identity)
        with _progress(console, "redrive") as bar:
            task = bar.add_task("redrive", total=None)
            outcome = moves.redrive(
                admin, selection, journal, lambda done, total: bar.update(task, completed=done, total=total)
            )
    how = " by the broker's move task" if outcome.by_broker else ""
    resumed = f", {outcome.resumed} finished from an interrupted run" if outcome.resumed else ""
    left = f", {outcome.left} left in the dead-letter queue" if outcome.left else ""
    print(f"redrove {outcome.moved} dead letter(s){how}{resumed}{left}")
    if outcome.left:
        raise typer.Exit(1)


@dlq_app.command("purge")
def dlq_purge(
    outputs: OutputsOpt,
    fleet: FleetOpt = None,
    ids: IdsOpt = None,
    reason: ReasonOpt = "",
    limit: LimitOpt = None,
    dry_run: DryRunOpt = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before deleting")] = False,
) -> None:
    """Delete dead letters for good (all, or those --id / --reason / --limit pick)."""
    selection = _selection(ids, reason, limit)
    with opened(outputs, fleet) as (chosen, admin):
        if dry_run:
            would = moves.count_matching(admin, selection, SCAN)
            print(f"would delete {len(would)} dead letter(s) of {chosen.label} (looked at up to {SCAN})")
            return
        if not yes and not typer.confirm(f"delete the selected dead letters of {chosen.label} for good?"):
            raise typer.Exit(1)
        with _progress(Console(stderr=True), "purge") as bar:
            task = bar.add_task("purge", total=None)
            outcome = moves.purge(
                admin, selection, lambda done, total: bar.update(task, completed=done, total=total)
            )
    print(f"deleted {outcome.moved} dead letter(s)")


def send(
    outputs: OutputsOpt,
    source: Annotated[str, typer.Argument(help="a JSON-lines file, or - for stdin")] = "-",
    fleet: FleetOpt = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="messages per send call", metavar="BATCH")
    ] = 10,
) -> None:
    """Enqueue one message per line of JSON lines (a file or stdin), in batches."""
    if source == "-" and outputs == "-":
        _fail("agentfleet: --outputs - and the messages cannot both come from stdin")
    try:
        if source == "-":
            bodies = parse_json_lines(sys.stdin, "stdin")
        else:
            with open(source, encoding="utf-8") as lines:
                bodies = parse_json_lines(lines, source)
    except OSError as error:
        _fail(f"agentfleet: {source}: {error.strerror or error}")
    except JsonLinesError as error:
        _fail(str(error))
    with opened(outputs, fleet) as (chosen, admin):
        with _progress(Console(stderr=True), "send") as bar:
            task = bar.add_task("send", total=len(bodies))
            sent = send_batched(admin, bodies, batch, lambda done: bar.update(task, completed=done))
    print(f"sent {sent} message(s) to {chosen.label}")
