"""The options of ``seenby load`` and what each mode runs.

``seenby load`` alone runs everything in this process against a bundled reference server;
``--target URL --admin-key KEY`` points it at a deployment; ``--master --expect-workers N``
drives workers started elsewhere with ``seenby load --worker --master-host HOST``. Exit status:
0 every invariant held, 1 one broke (or the run could not complete), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from locust.log import setup_logging
from locust.util.timespan import parse_timespan

from seenby.harness.api.target import open_target
from seenby.harness.api.target_options import add_target_options, check_target_options, positive_int
from seenby.harness.drivers import DriverError, get_driver

from .session import Run, bundled_server, run_driver, run_worker, temporary_folder
from .through_driver import DriverLoadSettings, run_through_driver
from .workload import LoadSettings

__all__ = ["main", "parser"]


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return value


def _timespan(text: str) -> int:
    try:
        seconds = parse_timespan(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not a time span (20, 20s, 3m, 1h20m): {text!r}"
        ) from error
    if seconds < 1:
        raise argparse.ArgumentTypeError("the run time must be at least 1 s")
    return seconds


def parser() -> argparse.ArgumentParser:
    """The ``seenby load`` argument parser."""
    p = argparse.ArgumentParser(
        prog="seenby load",
        description="Drive a receipt workload on Locust against a target, keep the ground truth "
        "and check the invariants afterwards. Exit status: 0 every invariant held, 1 not, 2 usage.",
    )
    add_target_options(p, "load")
    load = p.add_argument_group("load")
    load.add_argument("-u", "--users", type=positive_int, default=50, help="simulated users (50)")
    load.add_argument(
        "-r",
        "--spawn-rate",
        type=_positive_float,
        default=20.0,
        help="users started per second (20)",
    )
    load.add_argument(
        "-t", "--run-time", type=_timespan, default=30, metavar="TIME", help="e.g. 60s, 5m (30s)"
    )
    load.add_argument("--group-size", type=positive_int, default=12, help="members per group (12)")
    load.add_argument(
        "--c2c-share", type=_share, default=0.3, help="share of messages sent C2C (0.3)"
    )
    load.add_argument(
        "--custom-share", type=_share, default=0.2, help="share of custom messages (0.2)"
    )
    load.add_argument(
        "--think",
        type=_positive_float,
        default=1.0,
        metavar="S",
        help="mean pause between a user's actions (1.0)",
    )
    load.add_argument(
        "--reading-delay",
        type=float,
        default=2.0,
        metavar="S",
        help="longest delay before a message is read (2.0)",
    )
    load.add_argument("--seed", type=int, default=1, help="random seed of the users' choices")
    through = p.add_argument_group("through a driver (instead of seenby's wire on Locust)")
    through.add_argument(
        "--driver",
        metavar="NAME",
        help="run the workload through this driver (seenby drivers lists them): --users in "
        "groups of --group-size, --rounds rounds of send and read",
    )
    through.add_argument("--rounds", type=positive_int, default=5, help="with --driver: rounds (5)")
    nodes = p.add_argument_group("master and workers (Locust's distributed mode)")
    role = nodes.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true", help="drive workers instead of local users")
    role.add_argument("--worker", action="store_true", help="serve a master's users")
    nodes.add_argument(
        "--expect-workers",
        type=positive_int,
        default=1,
        help="with --master: workers to wait for (1)",
    )
    nodes.add_argument(
        "--master-host", default="127.0.0.1", help="with --worker: the master's address"
    )
    nodes.add_argument("--master-port", type=int, default=5557, help="master's port (5557)")
    nodes.add_argument(
        "--master-bind-host", default="*", help="with --master: interface to listen on (all)"
    )
    out = p.add_argument_group("reports")
    out.add_argument(
        "--report-dir",
        type=Path,
        default=Path("seenby-load"),
        metavar="DIR",
        help="where load-summary.json, load-report.html and load-timeline.png go (./seenby-load/)",
    )
    out.add_argument(
        "--csv", dest="csv_prefix", metavar="PREFIX", help="also write Locust's CSV files"
    )
    out.add_argument(
        "--html", dest="html_file", metavar="FILE", help="also write Locust's HTML report"
    )
    out.add_argument(
        "--web-port",
        type=int,
        metavar="PORT",
        help="also serve Locust's web UI on this port while it runs",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seenby load`` with ``argv``; the exit status."""
    p = parser()
    options = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    # Locust's web UI parses sys.argv with Locust's own parser on every page; ours are parsed.
    sys.argv = sys.argv[:1]
    # Locust's warnings and errors (a user's exception, a lost master) reach the terminal.
    setup_logging("WARNING")  # type: ignore[no-untyped-call]
    if options.worker:
        return run_worker(options.master_host, options.master_port)
    check_target_options(p, options, "the workload")
    if options.driver is not None:
        return _through_driver(options)

    def run_with(target: str, admin_key: str) -> int:
        return run_driver(
            Run(
                target=target,
                settings=LoadSettings(
                    admin_key=admin_key,
                    group_size=options.group_size,
                    c2c_share=options.c2c_share,
                    custom_share=options.custom_share,
                    think_s=options.think,
                    reading_delay_s=options.reading_delay,
                    seed=options.seed,
                ),
                users=options.users,
                spawn_rate=options.spawn_rate,
                run_time_s=options.run_time,
                report_dir=options.report_dir,
                expect_workers=options.expect_workers if options.master else 0,
                master_bind_host=options.master_bind_host,
                master_bind_port=options.master_port,
                csv_prefix=options.csv_prefix,
                html_file=options.html_file,
                web_port=options.web_port,
                progress=lambda line: print(line, flush=True),
            )
        )

    if options.target is not None:
        return run_with(options.target, options.admin_key)
    with temporary_folder() as folder, bundled_server(Path(folder)) as (url, key):
        print(f"bundled reference server at {url}", flush=True)
        return run_with(url, key)


def _through_driver(options: argparse.Namespace) -> int:
    """``--driver NAME``: the workload through that driver; the summary in the report folder."""
    try:
        driver = get_driver(options.driver)
    except DriverError as error:
        print(f"seenby load: {error}", file=sys.stderr)
        return 2
    settings = DriverLoadSettings(
        users=options.users, group_size=options.group_size, rounds=options.rounds
    )
    with open_target(options.target, options.admin_key, driver=driver.name) as target:
        result = run_through_driver(target, driver, settings)
    for line in result.lines():
        print(line, flush=True)
    options.report_dir.mkdir(parents=True, exist_ok=True)
    summary = options.report_dir / "driver-load-summary.json"
    summary.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0 if result.verdict.holds else 1
