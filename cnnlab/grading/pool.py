"""A pool of worker processes with a wall-clock limit on every task.

``concurrent.futures`` cannot stop one task that runs too long without
breaking the whole pool, so this small pool keeps one pipe per worker and
watches the clock: a worker still busy at its task's deadline is killed,
together with every process it started (the Jupyter kernels run in sessions
of their own, so killing a process group would miss them), the task is
reported as over the limit, and a fresh worker takes its place. A worker that
dies is replaced the same way, and its task tried once more. Tasks are handed
out one at a time, so a slow submission never holds up the others.

Workers are forked from a server process that has imported the handler's
module once (importing nbgrader takes seconds). Each worker builds its
handler once (``handler_class(*args)``), says it is ready, and then calls it
on task after task; a task's clock starts when its worker is ready, so a slow
start never counts against a submission. Its standard output and error,
which the kernels it starts inherit, go to a log file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import psutil

__all__ = ["Done", "kill_tree", "run"]

#: What a worker sends once its handler is built; a task's clock starts then.
READY = "ready"
#: Seconds a worker may take to start (import, build its handler) before it counts as dead.
STARTUP_LIMIT = 300.0
#: Workers in a row that die before they start: then something is wrong with all of them.
MAX_FAILED_STARTS = 3


@dataclass
class Done:
    """A finished task: its result, or why there is none (``problem``)."""

    task: object
    result: object = None
    problem: str | None = None
    seconds: float = 0.0


def _descendants(pid: int) -> list[int]:
    with contextlib.suppress(psutil.Error):
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    return []


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants, kernels included."""
    for victim in [*_descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


def _serve(conn, handler_class, args, log_path: str, number: int = 0) -> None:
    """The body of a worker process: build the handler, then answer tasks until told to stop.

    ``CNNLAB_WORKER`` tells the handler which worker it is (no two alive at once share it).
    """
    os.environ["CNNLAB_WORKER"] = str(number)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        handler = handler_class(*args)
    except BaseException:
        conn.send({"init_error": traceback.format_exc()})
        return
    conn.send(READY)
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                break
            if task is None:
                break
            conn.send(handler(task))
    finally:
        close = getattr(handler, "close", None)
        if close is not None:
            close()


class _Worker:
    def __init__(self, context, handler_class, args, log_dir: Path, number: int):
        self.conn, child = context.Pipe()
        log_path = str(log_dir / f"worker-{number}.log")
        self.log_path = log_path
        self.process = context.Process(
            target=_serve, args=(child, handler_class, args, log_path, number), daemon=True
        )
        self.process.start()
        child.close()
        self.task = None
        self.deaths = 0  # how many times a worker died under the current task before
        self.ready = False
        self.started = time.monotonic()
        self.deadline = self.started + STARTUP_LIMIT

    def log_tail(self, lines: int = 12) -> str:
        """The last lines the worker wrote (its log is removed with the batch)."""
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return "(nothing)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(nothing)"

    def give(self, task, time_limit: float) -> None:
        """Send a task; its clock starts now, or when the worker is ready if it is not yet."""
        self.task = task
        self.time_limit = time_limit
        if self.ready:
            self._start_clock()
        self.conn.send(task)

    def _start_clock(self) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + self.time_limit

    def receive(self):
        """The next message; READY is taken in here (it starts the clock of a waiting task)."""
        message = self.conn.recv()
        if message == READY:
            self.ready = True
            if self.task is not None:
                self._start_clock()
            return READY
        if isinstance(message, dict) and "init_error" in message:
            raise RuntimeError(f"a worker could not start:\n{message['init_error']}")
        return message

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            kill_tree(self.process.pid)
            self.process.join(timeout=5)
        self.conn.close()

    def kill(self) -> None:
        kill_tree(self.process.pid)
        self.process.join(timeout=5)
        self.conn.close()


def _context(handler_class):
    """How workers start: forked from a fork server that has imported the handler's module.

    Importing nbgrader takes seconds; the fork server does it once and every
    worker (the replacements too) starts as a copy of it, ready at once. The
    server is a fresh process, so the threads and open files of this one never
    reach the workers (a plain fork would copy them). Where there is no fork
    (Windows), each worker is spawned and imports for itself.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Read when the server starts (the first run of this process); a later run with
    # another handler imports its module in each worker instead.
    context.set_forkserver_preload([handler_class.__module__])
    return context


def run(
    tasks: Iterable,
    handler_class,
    args: tuple,
    *,
    workers: int,
    time_limit: float,
    log_dir: Path,
) -> Iterator[Done]:
    """Run ``handler_class(*args)(task)`` for every task on ``workers`` processes.

    Yields a :class:`Done` for each task as it finishes, in completion order.
    A task that runs past ``time_limit`` seconds, or whose worker dies, yields
    a ``Done`` with ``problem`` set and no result. A worker that dies before
    it is ready is replaced and its task retried; raises ``RuntimeError`` if
    that keeps happening, or if a worker cannot build its handler. A worker
    that dies during a task is replaced and the task given once more; if it
    dies again, the task is reported as such.
    """
    pending = deque((task, 0) for task in tasks)  # (task, times its worker died under it)
    context = _context(handler_class)
    started = 0

    def new_worker() -> _Worker:
        nonlocal started
        started += 1
        return _Worker(context, handler_class, args, Path(log_dir), started)

    pool = [new_worker() for _ in range(max(1, min(workers, len(pending))))]
    failed_starts = 0
    try:
        while True:
            for i, worker in enumerate(pool):
                if worker.task is None and pending:
                    try:
                        worker.give(pending[0][0], time_limit)
                        worker.deaths = pending[0][1]
                    except (OSError, BrokenPipeError):  # died while idle: replace it
                        if not worker.ready:  # before it could start, like the others below
                            failed_starts += 1
                            if failed_starts >= MAX_FAILED_STARTS:
                                raise RuntimeError(
                                    f"{failed_starts} worker processes died before they could "
                                    f"start; the last one wrote:\n{worker.log_tail()}"
                                ) from None
                        worker.kill()
                        pool[i] = new_worker()
                        continue
                    pending.popleft()
            busy = [w for w in pool if w.task is not None]
            if not busy:
                break
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
            for i, worker in enumerate(pool):
                if worker.task is None:
                    continue
                problem, result = None, None
                if worker.conn.poll():
                    try:
                        result = worker.receive()
                    except (EOFError, OSError):
                        problem = "the grading process died"
                    if result == READY:
                        continue
                elif not worker.process.is_alive():
                    problem = f"the grading process died (exit code {worker.process.exitcode})"
                elif time.monotonic() >= worker.deadline:
                    if worker.ready:
                        problem = f"still running after the {time_limit:g} s limit: stopped"
                    else:
                        problem = f"the grading process did not start in {STARTUP_LIMIT:g} s"
                else:
                    continue
                if problem is not None and not worker.ready:
                    # Not the task's fault: the worker never started. Retry the task on a
                    # fresh worker, unless workers keep dying before they start.
                    failed_starts += 1
                    if failed_starts >= MAX_FAILED_STARTS:
                        raise RuntimeError(
                            f"{failed_starts} worker processes died before they could start "
                            f"({problem}); the last one wrote:\n{worker.log_tail()}"
                        )
                    pending.appendleft((worker.task, worker.deaths))
                    worker.task = None
                    worker.kill()
                    pool[i] = new_worker()
                    continue
                failed_starts = 0
                if problem is not None and "died" in problem and worker.deaths == 0:
                    # Graded again once, on a fresh worker: a worker can die for reasons
                    # that are not the submission's (out of memory on the machine, a kill).
                    pending.appendleft((worker.task, 1))
                    worker.task = None
                    worker.kill()
                    pool[i] = new_worker()
                    continue
                if problem is not None and "died" in problem:
                    problem += ", twice"
                seconds = time.monotonic() - worker.started
                done = Done(worker.task, result, problem, seconds)
                worker.task = None
                if problem is not None:
                    worker.kill()
                    pool[i] = new_worker()
                yield done
    finally:
        for worker in pool:
            if worker.task is None:
                worker.stop()
            else:
                worker.kill()
