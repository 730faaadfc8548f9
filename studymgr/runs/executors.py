"""Where independent tasks run: this process, a local process pool, or a Dask cluster.

Two ways of running work are offered by every executor:

* :meth:`Executor.map` — one task per item, results back in item order (e.g. the repetitions
  of a power simulation, see :func:`map_tasks`);
* :meth:`Executor.map_staged` — two waves: each *input* is prepared once (a recording read and
  preprocessed), then each *task* runs on the prepared inputs it names (a session's true pair
  and its pseudo pairs, which reuse other sessions' recordings). With Dask the prepared inputs
  stay on the workers as futures and the tasks depend on them, so the coordinating process
  never holds the prepared arrays, a recording joining 50 pseudo pairs is still preprocessed
  once, and data lost with a dead worker is recomputed from its lineage.

The local executor is the default and needs nothing beyond the standard library. ``dask`` and
``distributed`` are an optional extra (``pip install studymgr[dask]``), imported only when a
:class:`DaskExecutor` is used.

Tasks never touch the study database: they get plain inputs (file paths, hashes, settings) and
return results, which the calling process stores.
"""

from __future__ import annotations

import abc
import logging
import sys
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from studymgr.errors import InputError

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")
INSTALL_HINT = "install studymgr[dask] (pip install 'studymgr[dask]')"
#: Seconds to wait for a Dask scheduler.
CONNECT_TIMEOUT = 10.0

#: ``progress(phase, done, total)`` with phase ``"prepare"`` or ``"compute"``.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed on the cluster even after its retries (yielded instead of a result)."""

    message: str


def _star(args: tuple[Callable, Any, dict]) -> Any:
    func, payload, shared = args
    return func(payload, shared)


class Executor(abc.ABC):
    """Runs independent tasks and hands their results back to the calling process.

    Use as a context manager (``with get_executor("dask") as ex: ...``) so that a cluster it
    started is shut down.
    """

    name = "base"

    @abc.abstractmethod
    def map(self, func: Callable[[Any], Any], items: Sequence) -> Iterator[Any]:
        """``func(item)`` for every item; results in item order.

        ``func`` must be picklable (a module-level function) for process and cluster executors.
        An exception raised by a task is raised here.
        """

    @abc.abstractmethod
    def map_staged(self, prepare: Callable[[Any], Any], inputs: Mapping[Hashable, Any],
                   compute: Callable[[Any, dict], Any],
                   tasks: Sequence[tuple[Any, Sequence[Hashable]]], *,
                   progress: ProgressFn | None = None) -> Iterator[tuple[int, Any]]:
        """Prepare each input once, then run each task on the prepared inputs it needs.

        Parameters
        ----------
        prepare : callable
            ``prepare(inputs[key])`` → prepared value (one task per key).
        inputs : mapping
            Key → argument of ``prepare``.
        compute : callable
            ``compute(payload, {key: prepared value})`` → result.
        tasks : sequence of (payload, keys)
            One task per entry; ``keys`` name the inputs it needs (all must be in ``inputs``).
        progress : callable | None
            Called as ``progress("prepare", done, total)`` while inputs are prepared, then as
            ``progress("compute", done, total)`` after each result has been handled by the
            caller.

        Yields
        ------
        (int, object)
            The task's index in ``tasks`` and its result, or a :class:`TaskFailure` when a
            cluster executor gave up on it (the local executor raises instead).
        """

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """Number of tasks that can run at once."""

    def close(self) -> None:  # noqa: B027 - an optional hook: the local executor has nothing to free
        """Release processes or clusters this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """This process (``jobs=1``) or a pool of ``jobs`` local processes.

    Parameters
    ----------
    jobs : int
        Worker processes; 1 runs everything in the calling process.
    """

    name = "local"

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise InputError("--jobs must be at least 1")
        self.jobs = int(jobs)

    @property
    def workers(self) -> int:
        return self.jobs

    def map(self, func: Callable[[Any], Any], items: Sequence) -> Iterator[Any]:
        if self.jobs <= 1 or len(items) <= 1:
            yield from map(func, items)
            return
        with ProcessPoolExecutor(max_workers=self.jobs) as pool:
            yield from pool.map(func, items)

    def map_staged(self, prepare: Callable[[Any], Any], inputs: Mapping[Hashable, Any],
                   compute: Callable[[Any, dict], Any],
                   tasks: Sequence[tuple[Any, Sequence[Hashable]]], *,
                   progress: ProgressFn | None = None) -> Iterator[tuple[int, Any]]:
        keys = list(inputs)
        prepared: dict[Hashable, Any] = {}
        for done, (key, value) in enumerate(
                zip(keys, self.map(prepare, [inputs[k] for k in keys]), strict=True), start=1):
            prepared[key] = value
            if progress:
                progress("prepare", done, len(keys))
        # The prepared values travel with each task (pickled once per task in a process pool).
        args = [(compute, payload, {k: prepared[k] for k in needs}) for payload, needs in tasks]
        for done, result in enumerate(self.map(_star, args), start=1):
            yield done - 1, result
            if progress:
                progress("compute", done, len(args))


def _import_distributed() -> Any:
    first = "distributed" not in sys.modules
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise InputError(f"the dask executor needs dask and distributed: {INSTALL_HINT}, "
                         "or use --executor local") from None
    if first:
        _follow_application_logging()
    return distributed


def _follow_application_logging() -> None:
    """On import, distributed sets its loggers to INFO; when the application has already set up
    logging (a root handler, as the CLI does), every scheduler event then reaches that handler.
    Follow the application instead: distributed's messages from WARNING up, all at DEBUG."""
    root = logging.getLogger()
    if root.handlers:
        verbose = root.getEffectiveLevel() <= logging.DEBUG
        logging.getLogger("distributed").setLevel(logging.DEBUG if verbose else logging.WARNING)


class DaskExecutor(Executor):
    """Tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : str | None
        Address of a running scheduler (``tcp://host:8786``); without one a ``LocalCluster``
        of ``n_workers`` single-threaded worker processes is started (and closed by
        :meth:`close`).
    n_workers : int
        Workers of the local cluster (ignored with ``scheduler``).
    retries : int
        Extra attempts for a task that raised an exception (``1``: a task is tried twice).
    allowed_failures : int
        For the local cluster: how many workers may die while running a task before it is
        given up (``1``: a task whose worker dies is rescheduled once). A remote scheduler
        uses its own ``distributed.scheduler.allowed-failures`` setting (Dask's default 3).
    client : distributed.Client | None
        An existing client to use instead (not closed by :meth:`close`).
    connect_timeout : float | None
        Seconds to wait for the scheduler (default :data:`CONNECT_TIMEOUT`). A scheduler
        address is contacted at once, so a wrong one fails before any work; a local cluster
        is started on first use.
    max_in_flight : int | None
        Tasks kept on the cluster at once (default: one per worker thread, see Notes).

    Notes
    -----
    Workers must be able to import studymgr and read the study's data folder at the same path
    as the calling process (a shared file system); every recording is verified against its
    sha256 on the worker before it is used.

    Tasks are submitted a window at a time (one per worker thread): when a worker dies, Dask
    counts a failure against every task assigned to it, so submitting everything at once would
    let one crashing session use up the allowed failures of the sessions queued behind it.
    A task that waits for its inputs (a session whose recordings are still being prepared)
    holds a slot without running, which costs little at the boundary between the two waves.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, n_workers: int = 2, retries: int = 1,
                 allowed_failures: int = 1, client: Any = None,
                 connect_timeout: float | None = None,
                 max_in_flight: int | None = None) -> None:
        if n_workers < 1:
            raise InputError("--jobs (the number of local Dask workers) must be at least 1")
        if retries < 0 or allowed_failures < 0:
            raise InputError("retries and allowed_failures must be at least 0")
        self.scheduler = scheduler
        self.n_workers = int(n_workers)
        self.retries = int(retries)
        self.allowed_failures = int(allowed_failures)
        self.connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        if max_in_flight is not None and max_in_flight < 1:
            raise InputError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._client = client
        self._own_client = client is None
        self._cluster: Any = None
        _import_distributed()
        if scheduler is not None and client is None:
            self._client = self._connect()

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (connecting or starting the local cluster on first use)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import dask

        distributed = _import_distributed()
        if self.scheduler is None:
            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers to return freed memory to the
            # system; that also turns off glibc's adaptive mmap threshold, so every large
            # temporary array is mmap'ed and faulted in afresh: the wavelet code ran 30-50 %
            # slower (measured). Workers keep glibc's default here. The workers' statistical
            # profiles (every 10 ms, for the dashboard) are not collected either, and the
            # scheduler's web server takes a free port on localhost rather than 8787.
            with dask.config.set({"distributed.scheduler.allowed-failures":
                                  self.allowed_failures,
                                  "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                                  None,
                                  "distributed.worker.profile.enabled": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=1, processes=True,
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            logger.info("started a local Dask cluster with %d workers", self.n_workers)
            return distributed.Client(self._cluster)
        try:
            client = distributed.Client(self.scheduler, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot connect to the Dask scheduler at {self.scheduler} "
                             f"({type(exc).__name__}): check the address (e.g. "
                             "tcp://host:8786) and that the scheduler is running") from None
        logger.info("connected to the Dask scheduler at %s", self.scheduler)
        return client

    @property
    def workers(self) -> int:
        if self._client is None and self.scheduler is None:
            return self.n_workers
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    # -- running ------------------------------------------------------------------------------
    def _key(self, func: Callable, token: str, i: object) -> str:
        name = getattr(func, "__name__", type(func).__name__).strip("_")
        return f"studymgr-{name}-{token}-{i}"

    def _slots(self) -> int:
        """Tasks to keep on the cluster at once: one per worker thread (at least one)."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return self.workers

    def _windowed(self, submissions: Iterator[Callable[[], Any]]) -> Iterator[Any]:
        """Submit lazily, keeping :meth:`_slots` tasks on the cluster; yields finished futures.

        Why a window: when a worker dies, Dask counts a failure against every task assigned to
        it, running or merely waiting there; with all tasks submitted at once a healthy session
        queued behind a crashing one would use up its allowed failures too.
        """
        distributed = _import_distributed()
        pending = iter(submissions)
        running = distributed.as_completed()
        in_flight = 0
        exhausted = False

        def refill() -> None:
            nonlocal in_flight, exhausted
            while not exhausted and in_flight < self._slots():
                submit = next(pending, None)
                if submit is None:
                    exhausted = True
                    return
                running.add(submit())
                in_flight += 1

        refill()
        for future in running:
            in_flight -= 1
            yield future
            refill()

    def map(self, func: Callable[[Any], Any], items: Sequence) -> Iterator[Any]:
        client = self.client
        token = uuid.uuid4().hex[:12]
        futures: dict[Any, int] = {}

        def submissions() -> Iterator[Callable[[], Any]]:
            for i, item in enumerate(items):
                def submit(i: int = i, item: Any = item) -> Any:
                    future = client.submit(func, item, key=self._key(func, token, i),
                                           retries=self.retries, pure=False)
                    futures[future] = i
                    return future
                yield submit

        done: dict[int, Any] = {}
        next_index = 0
        try:
            for future in self._windowed(submissions()):
                done[futures.pop(future)] = future
                while next_index in done:  # in item order
                    yield done.pop(next_index).result()
                    next_index += 1
        finally:
            client.cancel(list(futures) + list(done.values()))

    def map_staged(self, prepare: Callable[[Any], Any], inputs: Mapping[Hashable, Any],
                   compute: Callable[[Any, dict], Any],
                   tasks: Sequence[tuple[Any, Sequence[Hashable]]], *,
                   progress: ProgressFn | None = None) -> Iterator[tuple[int, Any]]:
        client = self.client
        token = uuid.uuid4().hex[:12]
        prepared: dict[Hashable, Any] = {}
        computed: dict[Any, int] = {}

        def submissions() -> Iterator[Callable[[], Any]]:
            for i, (key, value) in enumerate(inputs.items()):
                def submit_prepare(i: int = i, key: Hashable = key, value: Any = value) -> Any:
                    prepared[key] = client.submit(prepare, value,
                                                  key=self._key(prepare, token, f"p{i}"),
                                                  retries=self.retries, pure=False)
                    return prepared[key]
                yield submit_prepare
            for i, (payload, needs) in enumerate(tasks):
                # Futures as arguments: the task starts once its inputs are prepared, and the
                # prepared arrays move between workers, never through this process.
                def submit_compute(i: int = i, payload: Any = payload,
                                   needs: Sequence[Hashable] = needs) -> Any:
                    future = client.submit(compute, payload, {k: prepared[k] for k in needs},
                                           key=self._key(compute, token, f"c{i}"),
                                           retries=self.retries, pure=False)
                    computed[future] = i
                    return future
                yield submit_compute

        n_prepare, n_compute = len(inputs), len(tasks)
        done_prepare = done_compute = 0
        try:
            for future in self._windowed(submissions()):
                if future not in computed:
                    # A failed preparation surfaces through the tasks that need it.
                    done_prepare += 1
                    if progress:
                        progress("prepare", done_prepare, n_prepare)
                        if done_prepare == n_prepare and done_compute:
                            progress("compute", done_compute, n_compute)
                    continue
                index = computed.pop(future)
                if future.status == "finished":
                    result = future.result()
                else:
                    result = TaskFailure(_failure_message(future))
                    logger.warning("task %d failed on the cluster: %s", index, result.message)
                future.release()
                yield index, result
                done_compute += 1
                # Compute progress starts once every input is prepared (one bar per phase).
                if progress and done_prepare == n_prepare:
                    progress("compute", done_compute, n_compute)
        finally:
            client.cancel([*prepared.values(), *computed])


def _failure_message(future: Any) -> str:
    if future.status == "cancelled":
        return "cancelled on the cluster (the scheduler lost it): run the command again"
    exc = future.exception()
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("the Dask workers running it died (KilledWorker, out of memory or crashed): "
                "see the worker logs")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ModuleNotFoundError):
        return f"{name}: {text} (install studymgr on every Dask worker)"
    if isinstance(exc, OSError):
        return (f"{name} on a Dask worker: {text} (the study's data folder must be mounted at "
                "the same path on every worker)")
    return f"{name}: {text}" if text else name


def get_executor(kind: str = "local", *, jobs: int = 1, scheduler: str | None = None,
                 retries: int = 1) -> Executor:
    """An executor by name.

    Parameters
    ----------
    kind : {"local", "dask"}
        ``local``: this process or a local process pool; ``dask``: a Dask cluster.
    jobs : int
        Local worker processes (``local``) or local Dask workers (``dask`` without a scheduler).
    scheduler : str | None
        Dask scheduler address (``dask`` only); without one a ``LocalCluster`` is started.
    retries : int
        Extra attempts of a failed task on a Dask cluster.

    Raises
    ------
    InputError
        Unknown kind, a scheduler with the local executor, ``jobs < 1``, or dask missing.
    """
    if kind not in EXECUTORS:
        raise InputError(f"unknown executor {kind!r}: choose local or dask")
    if jobs < 1:
        raise InputError("--jobs must be at least 1")
    if kind == "local":
        if scheduler is not None:
            raise InputError("--scheduler is only used with --executor dask")
        return LocalExecutor(jobs)
    return DaskExecutor(scheduler, n_workers=jobs, retries=retries)


def map_tasks(func: Callable[[Any], Any], items: Sequence, executor: Executor | str | None = None,
              *, jobs: int = 1) -> list[Any]:
    """``[func(item) for item in items]`` on an executor (e.g. power-simulation repetitions).

    Parameters
    ----------
    func : callable
        A module-level (picklable) function of one argument; anything random in it must take
        its seed from the item, so that results do not depend on where it ran.
    items : sequence
        One task per item.
    executor : Executor | str | None
        An executor, or ``"local"``/``"dask"`` for one made (and closed) here; default local.
    jobs : int
        Workers when the executor is made here.

    Returns
    -------
    list
        Results in item order.
    """
    if isinstance(executor, Executor):
        return list(executor.map(func, items))
    with get_executor(executor or "local", jobs=jobs) as ex:
        return list(ex.map(func, items))
