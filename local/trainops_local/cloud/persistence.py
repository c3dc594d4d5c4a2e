"""The local cloud's state kept between commands, in a work directory (``--workdir``, default ``.trainops/``).

moto keeps everything in process memory, so each command starts from nothing. The stack itself does not need
keeping: it is deployed again from ``template.yaml`` at every start (so template edits take effect), and its
physical names are deterministic (``<stack>-<LogicalId>-<hash of both>``), so the names and ARNs stored in the
data still resolve. What a command *produced* is kept: it is captured from moto's backends when the command
ends (and after each run), written atomically, and laid back over the freshly deployed stack at the next start.

Kept (moto's own records, pickled as they are, so Describe*/List*/Get* answer exactly as before):

* S3: every object, with its versions, in every bucket but the deployer's code bucket (rebuilt each start)
* DynamoDB: every item of every table (run records, uploads, slots, task tokens)
* SageMaker: training, processing and tuning jobs (with their metrics), model package groups and packages
  (approval status, metadata), models, and every other SageMaker record; a job still running when its
  command ended is kept as ``Stopped``, as AWS would report a job whose instance went away
* Step Functions: every *terminal* execution, with its input, output, error, cause and full history
* EventBridge Scheduler: schedules (and groups) created at run time; CloudWatch: metric data points;
  CloudWatch Logs: log groups and streams (the jobs' logs)
* IAM: the roles made at run time (each project's ``trainops-<project>-jobs``, written by SyncSchedule), with
  their policies and boundary: with IAM enforced a project's jobs need theirs, as on AWS where it stays

Not kept: running Step Functions executions (their interpreter threads cannot be; the command stops them,
so they are kept as ``ABORTED``), SQS messages (moto's queues hold locks), SNS, KMS keys, the template's IAM
resources and Lambda (all recreated from the template), and what only a running process knows (a job's local
environment notes).

The format is stamped in ``state.json``; a workdir written in another format is refused with a message that
names ``trainops local reset``. One command at a time uses a workdir (an exclusive lock).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "STATE_FORMAT",
    "LocalState",
    "Snapshot",
    "StateError",
    "reset_workdir",
]

log = logging.getLogger(__name__)

# Bump when what is pickled changes shape (or when moto's records do): older workdirs are then refused.
STATE_FORMAT = 1
STAMP = "state.json"
SNAPSHOT = "cloud.pickle"
LOCK = "lock"
# What a trainops workdir may hold: ``reset`` refuses to empty a directory holding anything else.
OWN_ENTRIES = frozenset({STAMP, SNAPSHOT, LOCK, "cloud", "jobs", f"{SNAPSHOT}.tmp", f"{STAMP}.tmp"})
# The deployer's code bucket is rebuilt from the source at every start: keeping it would only grow.
SKIPPED_BUCKET_PREFIXES = ("trainops-local-artifacts-",)
_TERMINAL_JOB = frozenset({"Completed", "Failed", "Stopped"})
_STOPPED_REASON = "the local cloud stopped while this job ran (its command ended)"


class StateError(Exception):
    """The workdir's state cannot be used (another format, unreadable, in use): exit code 2."""


@dataclass
class Snapshot:
    """What one command leaves for the next: moto's records, per service."""

    format: int = STATE_FORMAT
    saved_at: str = ""
    s3_buckets: dict[str, Any] = field(default_factory=dict)  # name -> moto FakeBucket (keys and versions)
    dynamodb_items: dict[str, tuple[tuple[str, str | None], Any]] = field(default_factory=dict)
    sagemaker: dict[str, dict[str, Any]] = field(default_factory=dict)  # backend attribute -> its records
    executions: list[dict[str, Any]] = field(default_factory=list)
    schedule_groups: dict[str, Any] = field(default_factory=dict)  # name -> moto ScheduleGroup (its schedules)
    log_groups: dict[str, Any] = field(default_factory=dict)
    metric_data: list[Any] = field(default_factory=list)
    iam_roles: dict[str, Any] = field(default_factory=dict)  # role name -> moto Role, made at run time

    def counts(self) -> dict[str, int]:
        """How many records of each kind (for messages and tests)."""
        return {
            "objects": sum(len(b.keys) for b in self.s3_buckets.values()),
            "items": sum(_count_items(items) for _, items in self.dynamodb_items.values()),
            "training_jobs": len(self.sagemaker.get("training_jobs", {})),
            "model_packages": len(self.sagemaker.get("model_packages", {})),
            "executions": len(self.executions),
        }


def _count_items(items: Any) -> int:
    return sum(len(v) if isinstance(v, dict) else 1 for v in items.values())


class LocalState:
    """The persisted state of one workdir: stamp, snapshot and lock.

    ``open()`` checks the stamp, takes the lock and reads the snapshot; ``restore()`` lays it over a freshly
    deployed stack; ``save()`` captures and writes (atomically); ``close()`` releases the lock.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir).absolute()
        self.snapshot: Snapshot | None = None
        self._lock_fd: int | None = None

    @property
    def stamp_path(self) -> Path:
        return self.workdir / STAMP

    @property
    def snapshot_path(self) -> Path:
        return self.workdir / SNAPSHOT

    # -- open / close --------------------------------------------------------------------------------
    def check(self) -> None:
        """Refuse a workdir written in another format (``StateError``); nothing is changed."""
        stamp = read_stamp(self.workdir)
        if stamp is None:
            if self.snapshot_path.exists():
                raise StateError(self._incompatible("it has a snapshot but no state.json"))
            return
        if stamp.get("format") != STATE_FORMAT:
            raise StateError(
                self._incompatible(f"its state is format {stamp.get('format')!r}; this trainops reads {STATE_FORMAT}")
            )

    def open(self) -> Snapshot | None:
        """Check the stamp, lock the workdir and read its snapshot (None for a new workdir)."""
        self.check()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lock()
        try:
            self.snapshot = self._read()
            if not self.stamp_path.exists():
                self._write_stamp()
        except BaseException:
            self.close()
            raise
        return self.snapshot

    def close(self) -> None:
        """Release the workdir's lock."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                _unlock(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock(self) -> None:
        """Take the workdir's exclusive lock (``StateError`` when another command holds it)."""
        fd = os.open(self.workdir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _try_lock(fd)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateError(
                f"--workdir {self.workdir} is in use by another trainops command (pid {holder}): "
                f"wait for it to end, or give another --workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _incompatible(self, why: str) -> str:
        return (
            f"--workdir {self.workdir} holds local cloud state this trainops cannot read ({why}). "
            f"Run `trainops local reset --workdir {self.workdir}` to start afresh (its runs, models and data "
            f"are deleted), or give another --workdir"
        )

    def _read(self) -> Snapshot | None:
        if not self.snapshot_path.exists():
            return None
        try:
            with self.snapshot_path.open("rb") as f:
                snapshot = pickle.load(f)  # our own file, in the user's own workdir
        except Exception as exc:
            raise StateError(self._incompatible(f"{SNAPSHOT} cannot be read: {type(exc).__name__}: {exc}")) from exc
        if not isinstance(snapshot, Snapshot) or snapshot.format != STATE_FORMAT:
            raise StateError(self._incompatible(f"{SNAPSHOT} is not format {STATE_FORMAT}"))
        return snapshot

    def _write_stamp(self) -> None:
        import moto

        stamp = {
            "format": STATE_FORMAT,
            "moto": moto.__version__,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "what": "trainops local cloud state: `trainops local reset` clears it",
        }
        _atomic_write(self.stamp_path, json.dumps(stamp, indent=2).encode())

    # -- save / restore ------------------------------------------------------------------------------
    def save(self, region: str, account_id: str) -> Snapshot:
        """Capture moto's records and write them atomically (a crash leaves the previous snapshot whole)."""
        # Threads may still be writing (a follow-up run, telemetry): a dict that changed size mid-pickle is
        # captured again.
        for attempt in range(5):
            snapshot = capture(region, account_id)
            try:
                data = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(0.05)
        _atomic_write(self.snapshot_path, data)
        self._write_stamp()
        self.snapshot = snapshot
        return snapshot

    def restore(self, region: str, account_id: str) -> None:
        """Lay the snapshot read by ``open()`` over the freshly deployed stack (no-op for a new workdir)."""
        if self.snapshot is not None:
            restore(self.snapshot, region, account_id)


# --------------------------------------------------------------------------------------------- capture


def capture(region: str, account_id: str) -> Snapshot:
    """moto's records of the running ``mock_aws``, as a :class:`Snapshot`."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.dynamodb.models import dynamodb_backends
    from moto.iam.models import iam_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import sagemaker_backends
    from moto.scheduler.models import scheduler_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    snapshot = Snapshot(saved_at=datetime.now(UTC).isoformat(timespec="seconds"))
    s3 = s3_backends[account_id]["aws"]
    snapshot.s3_buckets = {
        name: bucket for name, bucket in list(s3.buckets.items()) if not name.startswith(SKIPPED_BUCKET_PREFIXES)
    }
    ddb = dynamodb_backends[account_id][region]
    snapshot.dynamodb_items = {
        name: ((table.hash_key_attr, table.range_key_attr), table.items) for name, table in list(ddb.tables.items())
    }
    sm = sagemaker_backends[account_id][region]
    snapshot.sagemaker = {
        attr: dict(value) for attr, value in list(vars(sm).items()) if isinstance(value, dict) and value
    }
    sfn = stepfunctions_parser_backends[account_id][region]
    for machine in list(sfn.state_machines):
        for execution in list(machine.executions):
            record = _execution_record(execution)
            if record is not None:
                snapshot.executions.append(record)
    scheduler = scheduler_backends[account_id][region]
    snapshot.schedule_groups = dict(scheduler.schedule_groups)
    snapshot.log_groups = dict(logs_backends[account_id][region].groups)
    snapshot.metric_data = list(cloudwatch_backends[account_id][region].metric_data)
    snapshot.iam_roles = {role.name: role for role in list(iam_backends[account_id]["aws"].roles.values())}
    return snapshot


def _execution_record(execution: Any) -> dict[str, Any] | None:
    """A terminal execution as plain data (a running one holds interpreter threads: not kept)."""
    status = getattr(execution, "status", None)
    status = getattr(status, "value", status)
    if status in (None, "RUNNING"):
        return None
    if isinstance(execution, PersistedExecution):
        return execution.record
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    history = list(env.event_manager.get_event_history()) if env is not None else []
    output = execution.output
    return {
        "arn": execution.execution_arn,
        "name": execution.name,
        "state_machine_arn": execution.state_machine_arn,
        "input": execution.execution_input,
        "status": status,
        "start_date": execution.start_date,
        "stop_date": execution.stop_date,
        "output": output if output is None or isinstance(output, str) else json.dumps(output),
        "error": execution.error,
        "cause": execution.cause,
        "history": history,
    }


# --------------------------------------------------------------------------------------------- restore


def restore(snapshot: Snapshot, region: str, account_id: str) -> None:
    """Lay ``snapshot`` over the running ``mock_aws`` (after the stack was deployed: its records win)."""
    _restore_s3(snapshot, account_id)
    _restore_dynamodb(snapshot, account_id, region)
    _restore_sagemaker(snapshot, account_id, region)
    _restore_executions(snapshot, account_id, region)
    _restore_rest(snapshot, account_id, region)


def _restore_s3(snapshot: Snapshot, account_id: str) -> None:
    from moto.s3.models import s3_backends

    s3 = s3_backends[account_id]["aws"]
    for name, saved in snapshot.s3_buckets.items():
        bucket = s3.buckets.get(name)
        if bucket is None:  # a bucket the pipeline created, or one the template no longer declares
            s3.buckets[name] = saved
            s3_backends.bucket_accounts[name] = ("aws", account_id)
        else:
            bucket.keys = saved.keys


def _restore_dynamodb(snapshot: Snapshot, account_id: str, region: str) -> None:
    from moto.dynamodb.models import dynamodb_backends

    ddb = dynamodb_backends[account_id][region]
    for name, (key, items) in snapshot.dynamodb_items.items():
        table = ddb.tables.get(name)
        if table is None:
            log.warning("table %s is no longer in the stack: its %d saved items are dropped", name, len(items))
        elif (table.hash_key_attr, table.range_key_attr) != key:
            log.warning("table %s has another key schema now: its saved items are dropped", name)
        else:
            table.items = items


def _restore_sagemaker(snapshot: Snapshot, account_id: str, region: str) -> None:
    from moto.sagemaker.models import sagemaker_backends

    sm = sagemaker_backends[account_id][region]
    for attr, records in snapshot.sagemaker.items():
        target = getattr(sm, attr, None)
        if not isinstance(target, dict):
            continue
        for key, record in records.items():
            target.setdefault(key, record)
    now = datetime.now(UTC)
    job: Any
    for job in sm.training_jobs.values():
        if job.training_job_status not in _TERMINAL_JOB:
            job.training_job_status = job.secondary_status = "Stopped"
            job.failure_reason = getattr(job, "failure_reason", None) or _STOPPED_REASON
            job.training_end_time = getattr(job, "training_end_time", None) or now
    for job in sm.processing_jobs.values():
        if job.processing_job_status not in _TERMINAL_JOB:
            job.processing_job_status = "Stopped"
            job.exit_message = getattr(job, "exit_message", None) or _STOPPED_REASON
            job.processing_end_time = getattr(job, "processing_end_time", None) or now
    for job in sm.hyper_parameter_tuning_jobs.values():
        if job.hyper_parameter_tuning_job_status not in _TERMINAL_JOB:
            job.hyper_parameter_tuning_job_status = "Stopped"
            job.hyper_parameter_tuning_end_time = getattr(job, "hyper_parameter_tuning_end_time", None) or now


def _restore_executions(snapshot: Snapshot, account_id: str, region: str) -> None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    sfn = stepfunctions_parser_backends[account_id][region]
    machines = {m.arn: m for m in sfn.state_machines}
    for record in snapshot.executions:
        machine = machines.get(record["state_machine_arn"])
        if machine is None:
            log.warning("state machine %s is no longer in the stack: execution %s dropped", *record_arns(record))
            continue
        if not any(e.execution_arn == record["arn"] for e in machine.executions):
            machine.executions.append(PersistedExecution(record))  # type: ignore[arg-type]  # duck-typed: what the backend reads


def record_arns(record: dict[str, Any]) -> tuple[str, str]:
    return record["state_machine_arn"], record["arn"]


def _restore_rest(snapshot: Snapshot, account_id: str, region: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.logs.models import logs_backends
    from moto.scheduler.models import scheduler_backends

    scheduler = scheduler_backends[account_id][region]
    for name, group in snapshot.schedule_groups.items():
        current = scheduler.schedule_groups.get(name)
        if current is None:
            scheduler.schedule_groups[name] = group
        else:  # the template's own schedules were just created: they win
            for schedule_name, schedule in group.schedules.items():
                current.schedules.setdefault(schedule_name, schedule)
    logs = logs_backends[account_id][region]
    for name, log_group in snapshot.log_groups.items():
        existing = logs.groups.get(name)
        if existing is None:
            logs.groups[name] = log_group
        else:
            for stream_name, stream in log_group.streams.items():
                existing.streams.setdefault(stream_name, stream)
    cloudwatch = cloudwatch_backends[account_id][region]
    cloudwatch.metric_data[:0] = snapshot.metric_data
    _restore_roles(snapshot, account_id)


def _restore_roles(snapshot: Snapshot, account_id: str) -> None:
    """The roles a command made at run time; the template's (just created, same names) win. A snapshot written
    before roles were kept has none."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    present = {role.name for role in iam.roles.values()}
    for name, role in getattr(snapshot, "iam_roles", {}).items():
        if name not in present:
            iam.roles[role.id] = role


class _NoCallbacks:
    """A finished execution waits for no task token and ran no Map: what moto's backend asks of its worker."""

    def notify(self, callback_id: str, outcome: Any) -> bool:
        del callback_id, outcome
        return False

    def heartbeat(self, callback_id: str) -> bool:
        del callback_id
        return False

    def get(self, arn: str) -> None:
        del arn

    def get_all(self) -> list[Any]:
        return []


class _FinishedEnv:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.callback_pool_manager = _NoCallbacks()
        self.map_run_record_pool_manager = _NoCallbacks()
        self.history = history

    def program_state(self) -> None:
        """Ended long ago: neither running nor stopping (``sfn.interrupt_stopped_waits`` asks)."""


class _FinishedWorker:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.env = _FinishedEnv(history)

    def stop(self, **kwargs: Any) -> None:
        del kwargs


class PersistedExecution:
    """A terminal execution of an earlier command, answering Describe/List/GetExecutionHistory as before."""

    def __init__(self, record: dict[str, Any]) -> None:
        from moto.stepfunctions.parser.api import ExecutionStatus

        self.record = record
        self.execution_arn = self.exec_arn = record["arn"]
        self.name = record["name"]
        self.state_machine_arn = record["state_machine_arn"]
        self.execution_input = record["input"]
        self.exec_status = ExecutionStatus(record["status"])
        self.start_date = record["start_date"]
        self.stop_date = record["stop_date"]
        self.output = record["output"]
        self.output_details = {"included": True}
        self.error = record["error"]
        self.cause = record["cause"]
        self.exec_worker = _FinishedWorker(record["history"])

    @property
    def status(self) -> str:
        return str(self.exec_status.value)

    def to_history_output(self) -> dict[str, Any]:
        return {"events": list(self.record["history"])}

    def stop(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs  # already terminal


# --------------------------------------------------------------------------------------------- files


def read_stamp(workdir: Path) -> dict[str, Any] | None:
    """The workdir's ``state.json`` (None when there is none); an unreadable one is a ``StateError``."""
    path = Path(workdir) / STAMP
    if not path.exists():
        return None
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(
            f"--workdir {workdir}: {STAMP} cannot be read ({exc}). Run `trainops local reset --workdir {workdir}`"
        ) from exc
    return stamp if isinstance(stamp, dict) else {"format": None}


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` so that a reader (or a crash) sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself survives a power cut once the directory is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def reset_workdir(workdir: Path) -> list[str]:
    """Delete a workdir's local cloud state (every entry trainops made); returns what was removed.

    Refuses (``StateError``) a directory holding anything trainops did not make, and one in use.
    """
    workdir = Path(workdir).absolute()
    if not workdir.exists():
        return []
    if not workdir.is_dir():
        raise StateError(f"--workdir {workdir} is not a directory")
    foreign = sorted(p.name for p in workdir.iterdir() if p.name not in OWN_ENTRIES)
    if foreign:
        raise StateError(
            f"--workdir {workdir} holds files trainops did not make ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}): not deleting it. Check the path"
        )
    state = LocalState(workdir)
    state.lock()  # refuses while a command uses it
    removed = []
    try:
        for entry in sorted(workdir.iterdir()):
            if entry.name == LOCK:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    finally:
        state.close()
    (workdir / LOCK).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        workdir.rmdir()
    return removed


def _try_lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
