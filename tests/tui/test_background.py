"""crm_tui/background.py: work started at once on the loop's pool, before its screen has mounted,
is still a worker of that screen: in the app's list of workers while it runs, and cancelled with
the screen (a job not started by then never runs, and its Future says so, so no thread waits on it)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Label

from crm_tui import background

WAIT_S = 5.0


class Early(App[None]):
    """Starts `job` as it composes (as a screen's first page is started)."""

    def __init__(self, job) -> None:
        super().__init__()
        self.job = job
        self.future = None

    def compose(self) -> ComposeResult:
        self.future = background.start(self.screen, self.job, name="early")
        yield Label("x")


async def test_the_job_runs_at_once_in_a_worker_of_its_node():
    release, ran_in = threading.Event(), []

    def job() -> int:
        ran_in.append(threading.current_thread())
        assert release.wait(WAIT_S)
        return 42

    app = Early(job)
    async with app.run_test() as pilot:
        [worker] = [w for w in app.workers if w.group == "early"]
        assert worker.node is app.screen and worker.is_running
        release.set()
        assert await asyncio.wrap_future(app.future) == 42
        await app.workers.wait_for_complete([worker])
        await pilot.pause()
        assert ran_in[0] is not threading.main_thread() and not app.workers


async def test_a_failing_job_hands_its_error_to_whoever_collects_it():
    def job() -> int:
        raise ValueError("no page")

    app = Early(job)
    async with app.run_test() as pilot:
        with pytest.raises(ValueError, match="no page"):
            await asyncio.wrap_future(app.future)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.workers  # the worker itself did not fail: the collector reports it


async def test_a_job_still_waiting_when_its_node_goes_never_runs():
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1)  # the loop's pool, one thread, held by `hold` below
    loop.set_default_executor(pool)
    held, ran = threading.Event(), []
    hold = loop.run_in_executor(None, held.wait, WAIT_S)
    app = Early(lambda: ran.append(True))
    try:
        async with app.run_test() as pilot:
            app.workers.cancel_node(app.screen)  # the screen goes before the job's turn came
            await pilot.pause()
            held.set()
            await hold
            await loop.run_in_executor(None, lambda: None)  # one thread, in order: the job's turn is past
            assert ran == [] and app.future.cancelled()
            with pytest.raises(CancelledError):
                app.future.result(timeout=0)
    finally:
        held.set()
