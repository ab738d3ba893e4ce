"""Serve one variant of a gallery (or of the load variants) in this process:
``python -m tests.mutants.serve NAME``.

Prints one JSON line ``{"url": ..., "admin_key": ...}`` (and ``"ca_cert"``, the CA file to
trust, for a server with TLS) once the server accepts requests, then
serves until its standard input closes (the kill run holds the other end, so the server never
outlives the run that started it) or it is sent SIGTERM. ``NAME`` is a load variant (faulty or
correct), a faulty variant, a correct alternative or ``reference``, the correct server.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType

from .alternatives import server_named
from .gallery import Variant
from .load_variants import LOAD_ALTERNATIVES, LOAD_VARIANTS


def _named(name: str) -> Variant:
    """The load variant ``name``, or the faulty variant, correct alternative or reference of
    that name."""
    for each in [*LOAD_VARIANTS, *LOAD_ALTERNATIVES]:
        if each.name == name:
            return each
    return server_named(name)


def main(argv: list[str]) -> int:
    """Serve the variant named in ``argv`` until stdin closes; 2 for an unknown name."""
    if len(argv) != 1:
        print("usage: python -m tests.mutants.serve NAME", file=sys.stderr)
        return 2
    try:
        chosen = _named(argv[0])
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    threading.Thread(target=until_stdin_closes, daemon=True).start()
    with chosen.start() as server:
        address = {"url": server.url, "admin_key": server.admin_key}
        ca_cert = getattr(server, "ca_cert", None)  # a plumbing alternative served over TLS
        if ca_cert is not None:
            address["ca_cert"] = ca_cert
        print(json.dumps(address), flush=True)
        # A timed wait keeps the main thread responsive to SIGTERM.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
