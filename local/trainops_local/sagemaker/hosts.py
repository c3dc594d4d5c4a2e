"""Several instances of one training job on this machine: hosts ``algo-1`` ... ``algo-N``.

On SageMaker each instance of a job is its own container: its own ``/opt/ml`` (``resourceconfig.json`` naming it
``current_host``), its own share of a ``ShardedByS3Key`` channel, and a host name the others resolve. Locally each
host is a process with its own /opt/ml directory tree, started together; the job fails when one fails (the others
are then stopped) and stops when asked, all hosts at once.

Host names must resolve for every program of the job, not only for the toolkit's Python (``torchrun`` and
``torch.distributed``'s TCP store resolve ``algo-1`` in C++). Locally each host process runs in a private mount
namespace whose ``/etc/hosts`` is this machine's plus ``127.0.10.<i> algo-<i>`` (``unshare --mount``, which needs
root, as CI and the developers' machines run): nothing of the machine changes. Without root, the names must
already be in ``/etc/hosts``; otherwise the job fails, saying how to fix it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainops_local.sagemaker.layout import TrainingLayout
from trainops_local.sagemaker.procrun import ProcessInterrupted, ProcessResult, run_process
from trainops_local.sagemaker.script_mode import Command, JobHooks
from trainops_local.sagemaker.types import JobFailed, JobStopped

SYSTEM_HOSTS = Path("/etc/hosts")
# algo-<i> resolves to 127.0.10.<i>: its own loopback address (all of 127.0.0.0/8 is this machine)
ADDRESS_PREFIX = "127.0.10."
# sh -c SCRIPT HOSTS_FILE ARGV...: bind the job's hosts file over /etc/hosts in this process's mount namespace
_BIND_HOSTS = 'mount --bind "$0" /etc/hosts && exec "$@"'
MAX_HOSTS = 254


def address(host: str) -> str:
    """The local address of ``algo-<i>``."""
    return ADDRESS_PREFIX + host.removeprefix("algo-")


def hosts_file_text(hosts: list[str], base: str) -> str:
    """This machine's ``/etc/hosts`` (``base``) with the job's hosts added."""
    lines = [base.rstrip("\n"), "# hosts of the local training job (trainops local cloud)"]
    lines += [f"{address(host)}\t{host}" for host in hosts]
    return "\n".join(lines) + "\n"


def _listed_in_system_hosts(hosts: list[str]) -> bool:
    try:
        names = {name for line in SYSTEM_HOSTS.read_text().splitlines() for name in line.split("#")[0].split()[1:]}
    except OSError:
        return False
    return set(hosts) <= names


@functools.cache
def _private_hosts_work() -> str | None:
    """None when ``unshare --mount`` can give a process its own /etc/hosts here, else why not."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed"
    try:
        result = subprocess.run(
            [unshare, "--mount", "--", "/bin/sh", "-c", _BIND_HOSTS, str(SYSTEM_HOSTS), "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare --mount could not run: {exc}"
    if result.returncode != 0:
        return f"unshare --mount failed: {(result.stderr or result.stdout).strip()[:200]}"
    return None


def resolver(hosts: list[str], workdir: Path) -> Callable[[list[str]], list[str]]:
    """How to run a host's argv so that ``algo-1`` ... ``algo-N`` resolve to this machine (see the module doc).

    Raises JobFailed (ClientError) naming the fix when they cannot.
    """
    if len(hosts) > MAX_HOSTS:
        raise JobFailed(f"ClientError: the local cloud runs at most {MAX_HOSTS} instances of a job, not {len(hosts)}")
    why = _private_hosts_work()
    if why is None:
        hosts_file = workdir / "hosts"
        hosts_file.write_text(hosts_file_text(hosts, SYSTEM_HOSTS.read_text() if SYSTEM_HOSTS.is_file() else ""))

        def wrap(argv: list[str]) -> list[str]:
            return ["unshare", "--mount", "--", "/bin/sh", "-c", _BIND_HOSTS, str(hosts_file), *argv]

        return wrap
    if _listed_in_system_hosts(hosts):
        return list
    raise JobFailed(
        f"ClientError: the local cloud runs a job's {len(hosts)} instances as processes on this machine and the "
        f"host names {hosts[0]}..{hosts[-1]} must resolve for them, but it cannot give the job its own /etc/hosts "
        f"({why}; it needs root). Run as root, or add the names to /etc/hosts "
        f"(e.g. '127.0.0.1 {' '.join(hosts)}'), or set resources.instance_count: 1"
    )


@dataclass
class HostRun:
    """One host of the job: its name, its /opt/ml, what it runs and where its output goes."""

    name: str
    layout: TrainingLayout
    command: Command
    hooks: JobHooks
    on_line: Callable[[str], None]
    result: ProcessResult | None = None
    error: BaseException | None = None


def run_hosts(
    hosts: list[HostRun],
    wrap: Callable[[list[str]], list[str]],
    failure_reason: Callable[[TrainingLayout, int], str],
    log: Callable[[str], None],
) -> None:
    """Run every host's command at once; return when all ended with exit code 0.

    A host that exits non-zero fails the job (JobFailed with that host's failure reason) and the others are
    stopped; a stop or deadline (the hooks' ``stop_reason``) stops them all and raises its JobStopped.
    """
    ended = threading.Event()  # a host failed: stop the others
    stopped: list[JobStopped] = []
    failed: list[HostRun] = []  # in the order they ended
    lock = threading.Lock()

    def interrupt(host: HostRun) -> str | None:
        if ended.is_set():
            return "another instance of the job failed"
        reason = host.hooks.stop_reason()
        if reason is not None:
            with lock:
                stopped.append(reason)
            ended.set()
            return str(reason)
        return None

    def run(host: HostRun) -> None:
        try:
            host.result = run_process(
                wrap(host.command.argv),
                cwd=host.command.cwd,
                env=host.command.variables,
                on_line=lambda _stream, line: host.on_line(line),
                interrupt=lambda: interrupt(host),
            )
            if host.result.returncode != 0:
                with lock:
                    failed.append(host)
                ended.set()
        except ProcessInterrupted:
            pass
        except BaseException as exc:  # could not start: surfaced below  # noqa: BLE001  (a host thread hands any failure to the job, which fails with it)
            host.error = exc
            ended.set()

    threads = [threading.Thread(target=run, args=(host,), name=f"host-{host.name}", daemon=True) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if stopped:
        raise stopped[0]
    for host in hosts:
        if host.error is not None:
            raise JobFailed(f"ClientError: could not start {host.name}: {host.error}") from host.error
    if failed:
        first = failed[0]
        code = first.result.returncode if first.result is not None else 1
        log(f"{first.name} exited with code {code}: the job fails and its other instances are stopped")
        raise JobFailed(failure_reason(first.layout, code), host=first.name)
