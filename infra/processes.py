"""Detached service processes: launch, probe, signal, read their logs.

The services driftline starts locally (a Kafka broker today) outlive the
command that started them, so everything here works from a pid and a log path
alone: no `subprocess.Popen` object has to survive. Liveness treats a zombie
as dead and reaps it when it is our own child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

ROTATE_BYTES = 10 * 1024 * 1024
"""A log larger than this at launch is moved to ``<name>.1`` first."""


def launch_detached(
    command: Sequence[str], log_path: Path, cwd: Path, banner: str
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session with stdout and stderr in a log.

    The child has no terminal and its own process group, so neither the
    caller's exit nor a Ctrl-C in the caller's terminal reaches it.

    Args:
        command: The program and its arguments.
        log_path: Appended to (rotated once past `ROTATE_BYTES`).
        cwd: The child's working directory.
        banner: A line written to the log before the child starts, so each
            launch is easy to find.

    Returns:
        The child; its ``pid`` is what callers record.

    Raises:
        OSError: The program could not be executed.
    """
    if log_path.is_file() and log_path.stat().st_size > ROTATE_BYTES:
        log_path.replace(log_path.with_name(log_path.name + ".1"))
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        log.write(f"--- {banner} at {stamp} ---\n".encode())
        log.flush()
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )


def alive(pid: int) -> bool:
    """Return True if ``pid`` runs and is not a zombie; reaps our own children."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: its parent (or init) reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def command_line_has(pid: int, *arguments: str) -> bool:
    """Return True if every one of ``arguments`` is an argument of ``pid``.

    Guards against a pid file whose pid was since reused by another program.
    Without procfs the check cannot be made and answers True.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return False
    return all(argument.encode() in cmdline for argument in arguments)


def terminate(pid: int, timeout_s: float) -> bool:
    """Send SIGTERM, wait up to ``timeout_s``, then SIGKILL if still alive.

    Returns:
        True if the process exited on SIGTERM, False if it had to be killed.
    """
    _signal(pid, signal.SIGTERM)
    if wait_for_exit(pid, timeout_s):
        return True
    _signal(pid, signal.SIGKILL)
    wait_for_exit(pid, 10.0)
    return False


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """Return True once ``pid`` is gone, False if it still runs at the deadline."""
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def log_tail(log_path: Path, lines: int = 25) -> str:
    """Return the last ``lines`` lines of a log file ('' if it is missing)."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(log.tell() - 64 * 1024, 0))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
