"""Redis for the cluster tests: the shared server (started as .ci/run does if it is down),
a random key prefix per test, clean-up, and a private redis-server to kill and restart."""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.serve_process import free_port

SHARED_URL = "redis://127.0.0.1:6379/0"
# The command .ci/run uses when nothing answers on 6379.
CI_REDIS = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def ensure_shared_redis() -> redis.Redis:
    """A client of the shared Redis, starting it as .ci/run does if it is not running."""
    client = redis.Redis.from_url(SHARED_URL, socket_timeout=2)
    try:
        client.ping()
        return client
    except redis.ConnectionError:
        pass
    for d in ("/var/lib/redis", "/var/log/redis"):
        Path(d).mkdir(parents=True, exist_ok=True)
    subprocess.run(CI_REDIS, check=True)
    for _ in range(50):
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("could not start redis-server on 127.0.0.1:6379")


def new_prefix() -> str:
    return f"linjetest-{secrets.token_hex(4)}"


def drop_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under ``prefix`` (the tests' own namespace only)."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    return len(keys)


class OwnRedis:
    """A private redis-server on a free loopback port, by default with AOF fsynced on every
    write (``appendfsync``: "always", "everysec", or "off" for no AOF).

    Killed and restarted by the tests that need Redis to fail; never the shared one.
    """

    def __init__(self, workdir: Path, appendfsync: str = "always") -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no" if self.appendfsync == "off" else "yes",
             "--appendfsync", "everysec" if self.appendfsync == "off" else self.appendfsync,
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
