"""What ``linje serve`` does before it is ready: only the imports its store needs, no
cycle collections until every helpline is open (then the collector is back, the start-up
heap frozen), and no OpenAPI document until one is asked for."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from adapters.http.app import build_app
from router import HelplineConfig
from tests.http_helpers import ManualClock, auth

ROOT = Path(__file__).resolve().parent.parent

# Everything ``adapters.cli_serve.serve`` imports and builds for the embedded store.
EMBEDDED_SERVE = """
import json, sys
from pathlib import Path
from adapters.cli import build_parser
args = build_parser(["serve"]).parse_args(["serve", "--data", sys.argv[1]])
from adapters.cluster.cli import node_from_args
from adapters.config_file import load_config
from adapters.http.app import build_app
from adapters.http.auth import load_auth
from adapters.http.telemetry import Telemetry, traces_from_env
assert node_from_args(args) is None
app = build_app([load_config("config/vo-linjen.toml")], Path(sys.argv[1]), load_auth(None),
                telemetry=Telemetry(traces_from_env(), batch=True))
print(json.dumps(sorted(m for m in sys.modules if m == "redis" or m.startswith("redis."))))
"""


def test_the_embedded_store_never_loads_redis_py(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", EMBEDDED_SERVE, str(tmp_path / "data")],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert json.loads(out.splitlines()[-1]) == []


def test_a_redis_store_still_builds_its_node(tmp_path: Path) -> None:
    code = EMBEDDED_SERVE.replace(
        '"--data", sys.argv[1]]', '"--data", sys.argv[1], "--store", "redis://127.0.0.1:1/0"]'
    ).replace("assert node_from_args(args) is None", "node = node_from_args(args)\nprint(type(node).__name__)")  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    assert out[0] == "RedisNode"
    assert "redis" in json.loads(out[-1])


async def test_the_collector_paused_for_start_up_resumes_once_every_helpline_is_open(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    frozen_before = gc.get_freeze_count()
    gc.disable()  # as ``linje serve`` starts
    try:
        app = build_app([vo_config], tmp_path, auth(), clock=ManualClock("2021-11-15 10:00"))
        client = await aiohttp_client(app)
        for _ in range(500):
            if (await client.get("/readyz")).status == 200 and gc.isenabled():
                break
            await asyncio.sleep(0.01)
        assert ((await client.get("/readyz")).status, gc.isenabled()) == (200, True)
        assert gc.get_freeze_count() > frozen_before  # the start-up heap is out of its view
    finally:
        gc.enable()
        gc.unfreeze()


async def test_a_service_started_with_the_collector_on_leaves_it_alone(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path
) -> None:
    assert gc.isenabled()
    app = build_app([vo_config], tmp_path, auth(), clock=ManualClock("2021-11-15 10:00"))
    client = await aiohttp_client(app)
    for _ in range(500):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.01)
    assert ((await client.get("/readyz")).status, gc.isenabled()) == (200, True)


async def test_a_helpline_that_does_not_open_does_not_keep_the_collector_paused(
    monkeypatch: Any,
) -> None:
    from adapters.http import app as app_module

    monkeypatch.setattr(app_module, "COLLECTOR_PAUSE_MAX_S", 0.05)
    never = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(never)
    gc.disable()
    try:
        await app_module._collector_on([waiting])
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        waiting.cancel()


def test_resuming_the_collector_at_start_freezes_the_young_heap_without_walking_it() -> None:
    # Everything start-up made is young: a collection of it took 42-60 ms of the loop.
    from adapters.store.embedded import freeze_heap

    passes: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    frozen_before = gc.get_freeze_count()
    gc.disable()  # as ``linje serve`` starts: nothing but an explicit call collects
    gc.callbacks.append(seen)
    try:
        young = [[i] for i in range(1_000)]
        freeze_heap(collect_young=False)
        assert (passes, gc.get_freeze_count() >= frozen_before + len(young)) == ([], True)
        freeze_heap()  # later ones (every snapshot_every records) collect the young first
        assert passes == [1]
    finally:
        gc.callbacks.remove(seen)
        gc.enable()
        gc.unfreeze()


async def test_the_openapi_document_is_built_on_its_first_request_not_at_start(
    aiohttp_client: Any, vo_config: HelplineConfig, tmp_path: Path, monkeypatch: Any
) -> None:
    from adapters.http import app as app_module
    from adapters.http.openapi import build_openapi

    built: list[int] = []

    def counting() -> dict[str, Any]:
        built.append(1)
        return build_openapi()

    monkeypatch.setattr(app_module, "build_openapi", counting)
    app_module._openapi_text.cache_clear()
    try:
        client = await aiohttp_client(build_app([vo_config], tmp_path, auth()))
        assert built == []
        for _ in range(2):
            response = await client.get("/v1/openapi.json")
            assert (response.status, await response.json()) == (200, build_openapi())
        assert built == [1]
    finally:
        app_module._openapi_text.cache_clear()
