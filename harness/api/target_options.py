"""The target options that ``seenby run`` and ``seenby load`` share: ``--target``,
``--admin-key``, ``--ca-cert`` and ``--max-answer-bytes``.

Both commands default to a bundled reference server and read the same environment variables,
so a vendor sets ``SEENBY_TARGET`` and ``SEENBY_ADMIN_KEY`` (and ``SEENBY_CA_CERT`` for a
target with its own CA) once for both. ``check_target_options`` puts the CA file and the size
cap back into the environment, where every transport of the run and its subprocesses (pytest,
its workers, Locust) read them (``WireOptions.from_environment``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from seenby.harness.wire.transport import (
    CA_CERT_VARIABLE,
    DEFAULT_MAX_ANSWER_BYTES,
    MAX_ANSWER_BYTES_VARIABLE,
    answer_size,
)

__all__ = ["add_target_options", "check_target_options", "positive_int"]


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_target_options(parser: argparse.ArgumentParser, what: str) -> None:
    """Add the ``target`` group; ``what`` says what the command does to the deployment."""
    target = parser.add_argument_group("target")
    target.add_argument(
        "--target",
        metavar="URL",
        default=os.environ.get("SEENBY_TARGET"),
        help=f"base URL of the deployment to {what} (env SEENBY_TARGET), or its nodes' URLs"
        " separated by commas; default: a bundled reference server",
    )
    target.add_argument(
        "--admin-key",
        metavar="KEY",
        default=os.environ.get("SEENBY_ADMIN_KEY"),
        help="the target's admin key (env SEENBY_ADMIN_KEY); needed with --target",
    )
    target.add_argument(
        "--ca-cert",
        metavar="FILE",
        default=os.environ.get(CA_CERT_VARIABLE),
        help="PEM file of the CA that signed an https:// target's certificate, trusted "
        f"instead of the system's CAs (env {CA_CERT_VARIABLE})",
    )
    target.add_argument(
        "--max-answer-bytes",
        metavar="BYTES",
        type=answer_size,
        default=answer_size(
            os.environ.get(MAX_ANSWER_BYTES_VARIABLE) or str(DEFAULT_MAX_ANSWER_BYTES)
        ),
        help="the size cap of one answer or push message, decompressed: a larger one is cut "
        f"off and fails its call (env {MAX_ANSWER_BYTES_VARIABLE}; default "
        f"{DEFAULT_MAX_ANSWER_BYTES // (1024 * 1024)} MiB)",
    )


def check_target_options(
    parser: argparse.ArgumentParser, options: argparse.Namespace, creator: str
) -> None:
    """Exit with a usage error unless the target options make sense together; ``creator``
    names who creates users and groups (so needs the admin key)."""
    # Several URLs separated by commas are the nodes of one deployment.
    for url in options.target.split(",") if options.target is not None else ():
        if not url.strip().startswith(("http://", "https://")):
            parser.error(
                "--target must be an http:// or https:// URL (or several, separated by commas),"
                f" not {options.target!r}"
            )
    if options.target is not None and options.admin_key is None:
        parser.error(f"--target needs --admin-key ({creator} creates users and groups)")
    if options.target is None and options.admin_key is not None:
        parser.error("--admin-key is only meaningful with --target")
    if options.ca_cert is not None:
        if not Path(options.ca_cert).is_file():
            parser.error(f"--ca-cert {options.ca_cert}: no such file")
        os.environ[CA_CERT_VARIABLE] = str(Path(options.ca_cert).resolve())
    os.environ[MAX_ANSWER_BYTES_VARIABLE] = str(options.max_answer_bytes)
