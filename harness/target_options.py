"""The ``--target`` / ``--admin-key`` options that ``seenby run`` and ``seenby load`` share.

Both commands default to a bundled reference server and read the same environment variables,
so a vendor sets ``SEENBY_TARGET`` and ``SEENBY_ADMIN_KEY`` once for both.
"""

from __future__ import annotations

import argparse
import os

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
