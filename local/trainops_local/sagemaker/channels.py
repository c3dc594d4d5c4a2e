"""Training channels: File/FastFile downloads and real Pipe mode (named pipes streamed from S3)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import logging
import os
import select
import shutil
import struct
import termios
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trainops_local.sagemaker import s3io
from trainops_local.sagemaker.layout import TrainingLayout, channel_input_mode
from trainops_local.sagemaker.types import JobFailed

log = logging.getLogger(__name__)

POLL = 0.05
GZIP_MAGIC = b"\x1f\x8b"
# FIFO path -> why its feeder stopped early: the reader raises it at EOF instead of taking a cut stream as the data.
_FEED_FAILURES: dict[str, BaseException] = {}


@dataclass(frozen=True)
class Channel:
    """One InputDataConfig entry, resolved."""

    name: str
    uri: str
    mode: str  # File | FastFile | Pipe
    content_type: str | None
    gzip: bool
    sharded: bool = False  # S3DataDistributionType ShardedByS3Key
    shard: tuple[int, int] | None = None  # this host's share (index, hosts) when sharded over several hosts

    def for_host(self, index: int, count: int) -> Channel:
        """The channel as host ``index`` (0-based) of ``count`` sees it: its share of the objects when sharded."""
        return replace(self, shard=(index, count)) if self.sharded and count > 1 else self

    @classmethod
    def from_request(cls, channel: dict[str, Any], job_mode: str) -> Channel:
        """Resolve a channel; only S3 S3Prefix data sources exist locally."""
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source is None:
            raise JobFailed(f"ClientError: channel '{name}': only S3DataSource is available locally")
        data_type = source.get("S3DataType", "S3Prefix")
        if data_type != "S3Prefix":
            raise JobFailed(
                f"ClientError: channel '{name}': S3DataType {data_type} is not available locally (use S3Prefix)"
            )
        return cls(
            name=name,
            uri=source["S3Uri"],
            mode=channel_input_mode(channel, job_mode),
            content_type=channel.get("ContentType"),
            gzip=channel.get("CompressionType", "None") == "Gzip",
            sharded=source.get("S3DataDistributionType") == "ShardedByS3Key",
        )


def download_channel(s3: Any, channel: Channel, layout: TrainingLayout, *, gunzip: bool = False) -> list[Path]:
    """File/FastFile: every object under the channel's prefix into input/data/<channel>, as uploaded (AWS uses
    CompressionType in Pipe mode only; ``gunzip`` is the local built-in XGBoost's own reading of .gz files)."""
    directory = layout.channel_dir(channel.name)
    try:
        files = s3io.download_prefix(s3, channel.uri, directory, shard=channel.shard)
    except OSError as exc:
        raise JobFailed(f"ClientError: channel '{channel.name}': could not read {channel.uri}: {exc}") from exc
    return [_gunzip(path, channel, directory) for path in files] if gunzip else files


def _not_gzip(channel: Channel, name: str, start: bytes) -> JobFailed:
    return JobFailed(
        f"ClientError: channel '{channel.name}' file {name}: CompressionType is Gzip but the file is not "
        f"gzip-compressed (it starts with {start[:24]!r})"
    )


def _gunzip(path: Path, channel: Channel, directory: Path) -> Path:
    """Decompress a downloaded file in place (``x.csv.gz`` -> ``x.csv``), naming the file when it is not gzip."""
    name = path.relative_to(directory).as_posix()
    with path.open("rb") as src:
        start = src.read(24)
    if not start.startswith(GZIP_MAGIC):
        raise _not_gzip(channel, name, start)
    target = path.with_suffix("") if path.suffix == ".gz" else path.with_name(path.name + ".gunzipped")
    try:
        with gzip.open(path, "rb") as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, s3io.CHUNK)
    except (OSError, EOFError, zlib.error) as exc:
        raise JobFailed(f"ClientError: channel '{channel.name}' file {name}: not valid gzip data ({exc})") from exc
    path.unlink()
    if target.suffix == ".gunzipped":
        target = target.rename(path)
    return target


def fifo_path(layout: TrainingLayout, channel: str, epoch: int) -> Path:
    """``input/data/<channel>_<epoch>``."""
    return layout.data_dir / f"{channel}_{epoch}"


def _unread_bytes(fd: int) -> int:
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", buf)[0])


class PipeFeeder:
    """Feeds one channel through FIFOs ``<channel>_0``, ``<channel>_1``, ... until stopped.

    Each epoch's FIFO is created, opened for writing once a reader opens it, filled by streaming the S3
    objects (never staged to disk) and drained; then the next epoch's FIFO is created and this one is closed
    (the reader sees EOF) and removed. Every blocking step polls the stop event, so ``stop()`` always returns promptly.
    """

    def __init__(self, s3: Any, channel: Channel, layout: TrainingLayout) -> None:
        self.s3 = s3
        self.channel = channel
        self.layout = layout
        self.epochs_served = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._current: Path | None = None
        self._thread = threading.Thread(target=self._run, name=f"pipe-{channel.name}", daemon=True)

    def start(self) -> PipeFeeder:
        """Create the first FIFO synchronously, then feed in the background."""
        self._make_fifo(0)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop feeding, join the thread and remove any FIFO left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._current is not None:
            _FEED_FAILURES.pop(str(self._current), None)
            with contextlib.suppress(FileNotFoundError):
                self._current.unlink()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _make_fifo(self, epoch: int) -> None:
        path = fifo_path(self.layout, self.channel.name, epoch)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.mkfifo(path, 0o600)
        self._current = path

    def _run(self) -> None:
        epoch = 0
        try:
            while not self._stop.is_set():
                current = self._current
                assert current is not None
                fd = self._open_writer(current)
                if fd is None:
                    return
                try:
                    try:
                        self._feed(fd)
                    except BrokenPipeError:
                        raise
                    except BaseException as exc:
                        _FEED_FAILURES[str(current)] = exc  # before the close: the reader sees it at EOF
                        raise
                    if not self._stop.is_set():
                        # The next epoch's FIFO exists before this one reaches EOF, so a reader that opens
                        # <channel>_<N+1> right after EOF on <channel>_<N> always finds it.
                        self._make_fifo(epoch + 1)
                finally:
                    os.close(fd)
                    with contextlib.suppress(FileNotFoundError):
                        current.unlink()
                self.epochs_served += 1
                epoch += 1
        except BrokenPipeError:
            return  # the reader went away: the job is ending
        except BaseException as exc:  # surfaced to the engine  # noqa: BLE001  (the feeder thread hands any failure to the engine, which fails the job with it)
            log.warning("pipe feeder for %s failed: %s", self.channel.name, exc)
            self.error = exc

    def _open_writer(self, path: Path) -> int | None:
        while not self._stop.is_set():
            try:
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            time.sleep(POLL)
        return None

    def _feed(self, fd: int) -> None:
        for chunk in self._chunks():
            view = memoryview(chunk)
            while view:
                if self._stop.is_set():
                    return
                _, writable, _ = select.select([], [fd], [], POLL)
                if not writable:
                    continue
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    continue
                view = view[written:]
        # Wait for the reader to drain the pipe before closing, so the next FIFO appears only after EOF.
        while not self._stop.is_set() and _unread_bytes(fd) > 0:
            time.sleep(0.01)

    def _chunks(self) -> Iterator[bytes]:
        if not self.channel.gzip:
            yield from s3io.stream_prefix(self.s3, self.channel.uri, shard=self.channel.shard)
            return
        bucket, prefix = s3io.split_uri(self.channel.uri)
        for key in s3io.list_keys(self.s3, self.channel.uri, self.channel.shard):
            yield from self._gunzipped(bucket, key, s3io.relative_key(key, prefix))

    def _gunzipped(self, bucket: str, key: str, name: str) -> Iterator[bytes]:
        """One object's bytes, gunzipped on the fly; an object that is not gzip fails the channel, named."""
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        first = True
        for chunk in iter(lambda: body.read(s3io.CHUNK), b""):
            if first and not chunk.startswith(GZIP_MAGIC):
                raise _not_gzip(self.channel, name, chunk)
            first = False
            try:
                data = inflater.decompress(chunk)
            except zlib.error as exc:
                raise JobFailed(
                    f"ClientError: channel '{self.channel.name}' file {name}: not valid gzip data ({exc})"
                ) from exc
            if data:
                yield data
        if not first and not inflater.eof:
            raise JobFailed(f"ClientError: channel '{self.channel.name}' file {name}: gzip data ends early")
        tail = inflater.flush()
        if tail:
            yield tail


def read_fifo(path: Path, should_abort: Any, timeout: float | None = None) -> bytes:
    """Read a FIFO to EOF from inside the engine (built-in algorithms), polling ``should_abort``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    parts: list[bytes] = []
    writer_seen = False
    try:
        while True:
            if should_abort():
                raise InterruptedError("aborted while reading " + str(path))
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"timed out reading {path}")
            readable, _, _ = select.select([fd], [], [], POLL)
            if not readable:
                continue
            try:
                data = os.read(fd, s3io.CHUNK)
            except BlockingIOError:
                continue
            if data:
                writer_seen = True
                parts.append(data)
            elif writer_seen or _writer_gone(path):
                failure = _FEED_FAILURES.pop(str(path), None)
                if isinstance(failure, JobFailed):
                    raise failure
                if failure is not None:
                    raise JobFailed(f"ClientError: Pipe mode stream of {path.name} failed: {failure}")
                return b"".join(parts)
            else:
                time.sleep(POLL)  # no writer connected yet: a non-blocking FIFO reads EOF
    finally:
        os.close(fd)


def _writer_gone(path: Path) -> bool:
    # The feeder removes the FIFO after closing its end: an unlinked path means the epoch is complete.
    return not path.exists()
