"""`linje serve --store ...`: bad options are one line on stderr and exit 2, before serving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from adapters.cli import main
from tests.conftest import ROOT
from tests.redis_helpers import SHARED_URL, ensure_shared_redis, new_prefix


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--store", "bogus://x"], "--store must be 'embedded' or redis://"),
        (["--store", "redis://127.0.0.1:6379/x"], "the database must be a number"),
        (["--store", "redis://127.0.0.1:port/0"], "the port is not a number"),
        (["--store", SHARED_URL, "--redis-waitaof", "1"], "--redis-waitaof takes LOCAL,REPLICAS"),
        (["--store", SHARED_URL, "--redis-waitaof", "0,0"], "not both 0"),
        (["--store", SHARED_URL, "--lease-ttl", "0.01"], "--lease-ttl must be between"),
        (["--store", SHARED_URL, "--redis-prefix", "a:b"], "--redis-prefix 'a:b'"),
        (["--store", SHARED_URL, "--demo"], "--demo runs on the embedded store"),
    ],
)  # fmt: skip
def test_bad_store_options_are_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert main(["serve", "--port", "1", "--data", str(data), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
    assert not data.exists()  # refused before anything touched the disk


def test_waitaof_on_a_server_without_it_stops_serve_before_it_serves(tmp_path: Path) -> None:
    client = ensure_shared_redis()
    try:
        client.execute_command("WAITAOF", 0, 0, 0)
        pytest.skip("this Redis has WAITAOF (7.2+)")
    except redis.ResponseError as exc:  # "unknown command" on Redis < 7.2
        assert "unknown command" in str(exc).lower()
    prefix = new_prefix()
    proc = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "serve", "--store", SHARED_URL,
         "--redis-prefix", prefix, "--redis-waitaof", "1,0", "--port", "0",
         "--log-level", "critical", "--data", str(tmp_path / "data")],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("linje serve: error: --redis-waitaof")
    assert "needs Redis 7.2 or later" in proc.stderr
    assert list(client.scan_iter(match=f"{prefix}:*")) == []
