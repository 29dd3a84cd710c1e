"""Loopback ports: find a free one, tell whether one is taken.

Both answers are a snapshot: another process may take a port between the check
and its use. Callers that bind a port in a child process (the Kafka broker)
therefore still watch for the child failing to bind.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK, exclude: frozenset[int] = frozenset()) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    Args:
        host: The address to bind; loopback by default.
        exclude: Ports not to return, e.g. one already promised to a sibling
            listener of the same process.

    Returns:
        A port number chosen by the kernel.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """Return True when ``port`` on ``host`` cannot be bound for listening.

    ``SO_REUSEADDR`` is set as a server would set it, so connections lingering
    in TIME_WAIT after a broker stopped do not count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def accepts_connections(
    port: int, host: str = LOOPBACK, timeout_s: float = 0.5
) -> bool:
    """Return True when something accepts a TCP connection on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
