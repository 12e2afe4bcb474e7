"""Work started at once on the event loop's thread pool, tracked by a Textual worker, its result
collected later through a Future.

A Textual thread worker's thread starts only once the event loop gets control back (after a
mount, a layout, a paint), so a query the first frame needs would wait for all of them. Handed to
the loop's executor here (the pool Textual's thread workers run on), it starts at once and runs
while the app loads its styles and mounts its widgets; a worker of the node that asked awaits it,
so it is in the app's list of workers and is cancelled with the node (a job not started by then
never runs; one running finishes, and its result goes nowhere)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from textual.dom import DOMNode

T = TypeVar("T")


def run_now(job: Callable[[], T]) -> Future[T]:
    """Run `job` here and now; its result or exception lands in a (done) Future, as `start`'s would."""
    future: Future[T] = Future()
    try:
        future.set_result(job())
    except Exception as exc:  # noqa: BLE001 - re-raised by whoever collects the result
        future.set_exception(exc)
    return future


def start(node: DOMNode, job: Callable[[], T], *, name: str = "crm-background") -> Future[T]:
    """Run `job` on the loop's executor, starting now, in a worker of `node` (group `name`); its
    result or exception lands in the Future, which any thread may wait on. Call it on the UI thread."""
    future: Future[T] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():  # the node went before the job's turn came
            return
        try:
            future.set_result(job())
        except BaseException as exc:  # noqa: BLE001 - re-raised by whoever collects the result
            future.set_exception(exc)

    running = asyncio.get_running_loop().run_in_executor(None, work)
    # a cancelled worker cancels `running`, which keeps a job not started yet from starting; then
    # `future` is cancelled too, so nobody waits on it for ever
    running.add_done_callback(lambda done: future.cancel() if done.cancelled() else None)
    node.run_worker(running, name=name, group=name, exit_on_error=False)
    return future
