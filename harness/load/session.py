"""One ``seenby load`` run on Locust's runners: local, master or worker.

Theory of operation. Locust drives the users and keeps the statistics; this module owns the
run's life, because the verdict needs a step Locust has not got: between stopping the users and
quitting, every process settles its push connections and the ledgers are brought together.

- local: start users, wait ``run_time``, stop (users finish their current task), settle, judge.
- master: the same, but users live in workers. Workers get the target (Locust's ``host``) and
  the workload settings with Locust's own spawn message (custom ``parsed_options``). When the
  master stops the run, each worker settles and sends ``{ledger, timeline}`` over Locust's
  message channel (``seenby_ledger``); the master merges them, judges, then quits the workers.
- worker: connect to the master and serve until it says quit.

The verdict pulls the final state from the target (``seenby.harness.load.verdict``); the reports are
written by ``seenby.harness.load.report``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust import argument_parser
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import MasterRunner, Runner
from locust.stats import (
    PERCENTILES_TO_REPORT,
    StatsCSVFileWriter,
    get_stats_summary,
    stats_history,
)

from seenby.harness.api.cluster_target import split_target_urls
from seenby.harness.api.server_process import ServerProcess
from seenby.harness.wire.transport import ApiError, HttpTransport, NoAnswer, ViolationLog

from .ledger import Ledger
from .report import RunFigures, terminal_lines, write_reports
from .timeline import Timeline
from .verdict import judge, pull_state
from .workload import LoadSettings, ReceiptUser, WorkloadShare

__all__ = ["Run", "bundled_server", "run_driver", "run_worker"]

LEDGER_MESSAGE = "seenby_ledger"
WORKER_WAIT_S = 60.0
"""How long the master waits for ``--expect-workers`` workers to connect."""
STOP_TIMEOUT_S = 2.0
"""Users finish the task they are in (at most this long) before they stop. A Locust worker
also waits this long after stopping before it listens to its master again."""
REJOIN_WAIT_S = STOP_TIMEOUT_S + 10
"""How long the master waits for stopped workers to report ready again, so that they hear
the quit."""

log = logging.getLogger("seenby.load")


@dataclass(frozen=True)
class Run:
    """What the driving process (local or master) was asked to do."""

    target: str
    settings: LoadSettings
    users: int
    spawn_rate: float
    run_time_s: float
    report_dir: Path
    expect_workers: int = 0
    """0: run the users here (local); N: be a master and wait for N workers."""
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    csv_prefix: str | None = None
    html_file: str | None = None
    web_port: int | None = None
    progress: Callable[[str], None] = print


def _parsed_options(run: Run) -> Any:
    """Locust's default options plus ours, as Locust's spawn message carries them to workers."""
    parser = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(parser)  # type: ignore[no-untyped-call]
    options = parser.parse_args([])
    options.headless = run.web_port is None
    vars(options).update(run.settings.to_options())
    return options


def target_problem(target: str, admin_key: str) -> str | None:
    """Why the workload cannot run against ``target`` (unreachable, not a seenby target, admin
    key refused), or None."""
    transport = HttpTransport(target, admin_key, violations=ViolationLog())
    try:
        transport.raise_for_code(transport.get("capabilities"))
        transport.invoke("admin/getSettings", {})
    except (NoAnswer, ApiError, AssertionError) as error:
        return str(error)
    finally:
        transport.close()
    return None


def run_driver(run: Run) -> int:
    """Run the load as a local runner or a master; the exit status (0: every invariant held,
    1: one broke, or the target cannot be used)."""
    problem = target_problem(split_target_urls(run.target)[0], run.settings.admin_key)
    if problem is not None:
        run.progress(f"seenby load: cannot use the target {run.target}: {problem}")
        return 1
    environment = Environment(
        user_classes=[ReceiptUser],
        host=run.target,
        stop_timeout=STOP_TIMEOUT_S,
        parsed_options=_parsed_options(run),
    )
    world = WorkloadShare(environment)
    ReceiptUser.world = world
    collected: dict[str, dict[str, Any]] = {}
    """Worker ID → the ledger it sent last, with when it arrived (this clock): a worker the
    master stopped and restarted mid-run (a missed heartbeat on a busy machine) settles and
    sends one each time."""
    runner: Runner
    if run.expect_workers:
        runner = environment.create_master_runner(run.master_bind_host, run.master_bind_port)
        runner.register_message(
            LEDGER_MESSAGE,
            lambda environment, msg, **_: collected.__setitem__(
                msg.node_id, {**msg.data, "arrived": time.time()}
            ),
        )
        if not _wait_for_workers(runner, run):
            runner.quit()
            return 1
    else:
        runner = environment.create_local_runner()
        world.configure(run.target, run.settings)
    if run.web_port is not None:
        environment.create_web_ui("127.0.0.1", run.web_port)
        run.progress(f"Locust web UI: http://127.0.0.1:{run.web_port}/")
    csv_writer = _csv_writer(environment, run)
    gevent.spawn(stats_history, runner)
    started = time.time()
    gevent.spawn(
        runner.start, run.users, spawn_rate=run.spawn_rate
    )  # a master blocks while ramping
    progress = gevent.spawn(_print_progress, environment, world, run, started)
    gevent.sleep(run.run_time_s)
    run.progress("stopping users; settling push connections")
    stopped = time.time()
    runner.stop()
    progress.kill()
    if run.expect_workers:
        ledgers, timelines = _collect(collected, run, stopped)
    else:
        world.settle()
        ledgers, timelines = [world.ledger], [world.timeline]
    ledger = Ledger.merge(ledgers)
    timeline = Timeline.merge(timelines)
    run.progress(
        f"verdict: pulling the state of {sum(1 for _ in ledger.acknowledged_sends())} messages"
    )
    state = pull_state(split_target_urls(run.target)[0], ledger)
    verdict = judge(ledger, state)
    if len(ledgers) < max(1, run.expect_workers):
        verdict.invariants["push-settled"].check(
            False, "", "", f"{run.expect_workers} worker ledgers", f"{len(ledgers)} arrived"
        )
    figures = RunFigures(
        started=started,
        ramped=started + run.users / run.spawn_rate,
        stopped=stopped,
        users=run.users,
        workers=run.expect_workers,
        ledgers=len(ledgers),
        messages=sum(1 for _ in ledger.acknowledged_sends()),
        receipts=ledger.receipts(),
        connections=len(ledger.connections),
        in_doubt=sum(1 for s in ledger.sends.values() if s.msg_id is None)
        + sum(len(r) for r in ledger.doubtful_readers.values()),
        calls=dict(ledger.calls),
        refusals=ledger.refusals + state.refusals,
        faults=len(ledger.faults) + len(state.faults),
    )
    for line in get_stats_summary(runner.stats, False):
        run.progress(line)
    written, data = write_reports(
        run.report_dir, runner.stats, verdict, timeline, figures, run.target
    )
    for line in terminal_lines(data):
        run.progress(line)
    if run.html_file is not None:
        Path(run.html_file).write_text(get_html_report(environment, show_download_link=False))  # type: ignore[no-untyped-call]
        written.append(Path(run.html_file))
    if csv_writer is not None:
        csv_writer.close_files()
    if run.expect_workers:
        _wait_for_rejoin(runner, run)
    runner.quit()
    for line in verdict.lines():
        run.progress(line)
    run.progress("verdict: " + verdict.headline())
    run.progress("reports: " + ", ".join(str(path) for path in written))
    return 0 if verdict.holds else 1


def run_worker(master_host: str, master_port: int) -> int:
    """Serve as a Locust worker of the master at ``master_host:master_port`` until it quits."""
    log.warning("worker: serving the master at %s:%d", master_host, master_port)
    environment = Environment(user_classes=[ReceiptUser], stop_timeout=STOP_TIMEOUT_S)
    world = WorkloadShare(environment)
    ReceiptUser.world = world
    runner = environment.create_worker_runner(master_host, master_port)

    def on_test_start(environment: Environment, **_: Any) -> None:
        assert environment.host is not None and environment.parsed_options is not None
        world.configure(environment.host, LoadSettings.from_options(environment.parsed_options))

    def settle_and_report() -> None:
        world.settle()
        payload = {"ledger": world.ledger.to_json(), "timeline": world.timeline.to_json()}
        runner.send_message(LEDGER_MESSAGE, payload)

    environment.events.test_start.add_listener(on_test_start)  # type: ignore[no-untyped-call]
    environment.events.test_stop.add_listener(  # type: ignore[no-untyped-call]
        lambda **_: gevent.spawn(settle_and_report)
    )
    runner.greenlet.join()
    return 0


def _wait_for_workers(runner: Runner, run: Run) -> bool:
    assert isinstance(runner, MasterRunner)
    run.progress(f"master: waiting for {run.expect_workers} workers on port {run.master_bind_port}")
    deadline = time.monotonic() + WORKER_WAIT_S
    while runner.worker_count < run.expect_workers:
        if time.monotonic() > deadline:
            run.progress(
                f"seenby load: only {runner.worker_count} of {run.expect_workers} workers "
                f"connected within {WORKER_WAIT_S:.0f} s"
            )
            return False
        gevent.sleep(0.2)
    return True


def _wait_for_rejoin(runner: Runner, run: Run) -> None:
    assert isinstance(runner, MasterRunner)
    deadline = time.monotonic() + REJOIN_WAIT_S
    while runner.worker_count < run.expect_workers and time.monotonic() < deadline:
        gevent.sleep(0.2)


def _collect(
    collected: dict[str, dict[str, Any]], run: Run, stopped: float
) -> tuple[list[Ledger], list[Timeline]]:
    """The last ledger of each worker, waiting (with a deadline) until every worker has sent
    one that arrived after ``stopped``; a worker its master stopped earlier keeps its last."""
    deadline = time.monotonic() + run.settings.settle_timeout_s + STOP_TIMEOUT_S + 30
    while time.monotonic() < deadline:
        final = [each for each in collected.values() if each["arrived"] >= stopped]
        if len(final) >= run.expect_workers:
            break
        gevent.sleep(0.2)
    return (
        [Ledger.from_json(each["ledger"]) for each in collected.values()],
        [Timeline.from_json(each["timeline"]) for each in collected.values()],
    )


def _csv_writer(environment: Environment, run: Run) -> StatsCSVFileWriter | None:
    if run.csv_prefix is None:
        return None
    Path(run.csv_prefix).parent.mkdir(parents=True, exist_ok=True)
    writer = StatsCSVFileWriter(environment, PERCENTILES_TO_REPORT, run.csv_prefix)
    gevent.spawn(writer.stats_writer)
    return writer


def _print_progress(
    environment: Environment, world: WorkloadShare, run: Run, started: float
) -> None:
    """A line every 5 s: elapsed time, users, calls/s, failures, receipts."""
    while True:
        gevent.sleep(5)
        assert environment.runner is not None
        total = environment.runner.stats.total
        receipts = sum(world.timeline.receipts.values())
        run.progress(
            f"{time.time() - started:5.0f} s  users {environment.runner.user_count:>5}  "
            f"{total.current_rps:7.1f} calls/s  {total.num_failures} failures"
            + ("" if run.expect_workers else f"  {receipts} receipts")
        )


@contextmanager
def bundled_server(folder: Path) -> Iterator[tuple[str, str]]:
    """A reference server process on 127.0.0.1 and a fresh database in ``folder``: yields its
    URL and admin key, and stops it afterwards."""
    with ServerProcess(folder / "seenby.sqlite3") as server:
        yield server.url, server.admin_key


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder for the bundled server's database."""
    return tempfile.TemporaryDirectory(prefix="seenby-load-")
