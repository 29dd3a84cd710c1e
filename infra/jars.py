"""Jars from Maven Central, resolved once into a cache folder and re-used.

Each jar set is named after a pom kept in ``infra/maven/<name>.xml``.
`ensure_jars` resolves a set with ``mvn dependency:copy-dependencies`` the first
time it is asked for and returns the folder holding it; every later call, from
any process, finds the folder complete and returns at once without running
Maven (so a machine with a filled cache needs neither ``mvn`` nor a network).

The cache folder is ``$DRIFTLINE_JAR_CACHE`` when set, else
``$XDG_CACHE_HOME/driftline/jars``, else ``~/.cache/driftline/jars``. A set is
complete when its folder holds a ``.complete`` marker whose text is the SHA-256
of the pom it came from: editing a pom (a version bump) makes the next call
resolve the set again. Two processes asking for the same set at once are
serialised by a lock file; the set is copied into a temporary folder and renamed
into place, so a reader never sees a half-copied set.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from driftline.errors import ConfigError, PrerequisiteError, ServiceError

logger = logging.getLogger(__name__)

MARKER = ".complete"
"""Name of the file that marks a jar set as completely resolved."""

_INSTALL_HINTS = {
    "java": "install a JDK 17 (e.g. `apt-get install openjdk-17-jdk-headless`)",
    "mvn": "install Maven 3 (e.g. `apt-get install maven`)",
}

_OUTPUT_TAIL_CHARS = 2000


def require_tool(name: str) -> str:
    """Return the absolute path of a command-line tool found on ``PATH``.

    Args:
        name: The command, ``"java"`` or ``"mvn"`` (any name works; these two
            get an install hint).

    Returns:
        The path ``shutil.which`` found.

    Raises:
        PrerequisiteError: The tool is not on ``PATH``; the message is one
            sentence naming how to install it.
    """
    path = shutil.which(name)
    if path is None:
        hint = _INSTALL_HINTS.get(name, f"install {name}")
        raise PrerequisiteError(f"{name} was not found on PATH; {hint} and try again.")
    return path


def jar_cache_dir() -> Path:
    """Return the folder that holds every cached jar set (not created here)."""
    explicit = os.environ.get("DRIFTLINE_JAR_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "driftline" / "jars"


def pom_text(name: str) -> str:
    """Return the text of the pom that defines jar set ``name``.

    Raises:
        ConfigError: No pom of that name ships in ``infra/maven/``.
    """
    pom = resources.files("infra").joinpath("maven", f"{name}.xml")
    if not pom.is_file():
        raise ConfigError(
            f"no jar set named {name!r}: infra/maven/{name}.xml is missing"
        )
    return pom.read_text(encoding="utf-8")


def ensure_jars(name: str) -> Path:
    """Make sure jar set ``name`` is in the cache and return its folder.

    Called by whatever is about to start a JVM or a Flink job. The first call
    on a machine runs Maven (seconds, network); later calls only read the
    marker file.

    Args:
        name: A pom name in ``infra/maven/`` without ``.xml``, e.g.
            ``"kafka-broker"`` or ``"flink-connectors"``.

    Returns:
        The folder holding the set's ``.jar`` files.

    Raises:
        ConfigError: ``name`` has no pom.
        PrerequisiteError: The set must be resolved and ``mvn`` is missing.
        ServiceError: Maven failed; the message names the command and the
            tail of its output.
    """
    text = pom_text(name)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cache = jar_cache_dir()
    target = cache / name
    if _is_complete(target, digest):
        return target

    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(target, digest):  # another process finished meanwhile
            return target
        _resolve(name, text, digest, cache, target)
    return target


def jar_paths(name: str) -> list[Path]:
    """Return the ``.jar`` files of set ``name``, sorted, resolving it if needed.

    Raises:
        ConfigError, PrerequisiteError, ServiceError: As `ensure_jars`.
    """
    return sorted(ensure_jars(name).glob("*.jar"))


def _is_complete(target: Path, digest: str) -> bool:
    try:
        return (target / MARKER).read_text(encoding="utf-8").strip() == digest
    except OSError:
        return False


def _resolve(name: str, text: str, digest: str, cache: Path, target: Path) -> None:
    mvn = require_tool("mvn")
    started = time.monotonic()
    logger.info("resolving jar set %s from Maven Central into %s", name, target)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=cache) as scratch:
        work = Path(scratch)
        pom = work / "pom.xml"
        pom.write_text(text, encoding="utf-8")
        jars = work / "jars"
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={jars}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(
            command, cwd=work, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not any(jars.glob("*.jar")):
            tail = (result.stdout + result.stderr)[-_OUTPUT_TAIL_CHARS:].strip()
            raise ServiceError(
                f"resolving jar set {name!r} failed: `{' '.join(command)}` exited "
                f"with {result.returncode}; output ends with:\n{tail}"
            )
        (jars / MARKER).write_text(digest + "\n", encoding="utf-8")
        if target.exists():  # a stale set from an older pom
            shutil.rmtree(target)
        jars.rename(target)
    logger.info(
        "resolved jar set %s (%d jars) in %.1f s",
        name,
        len(list(target.glob("*.jar"))),
        time.monotonic() - started,
    )
