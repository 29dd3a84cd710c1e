"""A single-node Kafka 4 broker (KRaft, combined broker and controller) run as a
local java process whose state lives in a home folder.

Everything about one broker sits under ``<home>/kafka/``:

- ``data/`` — the log dir, formatted once with a cluster id generated once;
- ``server.properties`` and ``log4j2.properties`` — rewritten at every start;
- ``broker.log`` — the JVM's stdout and stderr (rotated to ``broker.log.1``
  when it passes 10 MiB at a start, see `infra.processes`);
- ``broker.pid`` — present while a broker started from this home runs;
- ``state.json`` — cluster id and the ports last used.

The broker is detached from whoever starts it (own session, no terminal), so
``driftline up`` can start it and exit and ``driftline down`` — another
process — can stop it later: every method reads the home folder, nothing is
kept in memory. `LocalKafka.start` is idempotent and a lock file serialises
concurrent starts and stops on the same home.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from driftline.errors import PrerequisiteError, ServiceError
from infra import processes
from infra.jars import ensure_jars, require_tool
from infra.kafka.admin import broker_answers
from infra.ports import LOOPBACK, accepts_connections, free_port, port_in_use

logger = logging.getLogger(__name__)

JAR_SET = "kafka-broker"
"""Jar set (``infra/maven/kafka-broker.xml``) holding the broker's classpath."""

BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"

DEFAULT_HEAP_MB = 512
DEFAULT_INITIAL_HEAP_MB = 256
DEFAULT_START_TIMEOUT_S = 60.0
DEFAULT_STOP_TIMEOUT_S = 30.0

_LOG_TAIL_LINES = 25
_GC_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class BrokerStatus:
    """What the home folder says about its broker.

    Attributes:
        running: A broker process started from this home is alive (it may
            still be starting up).
        pid: Its process id, or None.
        bootstrap: ``127.0.0.1:<port>`` while running, else None.
        log_path: Where the broker writes its log.
    """

    running: bool
    pid: int | None
    bootstrap: str | None
    log_path: Path


class LocalKafka:
    """Start, find and stop the Kafka broker that belongs to one home folder.

    Args:
        home: The driftline home (``DRIFTLINE_HOME``); the broker's state goes
            to ``<home>/kafka/``, created on first start.
        heap_mb: ``-Xmx`` of the broker JVM.
        initial_heap_mb: ``-Xms`` of the broker JVM.
        start_timeout_s: How long `start` waits for the broker to answer.
        jvm_options: Extra JVM flags, appended after driftline's own.
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        heap_mb: int = DEFAULT_HEAP_MB,
        initial_heap_mb: int = DEFAULT_INITIAL_HEAP_MB,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        jvm_options: Sequence[str] = (),
    ) -> None:
        self.home = Path(home).expanduser().resolve()
        self.kafka_dir = self.home / "kafka"
        self.data_dir = self.kafka_dir / "data"
        self.properties_path = self.kafka_dir / "server.properties"
        self.log4j_path = self.kafka_dir / "log4j2.properties"
        self.log_path = self.kafka_dir / "broker.log"
        self.pid_path = self.kafka_dir / "broker.pid"
        self.state_path = self.kafka_dir / "state.json"
        self.heap_mb = heap_mb
        self.initial_heap_mb = min(initial_heap_mb, heap_mb)
        self.start_timeout_s = start_timeout_s
        self.jvm_options = tuple(jvm_options)

    def __repr__(self) -> str:
        return f"LocalKafka(home={str(self.home)!r})"

    @property
    def bootstrap(self) -> str | None:
        """``127.0.0.1:<port>`` of the running broker, or None if none runs."""
        return self.status().bootstrap

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None if none runs."""
        return self.status().pid

    def status(self) -> BrokerStatus:
        """Read the home folder and report whether its broker runs.

        A pid file left behind by a broker that died (or a pid since reused by
        an unrelated process) reads as not running.
        """
        pid = self._running_pid()
        port = self._read_state().get("port") if pid is not None else None
        bootstrap = f"{LOOPBACK}:{port}" if port else None
        return BrokerStatus(pid is not None, pid, bootstrap, self.log_path)

    def start(self, port: int | None = None) -> str:
        """Start the broker, or find it already running, and wait until it answers.

        Args:
            port: Client port on 127.0.0.1; None re-uses the port of the last
                start when free, else picks a free one. The controller port is
                always picked the same way.

        Returns:
            The bootstrap address, ``127.0.0.1:<port>``.

        Raises:
            PrerequisiteError: ``java`` (or, on an empty jar cache, ``mvn``) is
                missing, ``port`` is taken, or this home's broker already runs
                on another port.
            ServiceError: The broker exited or did not answer within
                ``start_timeout_s``; the message names the log file and quotes
                its last lines. A broker that timed out is killed.
        """
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            running = self._running_pid()
            if running is not None:
                return self._join_running(running, port)
            self.pid_path.unlink(missing_ok=True)

            java = require_tool("java")
            state = self._read_state()
            port, controller_port = self._choose_ports(port, state)
            classpath = str(ensure_jars(JAR_SET) / "*")
            state.update(port=port, controller_port=controller_port)
            state.setdefault("cluster_id", _new_cluster_id())
            self._write_config(port, controller_port)
            self._format_storage(java, classpath, str(state["cluster_id"]))
            self._write_state(state)

            started = time.monotonic()
            process = self._launch(java, classpath)
            bootstrap = f"{LOOPBACK}:{port}"
            logger.info(
                "starting Kafka broker pid=%d bootstrap=%s home=%s",
                process.pid,
                bootstrap,
                self.home,
            )
            self._wait_until_answering(process, port, started)
            logger.info(
                "Kafka broker answers at %s after %.1f s",
                bootstrap,
                time.monotonic() - started,
            )
            return bootstrap

    def stop(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
        """Stop this home's broker: SIGTERM, wait, then SIGKILL if it lingers.

        Args:
            timeout_s: How long to wait after SIGTERM before SIGKILL.

        Returns:
            True if a broker was running and has been stopped, False if none
            was running (a stale pid file is removed either way).
        """
        if not self.kafka_dir.is_dir():
            return False
        with self._locked():
            pid = self._running_pid()
            if pid is None:
                self.pid_path.unlink(missing_ok=True)
                return False
            logger.info("stopping Kafka broker pid=%d home=%s", pid, self.home)
            started = time.monotonic()
            if not processes.terminate(pid, timeout_s):
                logger.warning(
                    "Kafka broker pid=%d ignored SIGTERM for %.0f s and was killed",
                    pid,
                    timeout_s,
                )
            self.pid_path.unlink(missing_ok=True)
            logger.info(
                "stopped Kafka broker pid=%d after %.1f s",
                pid,
                time.monotonic() - started,
            )
            return True

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the broker log ('' if none)."""
        return processes.log_tail(self.log_path, lines)

    def _join_running(self, pid: int, port: int | None) -> str:
        state = self._read_state()
        running_port = state.get("port")
        if not isinstance(running_port, int):
            raise ServiceError(
                f"the Kafka broker pid={pid} runs but {self.state_path} names no "
                "port; stop it with `driftline down` and start again"
            )
        if port is not None and port != running_port:
            raise PrerequisiteError(
                f"the Kafka broker of {self.home} already runs on port "
                f"{running_port}; stop it with `driftline down` or ask for that port."
            )
        bootstrap = f"{LOOPBACK}:{running_port}"
        deadline = time.monotonic() + self.start_timeout_s
        while not broker_answers(bootstrap, timeout_s=2.0):
            if self._running_pid() is None or time.monotonic() >= deadline:
                raise self._start_failure(
                    f"the Kafka broker pid={pid} from {self.home} is running but "
                    f"does not answer at {bootstrap}"
                )
            time.sleep(0.2)
        logger.info("Kafka broker already running pid=%d at %s", pid, bootstrap)
        return bootstrap

    def _choose_ports(
        self, port: int | None, state: dict[str, object]
    ) -> tuple[int, int]:
        if port is not None:
            if port_in_use(port):
                raise PrerequisiteError(
                    f"port {port} on {LOOPBACK} is already in use; stop whatever "
                    "holds it or pass another port."
                )
        else:
            previous = state.get("port")
            if isinstance(previous, int) and not port_in_use(previous):
                port = previous
            else:
                port = free_port()
        previous_controller = state.get("controller_port")
        if (
            isinstance(previous_controller, int)
            and previous_controller != port
            and not port_in_use(previous_controller)
        ):
            return port, previous_controller
        return port, free_port(exclude=frozenset({port}))

    def _write_config(self, port: int, controller_port: int) -> None:
        package = resources.files("infra.kafka")
        template = Template(package.joinpath("server.properties").read_text("utf-8"))
        self.properties_path.write_text(
            template.substitute(
                port=port, controller_port=controller_port, data_dir=self.data_dir
            ),
            encoding="utf-8",
        )
        self.log4j_path.write_text(
            package.joinpath("log4j2.properties").read_text("utf-8"), encoding="utf-8"
        )

    def _format_storage(self, java: str, classpath: str, cluster_id: str) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        command = [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            "-cp",
            classpath,
            STORAGE_TOOL_MAIN,
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.properties_path),
            "--ignore-formatted",
        ]
        logger.info(
            "formatting Kafka log dir %s cluster_id=%s", self.data_dir, cluster_id
        )
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip()[-2000:]
            raise ServiceError(
                f"formatting the Kafka log dir {self.data_dir} failed: "
                f"`{' '.join(command)}` exited with {result.returncode}; "
                f"output ends with:\n{tail}"
            )

    def _launch(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        command = [
            java,
            f"-Xms{self.initial_heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            *_GC_OPTIONS,
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            f"-Dkafka.logs.dir={self.kafka_dir}",
            *self.jvm_options,
            "-cp",
            classpath,
            BROKER_MAIN,
            str(self.properties_path),
        ]
        process = processes.launch_detached(
            command, self.log_path, self.kafka_dir, "driftline starts the broker"
        )
        self.pid_path.write_text(f"{process.pid}\n", encoding="utf-8")
        return process

    def _wait_until_answering(
        self, process: subprocess.Popen[bytes], port: int, started: float
    ) -> None:
        bootstrap = f"{LOOPBACK}:{port}"
        deadline = started + self.start_timeout_s
        while True:
            code = process.poll()
            if code is not None:
                self.pid_path.unlink(missing_ok=True)
                raise self._start_failure(
                    f"the Kafka broker exited with code {code} while starting"
                )
            if accepts_connections(port) and broker_answers(bootstrap, timeout_s=2.0):
                return
            if time.monotonic() >= deadline:
                process.kill()
                process.wait(timeout=10)
                self.pid_path.unlink(missing_ok=True)
                raise self._start_failure(
                    f"the Kafka broker did not answer at {bootstrap} within "
                    f"{self.start_timeout_s:.0f} s and was killed"
                )
            time.sleep(0.2)

    def _start_failure(self, what: str) -> ServiceError:
        tail = self.log_tail()
        return ServiceError(
            f"{what}; see {self.log_path}, which ends with:\n{tail}"
            if tail
            else f"{what}; see {self.log_path} (empty)"
        )

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        if not processes.alive(pid) or not self._is_our_broker(pid):
            return None
        return pid

    def _is_our_broker(self, pid: int) -> bool:
        return processes.command_line_has(pid, BROKER_MAIN, str(self.properties_path))

    def _read_state(self) -> dict[str, object]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _write_state(self, state: dict[str, object]) -> None:
        scratch = self.state_path.with_suffix(".json.tmp")
        scratch.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        scratch.replace(self.state_path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.kafka_dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _new_cluster_id() -> str:
    """Return a Kafka cluster id: a random UUID in URL-safe base64, unpadded.

    Kafka's own generator avoids ids starting with ``-`` (a command line would
    read them as a flag); so does this one.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
