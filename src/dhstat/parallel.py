"""One executor for every heavy loop: local worker processes, or a dask.distributed cluster.

Tasks are plain functions applied to a sequence of picklable items; results always come back in
the order of the items, whatever finishes first, so the output never depends on the number of
workers. Randomness inside a task comes from :func:`task_rng`, keyed by the task's identity (not by
the worker that runs it).

Example:
    >>> with executor(workers=1) as ex:
    ...     ex.map(abs, [-1, 2, -3])
    [1, 2, 3]
    >>> float(task_rng(1, 0).random()) == float(task_rng(1, 0).random())
    True
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

__all__ = ["Executor", "cpu_count", "executor", "task_rng", "task_seed"]

T = TypeVar("T")
R = TypeVar("R")


def __dir__() -> list[str]:
    return __all__


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def task_seed(seed: int, *key: int) -> np.random.SeedSequence:
    """The seed sequence of the task ``key`` under master ``seed``.

    Equal to ``np.random.SeedSequence(seed).spawn(n)[i]`` for ``key == (i,)``, and to nested
    spawns for longer keys, but computable for any task without spawning its siblings.
    """
    return np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))


def task_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator for the task ``key`` under master ``seed`` (see :func:`task_seed`)."""
    return np.random.default_rng(task_seed(seed, *key))


class _Submitter(Protocol):
    def __call__(self, fn: Callable[[Any], Any], item: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Executor:
    """Runs a function over items in parallel and returns results in item order.

    Use :func:`executor` to make one; it owns the worker pool or the cluster connection.

    Attributes:
        workers: Number of local worker processes (1: run in this process).
        scheduler: Address of the dask.distributed scheduler, or ``None`` for local processes.
    """

    workers: int
    scheduler: str | None
    _submit: _Submitter | None
    _result: Callable[[Any], Any]

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Lazily yield ``fn(item)`` for each item, in order, with a bounded number in flight."""
        if self._submit is None:
            for item in items:
                yield fn(item)
            return
        in_flight: collections.deque[Any] = collections.deque()
        limit = 4 * max(self.workers, 1)
        for item in items:
            in_flight.append(self._submit(fn, item))
            if len(in_flight) >= limit:
                yield self._result(in_flight.popleft())
        while in_flight:
            yield self._result(in_flight.popleft())

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``list(self.imap(fn, items))``."""
        return list(self.imap(fn, items))


def _future_result(future: Future[Any]) -> Any:
    return future.result()


@contextlib.contextmanager
def executor(*, workers: int = 0, scheduler: str | None = None) -> Iterator[Executor]:
    """Open an executor: local processes (``workers``; 0 = all cores) or a dask cluster.

    Args:
        workers: Local worker processes; 0 means one per core, 1 runs tasks in this process.
        scheduler: A dask.distributed scheduler address (``tcp://host:port``); when given, tasks
            run on that cluster and ``workers`` is ignored.
    """
    if scheduler:
        from distributed import Client

        with Client(scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            n = sum(client.ncores().values()) or 1

            def submit(fn: Callable[[Any], Any], item: Any) -> Any:
                return client.submit(fn, item, pure=False)

            yield Executor(n, scheduler, submit, _future_result)
        return
    n = workers or cpu_count()
    if n == 1:
        yield Executor(1, None, None, _future_result)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:

        def submit_local(fn: Callable[[Any], Any], item: Any) -> Any:
            return pool.submit(fn, item)

        yield Executor(n, None, submit_local, _future_result)
