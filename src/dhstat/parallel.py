"""One executor for every heavy loop: local worker processes, or a dask.distributed cluster.

Tasks are plain functions applied to a sequence of picklable items; results always come back in
the order of the items, whatever finishes first, so the output never depends on the number of
workers. Randomness inside a task comes from :func:`task_rng`, keyed by the task's identity (not by
the worker that runs it).

The cluster is either one that runs already (``scheduler="tcp://host:port"``) or one that the
executor starts and stops (``cluster=ClusterSpec``, ``[run] cluster`` in the configuration):
``"local:N"`` is a dask ``LocalCluster`` of N single-threaded worker processes; ``"slurm"`` and
``"htcondor"`` start worker jobs through dask-jobqueue (``SLURMCluster``, ``HTCondorCluster``;
the optional extra ``pip install dhstat[cluster]``) with the options of the ``[run.jobqueue]``
table (``cores``, ``memory``, ``queue``, ``walltime``, ...; ``jobs`` = how many jobs to start).

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
import importlib
import importlib.util
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from dhstat.errors import InputError

__all__ = [
    "CLUSTER_KINDS",
    "ClusterSpec",
    "Executor",
    "cpu_count",
    "executor",
    "running_cluster",
    "start_cluster",
    "task_rng",
    "task_seed",
]

#: The kinds of cluster :class:`ClusterSpec` starts: a dask LocalCluster, or dask-jobqueue jobs.
CLUSTER_KINDS = ("local", "slurm", "htcondor")

#: What ``pip`` installs for the jobqueue clusters.
_EXTRA = "pip install dhstat[cluster]"

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


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """A cluster for the executor to start: ``local:N``, ``slurm`` or ``htcondor``.

    Attributes:
        kind: One of :data:`CLUSTER_KINDS`.
        size: ``local``: worker processes; ``slurm``/``htcondor``: jobs to start.
        options: Keyword arguments of ``SLURMCluster`` / ``HTCondorCluster`` (``cores``,
            ``memory``, ``queue``, ``walltime``, ...); empty for ``local``.
    """

    kind: str
    size: int
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        spec: str,
        options: Mapping[str, Any] | None = None,
        *,
        source: str = "<config>",
        key: str = "run.cluster",
    ) -> ClusterSpec:
        """``"local:N"``, ``"slurm"`` or ``"htcondor"``, with the ``[run.jobqueue]`` options.

        Args:
            spec: The cluster's kind (and, for ``local``, its number of workers).
            options: The jobqueue options; ``jobs`` (default 1) is how many jobs to start.
                Ignored for ``local:N``.
            source: Where ``spec`` came from, for error messages (a file, or the command line).
            key: The option or key that gave ``spec``.

        Raises:
            InputError: An unknown kind, ``local:0``, ``jobs`` < 1, or dask-jobqueue not
                installed for ``slurm``/``htcondor`` (the message says what to install).

        Example:
            >>> ClusterSpec.parse("local:4")
            ClusterSpec(kind='local', size=4, options={})
            >>> ClusterSpec.parse("local:0")
            Traceback (most recent call last):
            ...
            dhstat.errors.InputError: <config>: run.cluster: expected local:N with N >= 1 worker \
processes, slurm or htcondor, got 'local:0'
        """
        text = spec.strip().lower()
        match = re.fullmatch(r"local:([0-9]+)", text)
        if match is not None and int(match.group(1)) >= 1:
            return cls("local", int(match.group(1)))  # the jobqueue options do not apply
        if text not in CLUSTER_KINDS[1:]:
            expected = "local:N with N >= 1 worker processes, slurm or htcondor"
            raise InputError(source, key, expected, got=spec)
        if importlib.util.find_spec("dask_jobqueue") is None:
            expected = f"dask-jobqueue installed for a {text} cluster ({_EXTRA})"
            raise InputError(source, key, expected, got=spec)
        rest = dict(options or {})
        jobs = rest.pop("jobs", 1)
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise InputError(source, "run.jobqueue.jobs", "an integer >= 1", got=jobs)
        return cls(text, jobs, rest)

    @classmethod
    def from_run(
        cls, run: Mapping[str, Any], *, spec: str | None = None, source: str = "<config>"
    ) -> ClusterSpec | None:
        """The cluster a ``[run]`` table (or ``spec``, e.g. from ``--cluster``) asks for, if any.

        Args:
            run: The ``[run]`` table (``cluster``, ``jobqueue``, ``scheduler``).
            spec: Overrides ``run["cluster"]`` when given (the command line's ``--cluster``).
            source: The configuration file, for error messages.

        Raises:
            InputError: As :meth:`parse`, or a cluster together with ``[run] scheduler``.

        Example:
            >>> ClusterSpec.from_run({"scheduler": "", "cluster": ""}) is None
            True
            >>> ClusterSpec.from_run({"scheduler": ""}, spec="local:2").size
            2
        """
        text = spec if spec is not None else str(run.get("cluster", ""))
        if not text:
            return None
        where = "<command line>" if spec is not None else source
        key = "--cluster" if spec is not None else "run.cluster"
        if run.get("scheduler"):
            expected = "either a cluster to start or [run] scheduler, not both"
            raise InputError(where, key, expected, got=text)
        return cls.parse(text, run.get("jobqueue"), source=where, key=key)

    @property
    def workers(self) -> int:
        """Worker processes once every job runs (per job ``processes``, else ``cores``, else 1).

        Bounds the tasks in flight only: results never depend on it.
        """
        if self.kind == "local":
            return self.size
        per_job = self.options.get("processes") or self.options.get("cores") or 1
        return self.size * max(int(per_job), 1)


@contextlib.contextmanager
def start_cluster(spec: ClusterSpec, *, source: str = "<config>") -> Iterator[Any]:
    """Start the cluster of ``spec`` (not yet scaled for jobqueue kinds), and close it after.

    Args:
        spec: The cluster.
        source: Where the options came from, for error messages.

    Yields:
        The dask cluster object (``LocalCluster``, ``SLURMCluster`` or ``HTCondorCluster``).

    Raises:
        InputError: dask-jobqueue rejects the ``[run.jobqueue]`` options (names them).
    """
    if spec.kind == "local":
        from distributed import LocalCluster  # local import: start-up time

        with LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=spec.size, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local:
            yield local
        return
    jobqueue = importlib.import_module("dask_jobqueue")  # imported here: start-up time
    factory = {"slurm": jobqueue.SLURMCluster, "htcondor": jobqueue.HTCondorCluster}
    try:
        cluster = factory[spec.kind](**spec.options)
    except (TypeError, ValueError) as error:
        expected = f"options that dask_jobqueue's {spec.kind} cluster accepts"
        raise InputError(source, "run.jobqueue", expected, got=str(error)) from None
    with cluster:
        yield cluster


@contextlib.contextmanager
def running_cluster(spec: ClusterSpec, *, source: str = "<config>") -> Iterator[str]:
    """Start the cluster of ``spec`` with all its workers (jobs submitted), stop it after.

    ``dhstat run`` keeps one running for all its stages and opens an executor on it per stage
    (``executor(scheduler=address, workers=spec.workers)``).

    Yields:
        The scheduler's address.
    """
    with start_cluster(spec, source=source) as cluster:
        if spec.kind != "local":
            cluster.scale(jobs=spec.size)
        yield str(cluster.scheduler_address)


@contextlib.contextmanager
def executor(
    *, workers: int = 0, scheduler: str | None = None, cluster: ClusterSpec | None = None
) -> Iterator[Executor]:
    """Open an executor: local processes (``workers``; 0 = all cores) or a dask cluster.

    Args:
        workers: Local worker processes; 0 means one per core, 1 runs tasks in this process.
        scheduler: A dask.distributed scheduler address (``tcp://host:port``); when given, tasks
            run on that cluster and ``workers`` only stands for its workers while none has
            joined yet (it bounds the tasks in flight).
        cluster: A cluster to start for this executor and stop after it (see
            :class:`ClusterSpec`); ``workers`` is then ignored. Not together with ``scheduler``.

    Raises:
        ValueError: Both ``scheduler`` and ``cluster`` are given.
    """
    if scheduler and cluster is not None:
        msg = "give a scheduler address or a cluster to start, not both"
        raise ValueError(msg)
    if cluster is not None:
        with (
            running_cluster(cluster) as address,
            executor(scheduler=address, workers=cluster.workers) as ex,
        ):
            yield ex
        return
    if scheduler:
        from distributed import Client  # local import: start-up time

        with Client(scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            # workers that have not joined yet (batch jobs in the queue) count as ``workers``
            n = sum(client.ncores().values()) or max(workers, 1)

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
