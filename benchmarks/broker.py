"""A throwaway Kafka broker for tests and benchmarks: `infra/kafka.sh` on free ports, stopped by its process id."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A Kafka broker started by infra/kafka.sh."""

    bootstrap: str
    pid: int
    env: dict[str, str]
    script: str

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.script, command], env=self.env, capture_output=True, text=True, timeout=600)


def start_broker(state: Path) -> Broker:
    """Start a broker on free ports with its state in `state`; `broker.run("stop")` stops it (by its pid)."""
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_STATE_DIR": str(state),
    }
    broker = Broker(f"127.0.0.1:{env['KAFKA_PORT']}", 0, env, str(ROOT / "infra/kafka.sh"))
    started = broker.run("start")
    if started.returncode != 0:
        raise RuntimeError(f"infra/kafka.sh start failed:\n{started.stdout}{started.stderr}")
    broker.pid = int((state / "kafka.pid").read_text())
    return broker
