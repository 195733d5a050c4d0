"""Write outputs through a temporary file and a rename, so nothing is ever half written.

The temporary file sits beside the target as ``.NAME.sharekan-part-PID-XXXX``: it is removed on
failure, on SIGINT and SIGTERM, and (if a kill -9 left it) by the next command writing into that
folder once process PID is gone. An output that is a symlink is written through to the file the
link points at; the link itself stays. Directories, devices, pipes and the command's own inputs
are refused as outputs, and an existing file keeps its permissions.
"""
from __future__ import annotations

import os
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import SharekanError, os_error_message

PART_MARK = ".sharekan-part-"


def resolve_output(target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Return the real file ``target`` would write (symlinks followed), or raise SharekanError if it must not be written."""
    if str(target) == "":
        raise SharekanError("the output path is empty")
    resolved = Path(os.path.realpath(target))
    if resolved.exists():
        mode = resolved.stat().st_mode
        if stat.S_ISDIR(mode):
            raise SharekanError(f"output {target} is a folder; give a file name")
        if not stat.S_ISREG(mode):
            raise SharekanError(f"output {target} is a device, pipe or socket, not a regular file; refusing to replace it")
        for source in inputs:
            if source and os.path.exists(source) and os.path.samefile(source, resolved):
                raise SharekanError(f"output {target} is the input file itself; choose another name")
    directory = resolved.parent
    if not directory.is_dir():
        raise SharekanError(f"output folder does not exist: {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SharekanError(f"cannot write to folder {directory}: permission denied")
    return resolved


def remove_stale_parts(directory: str | os.PathLike) -> list[Path]:
    """Delete temporary files in ``directory`` left by killed SHARe-KAN processes; return what was removed."""
    removed = []
    try:
        candidates = list(Path(directory).glob(f".*{PART_MARK}*"))
    except OSError:
        return removed
    for path in candidates:
        pid_text = path.name.rsplit(PART_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextmanager
def atomic_path(target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; fsync and rename it over ``target`` only on success."""
    resolved = resolve_output(target, inputs)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{resolved.name}{PART_MARK}{os.getpid()}-", dir=resolved.parent)
    except OSError as exc:
        raise SharekanError(os_error_message(exc)) from None
    os.close(fd)
    tmp_path = Path(tmp_name)
    previous = _clean_on_signals(tmp_path)
    try:
        yield tmp_path
        os.chmod(tmp_path, _output_mode(resolved))
        _fsync(tmp_path)
        os.replace(tmp_path, resolved)
        _fsync(resolved.parent)
    finally:
        _restore_signals(previous)
        if tmp_path.exists():
            tmp_path.unlink()


def _output_mode(resolved: Path) -> int:
    if resolved.exists():
        return stat.S_IMODE(resolved.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder
    finally:
        os.close(fd)


def _clean_on_signals(tmp_path: Path) -> dict:
    """Install SIGINT/SIGTERM handlers that delete ``tmp_path`` and then act as the previous handler did."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread (the app runs pages in others)
    previous = {}

    def handler(signum, frame):
        tmp_path.unlink(missing_ok=True)
        _restore_signals(previous)
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            os.kill(os.getpid(), signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        before = signal.getsignal(signum)
        if before is not signal.SIG_IGN and before is not None:
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    for signum, before in previous.items():
        signal.signal(signum, before)


def write_bytes_atomic(target: str | os.PathLike, payload: bytes, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write ``payload`` to ``target`` atomically (see ``atomic_path``)."""
    with atomic_path(target, inputs) as tmp:
        tmp.write_bytes(payload)
