"""Work started at once in a plain thread, its result collected later through a Future.

A Textual worker's thread starts only once the event loop gets control back (after a mount, a
layout, a paint), so a query the first frame needs would wait for all of them. Started here, it
runs while the app loads its styles and mounts its widgets."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def run_now(job: Callable[[], T]) -> Future[T]:
    """Run `job` here and now; its result or exception lands in a (done) Future, as `start`'s would."""
    future: Future[T] = Future()
    try:
        future.set_result(job())
    except Exception as exc:  # noqa: BLE001 - re-raised by whoever collects the result
        future.set_exception(exc)
    return future


def start(job: Callable[[], T], *, name: str = "crm-background") -> Future[T]:
    """Run `job` in a daemon thread started now; its result or exception lands in the Future."""
    future: Future[T] = Future()

    def work() -> None:
        try:
            future.set_result(job())
        except BaseException as exc:  # noqa: BLE001 - re-raised by whoever collects the result
            future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future
