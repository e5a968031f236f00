"""Uploads and imports the console runs for its users, on a worker of the console process instead of
in a page's run, so the work goes on to its end when the page is closed or the browser drops.

Why here and not in the page: Streamlit stops a session's script when its browser goes; a call made
from the script would be cancelled with it (and the ingest service stops a re-upload whose caller is
gone). A process-wide worker thread owns the call instead (IngestService.ReuploadLeads or
ImportLeads, made with the internal token on the signed-in user's account and naming that user as
the actor), reads its progress stream and keeps what only the stream carries -- each row's changes
and failures -- for the page that started it (or the same user's next visit) for an hour. The ingest
service records every real run in `imports` (who, file, source, counts while running, status): the
upload and import histories read that, from any session. If the console process itself dies
mid-run, the lease lapses and the history shows the run as interrupted; sending the file again is
safe (accepted leads are skipped, an import resumes where it stopped)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

import grpc

from leadrelay import clients
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

REUPLOAD: Final = "reupload"
IMPORT: Final = "import"
CHUNK_BYTES: Final = 1 << 20
# What a page keeps of a stream: enough rows to show and download; beyond, only the counts.
MAX_KEPT_ROWS: Final = 200_000
KEEP_SECONDS: Final = 3600
# A run's call ends after this long even if the stream is still open (a hung service is not waited on forever).
CALL_SECONDS: Final = 3 * 3600


@dataclass
class Job:
    """One run of a file through the ingest service, as its stream reported it so far."""

    job_id: str
    kind: str
    account_id: UUID
    user_id: UUID
    file_name: str
    data: bytes
    spec: ingest_pb2.ImportSpec
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    # The latest progress message's counts (rows_total from the first message).
    progress: ingest_pb2.ImportProgress = field(default_factory=ingest_pb2.ImportProgress)
    rows_total: int = 0
    import_id: str = ""
    changed: list[ingest_pb2.RowChange] = field(default_factory=list)
    failed: list[ingest_pb2.FailedRow] = field(default_factory=list)
    columns_outside: list[ingest_pb2.FileColumnUse] = field(default_factory=list)
    columns_matched: list[ingest_pb2.FileColumnUse] = field(default_factory=list)
    # The call's refusal in words (a bad file, an unknown column, the service unreachable).
    error: str = ""
    done: bool = False
    future: Future[None] | None = None

    @property
    def dry_run(self) -> bool:
        return self.spec.dry_run

    @property
    def finished(self) -> bool:
        return self.done or bool(self.error)

    @property
    def fraction(self) -> float:
        """How far the run is, 0..1 (rows read of the file's rows; judging ends it)."""
        if self.done:
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(self.progress.rows_read / self.rows_total, 0.99)

    def take(self, message: ingest_pb2.ImportProgress) -> None:
        """One progress message into the job (the stream's messages carry the counts so far)."""
        if message.rows_total:
            self.rows_total = message.rows_total
        if message.import_id:
            self.import_id = message.import_id
        if len(self.changed) < MAX_KEPT_ROWS:
            self.changed.extend(message.changed_rows)
        if len(self.failed) < MAX_KEPT_ROWS:
            self.failed.extend(message.failed_rows)
        self.columns_outside.extend(message.columns_outside)
        self.columns_matched.extend(message.columns_matched)
        self.progress = message
        self.done = message.done


class Jobs:
    """The console process's runs, on one worker thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="console-file-jobs", daemon=True).start()

    def start(
        self,
        kind: str,
        account_id: UUID,
        user_id: UUID,
        file_name: str,
        data: bytes,
        spec: ingest_pb2.ImportSpec,
        *,
        first_only: bool = False,
    ) -> Job:
        """Starts a run; `first_only` ends the call after its first message (an import's column
        matching, read from a dry run's opening)."""
        job = Job(uuid.uuid4().hex, kind, account_id, user_id, file_name, data, spec)
        with self._lock:
            self._forget_old()
            self._jobs[job.job_id] = job
        job.future = asyncio.run_coroutine_threadsafe(self._run(job, first_only), self._loop)
        return job

    def get(self, job_id: str, account_id: UUID) -> Job | None:
        """The account's job (never another account's, whatever id a URL names)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.account_id == account_id else None

    def of_user(self, account_id: UUID, user_id: UUID, kind: str) -> list[Job]:
        """The user's real runs of `kind` still kept, newest first."""
        with self._lock:
            jobs = [
                j
                for j in self._jobs.values()
                if j.account_id == account_id and j.user_id == user_id and j.kind == kind and not j.dry_run
            ]
        return sorted(jobs, key=lambda j: j.started, reverse=True)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id in [k for k, j in self._jobs.items() if j.ended is not None and now - j.ended > KEEP_SECONDS]:
            del self._jobs[job_id]

    async def _run(self, job: Job, first_only: bool) -> None:
        meta = clients.as_account(self.settings.internal_token, job.account_id, actor_user_id=job.user_id)
        try:
            async with clients.channel(self.settings.ingest_target) as ch:
                stub = ingest_pb2_grpc.IngestServiceStub(ch)
                method = stub.ReuploadLeads if job.kind == REUPLOAD else stub.ImportLeads
                call = method(_chunks(job.spec, job.data), metadata=meta, timeout=CALL_SECONDS)
                async for message in call:
                    job.take(message)
                    if first_only:
                        call.cancel()
                        break
        except grpc.aio.AioRpcError as exc:
            job.error = refusal(exc)
        except Exception as exc:  # whatever went wrong is shown on the page, never lost
            job.error = f"the upload stopped: {exc}"
        finally:
            job.ended = time.monotonic()
            job.data = b""  # the page keeps its own copy; the worker need not


def refusal(exc: grpc.aio.AioRpcError) -> str:
    """A refused call in words for the page."""
    if exc.code() == grpc.StatusCode.UNAVAILABLE:
        return "The import service is not reachable right now. Try again in a minute."
    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return f"Too many uploads are running: {exc.details()}"
    return exc.details() or exc.code().name


async def _chunks(spec: ingest_pb2.ImportSpec, data: bytes) -> AsyncIterator[ingest_pb2.ImportChunk]:
    yield ingest_pb2.ImportChunk(spec=spec)
    for i in range(0, len(data), CHUNK_BYTES):
        yield ingest_pb2.ImportChunk(data=data[i : i + CHUNK_BYTES])


def file_format(name: str, data: bytes) -> common_pb2.FileFormat.ValueType:
    """The spec's format: XLSX for a zip (or a .xlsx name), else CSV."""
    if data[:2] == b"PK" or name.lower().endswith(".xlsx"):
        return common_pb2.FILE_FORMAT_XLSX
    return common_pb2.FILE_FORMAT_CSV


_JOBS: dict[str, Jobs] = {}
_JOBS_LOCK = threading.Lock()


def jobs(settings: Settings, make: Callable[[Settings], Jobs] = Jobs) -> Jobs:
    """The process's one worker (per ingest target: tests run consoles against their own services)."""
    with _JOBS_LOCK:
        found = _JOBS.get(settings.ingest_target)
        if found is None:
            found = _JOBS[settings.ingest_target] = make(settings)
        return found
