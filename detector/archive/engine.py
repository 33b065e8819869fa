"""The archive scan on Ray: plan what is left to do, spread it over one worker a core, write rows as files finish.

Embedded by default: with no address (and no ``RAY_ADDRESS``) a local Ray starts with one worker per core asked
for; with ``address="auto"`` or ``"ray://host:10001"`` the scan joins a running cluster, whose nodes must see the
files at the same paths (shared storage). Each worker is a Ray actor that loads the models once (``ScanWorker``)
and holds two files at a time, the one it analyses and the next. A worker that dies is replaced; a file it had not
finished runs again, alone on a worker, so that a death is blamed on the file that caused it; a file whose worker
died twice while analysing it alone is recorded as failed.

Plan (``plan``): a file whose bytes (SHA-256) and settings already have a row under the same name is skipped; one
whose bytes were analysed before under another name gets a copy of that row; files with the same bytes are
analysed once and each gets its row.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.archive import rows, sources
from detector.archive.rows import Scanned
from detector.archive.store import ResultsStore
from detector.archive.worker import THREAD_VARIABLES, Analyse, ScanWorker
from detector.config import AnalysisConfig

logger = logging.getLogger(__name__)

# A file is tried again once when its worker dies (a crash in a decoder, the machine's memory killer).
MAX_ATTEMPTS = 2  # a file whose worker died twice while analysing it alone is recorded as failed
# Files handed to a worker at once: the one it analyses and the next, waiting.
FILES_IN_FLIGHT = 2
WORKER_DIED = "the worker analysing it stopped unexpectedly, twice (a crash or out of memory)"
MISSING = "no such file"

Progress = Callable[[int, int, int], None]  # files done, files to do, failures so far


@dataclass
class Job:
    """One distinct content to analyse, and every file name it appears under in this run."""

    sha256: str
    size_bytes: int
    paths: list[Path]
    # Times a worker died analysing it, counted only when it was the worker's one unfinished file.
    crashes: int = 0
    # It was among the unfinished files of a worker that died: it runs alone until it finishes, so that a death
    # is blamed on the file that caused it.
    suspect: bool = False


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    # Rows written without analysis: files that do not exist or cannot be read, and new names of known content.
    ready: list[Scanned] = field(default_factory=list)
    skipped: int = 0

    @property
    def files_to_scan(self) -> int:
        return sum(len(job.paths) for job in self.jobs)


@dataclass
class Summary:
    """What a run did, for the closing lines."""

    files: int = 0
    skipped: int = 0
    copied: int = 0
    analysed: int = 0
    verdicts: collections.Counter = field(default_factory=collections.Counter)
    failures: collections.Counter = field(default_factory=collections.Counter)
    replaced_workers: int = 0
    workers: int = 0
    seconds: float = 0.0
    # Starting Ray and the workers (models loaded) before the first file; the rest of ``seconds`` analysed files.
    startup_seconds: float = 0.0
    # Processor time the driver (this process) spent once the workers were ready: planning aside, its share of the
    # cores the workers also need.
    driver_cpu_seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def clips_per_minute(self) -> float:
        """Files analysed a minute once the workers were ready (starting them is ``startup_seconds``)."""
        working = self.seconds - self.startup_seconds
        return 60.0 * self.analysed / working if working > 0 else 0.0

    def count(self, scanned: Scanned) -> None:
        row = scanned.file_row
        if row["verdict"] is None:
            self.failures[row["error"]] += 1
        else:
            self.verdicts[row["verdict"]] += 1


def plan(
    paths: Sequence[Path],
    store: ResultsStore,
    settings: str,
    models: Sequence[str],
    retry_failed: bool = False,
) -> Plan:
    """What is left to do for ``paths`` with these settings (reads and hashes every file once)."""
    done, has_row = store.index(settings, retry_failed)
    earlier_faces: dict[str, list[dict[str, Any]]] | None = None  # read once, when a known file comes again
    result = Plan()
    by_content: dict[str, Job] = {}
    for path in paths:
        name = str(path)
        try:
            size = path.stat().st_size
            sha256 = sources.file_sha256(path)
        except OSError as error:
            reason = MISSING if isinstance(error, FileNotFoundError) else f"cannot be read: {error.strerror}"
            if (name, None) not in has_row:
                result.ready.append(Scanned(rows.file_row(name, None, None, models, settings, error=reason)))
            else:
                result.skipped += 1
            continue
        if (name, sha256) in has_row and not (retry_failed and done.get(sha256) is None):
            result.skipped += 1
        elif sha256 in done:
            earlier = done[sha256]
            if earlier_faces is None:
                earlier_faces = store.faces_by_sha256(settings)
            faces = earlier_faces.get(sha256, [])
            result.ready.append(rows.for_duplicate(Scanned(earlier, tuple(faces)), name))
        elif sha256 in by_content:
            by_content[sha256].paths.append(path)
        else:
            by_content[sha256] = Job(sha256, size, [path])
            result.jobs.append(by_content[sha256])
    return result


def _start_ray(address: str | None, workers: int | None) -> tuple[bool, int]:
    """Starts or joins Ray; returns whether this call started it and how many workers to run."""
    import ray

    if ray.is_initialized():
        started = False
    else:
        env = {"env_vars": {name: "1" for name in THREAD_VARIABLES}}
        local = address is None and not os.environ.get("RAY_ADDRESS")
        options: dict[str, Any] = {"runtime_env": env, "include_dashboard": False, "log_to_driver": False}
        if local:
            options["num_cpus"] = workers or os.cpu_count() or 1
        ray.init(address=address, logging_level=logging.WARNING, **options)
        started = True
    available = int(ray.cluster_resources().get("CPU", 1))
    return started, max(1, min(workers or available, available))


def run(
    current_plan: Plan,
    store: ResultsStore,
    config: AnalysisConfig,
    settings: str,
    models: Sequence[str],
    models_folder: str | None = None,
    reports_folder: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    analyse: Analyse | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Carries out ``current_plan`` on Ray and writes every row to ``store`` as it is known."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    started_at = time.perf_counter()
    summary = Summary(files=current_plan.files_to_scan + len(current_plan.ready), skipped=current_plan.skipped)
    store.append(current_plan.ready)
    for scanned in current_plan.ready:
        summary.count(scanned)
        summary.copied += scanned.file_row["sha256"] is not None
    done_files = len(current_plan.ready)
    total = summary.files
    if progress:
        progress(done_files, total, summary.failed)
    if not current_plan.jobs:
        summary.seconds = time.perf_counter() - started_at
        return summary

    started_ray, count = _start_ray(address, workers)
    summary.workers = count
    remote_worker = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(ScanWorker)
    arguments = (models, config, settings, models_folder, reports_folder, 1, analyse)

    def new_workers(slots: Sequence[int]) -> list[Any]:
        # On a Ray of its own the scan owns the computer: worker N keeps to core N, so that its decoding thread
        # and its analysis share one core, as the per-core figures assume. On a cluster Ray places the work.
        actors = [
            remote_worker.options(scheduling_strategy="SPREAD").remote(*arguments, core=slot if started_ray else None)
            for slot in slots
        ]
        # A worker that cannot even load the models fails here, with the reason, before any file is blamed.
        ray.get([actor.pid.remote() for actor in actors])
        return actors

    try:
        pool = new_workers(range(count))
        summary.startup_seconds = time.perf_counter() - started_at
        driver_started = time.process_time()
        # Largest first: the long files start early and the short ones fill the gaps at the end, so that no worker
        # is left alone with a long file while the others idle.
        queue = collections.deque(sorted(current_plan.jobs, key=lambda job: job.size_bytes, reverse=True))
        # Each worker has its next file waiting while it analyses one, so that it never idles while the driver
        # writes rows. Ray runs an actor's calls in order: the oldest in a worker's list is the one running.
        in_flight: list[list[tuple[Any, Job]]] = [[] for _ in pool]
        owner: dict[Any, int] = {}

        def dispatch(slot: int) -> None:
            while queue and len(in_flight[slot]) < FILES_IN_FLIGHT:
                if in_flight[slot] and (queue[0].suspect or in_flight[slot][0][1].suspect):
                    break  # a suspect runs alone
                job = queue.popleft()
                reference = pool[slot].scan.remote(str(job.paths[0]), job.sha256, job.size_bytes)
                in_flight[slot].append((reference, job))
                owner[reference] = slot

        def failed_row(job: Job, error: str) -> Scanned:
            return Scanned(rows.file_row(str(job.paths[0]), job.sha256, job.size_bytes, models, settings, error=error))

        for slot in range(len(pool)):
            dispatch(slot)

        def outcome(reference: Any, job: Job) -> Scanned:
            """A finished call's rows; raises ``RayActorError`` when its worker died."""
            try:
                return ray.get(reference)
            except RayTaskError as error:
                # A fault in the checker itself (not in the file): recorded, and the scan goes on.
                logger.error("analysing %s failed: %s", job.paths[0], error)
                cause = error.cause if isinstance(error.cause, Exception) else error
                return failed_row(job, f"the checker failed: {type(cause).__name__}: {cause}")

        def after_death(slot: int) -> list[tuple[Job, Scanned]]:
            """A worker died: what it finished still counts. Its one unfinished file is charged with the death;
            several unfinished files (Ray may lose the reply of a file finished just before) become suspects that
            run alone. A file charged twice is recorded as failed. The worker is replaced."""
            finished, unfinished = [], []
            for reference, job in in_flight[slot]:
                owner.pop(reference, None)
                try:
                    finished.append((job, outcome(reference, job)))
                except RayActorError:
                    unfinished.append(job)
            in_flight[slot] = []
            summary.replaced_workers += 1
            ray.kill(pool[slot], no_restart=True)
            pool[slot] = new_workers([slot])[0]
            if len(unfinished) == 1:
                culprit = unfinished[0]
                culprit.crashes += 1
                logger.warning("a worker died analysing %s (%d time(s))", culprit.paths[0], culprit.crashes)
                if culprit.crashes >= MAX_ATTEMPTS:
                    return [*finished, (culprit, failed_row(culprit, WORKER_DIED))]
            for job in reversed(unfinished):
                job.suspect = True
                queue.appendleft(job)
            return finished

        while owner:
            ready, _ = ray.wait(list(owner), num_returns=1)
            slot = owner[ready[0]]
            job = next(job for reference, job in in_flight[slot] if reference == ready[0])
            try:
                finished = [(job, outcome(ready[0], job))]
                owner.pop(ready[0])
                in_flight[slot] = [(reference, other) for reference, other in in_flight[slot] if reference != ready[0]]
            except RayActorError:
                finished = after_death(slot)
            dispatch(slot)
            for job, scanned in finished:
                written = [scanned, *(rows.for_duplicate(scanned, str(path)) for path in job.paths[1:])]
                store.append(written)
                for item in written:
                    summary.count(item)
                summary.analysed += 1
                done_files += len(written)
                if progress:
                    progress(done_files, total, summary.failed)
        summary.driver_cpu_seconds = time.process_time() - driver_started
    finally:
        if started_ray:
            ray.shutdown()
    summary.seconds = time.perf_counter() - started_at
    return summary
