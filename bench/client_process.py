"""Run benchmark clients in a separate Python process.

A server written in Python holds its GIL while it works; a load generator in the same process
would compete for it and the figures would measure the competition. `ClientProcess` starts one
long-lived worker (spawned, so it inherits no server threads or SQLite handles) and runs
module-level functions in it: `client.call(run_load, job)` returns `run_load(job)`'s result.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, TypeVar

_Result = TypeVar("_Result")


class ClientProcessError(RuntimeError):
    """A function run in the client process raised; the message carries its traceback."""


def _serve(channel: Connection) -> None:
    while (request := channel.recv()) is not None:
        function, args = request
        try:
            channel.send((True, function(*args)))
        except Exception:
            channel.send((False, traceback.format_exc()))


class ClientProcess:
    """A worker process that runs picklable calls one at a time, in order."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._channel, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end,), daemon=True)
        self._process.start()
        child_end.close()

    def call(self, function: Callable[..., _Result], *args: Any) -> _Result:
        """Run `function(*args)` in the worker and return its result."""
        self._channel.send((function, args))
        succeeded, value = self._channel.recv()
        if not succeeded:
            raise ClientProcessError(
                f"{function.__qualname__} failed in the client process:\n{value}"
            )
        result: _Result = value
        return result

    def close(self) -> None:
        """Ask the worker to exit and wait for it."""
        self._channel.send(None)
        self._process.join(timeout=30)
        self._channel.close()

    def __enter__(self) -> ClientProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
