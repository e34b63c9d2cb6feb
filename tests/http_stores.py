"""The service on both stores for the HTTP tests: embedded, and one Redis node.

A test module imports the fixtures (``from tests.http_stores import client, clock``);
it may define its own ``clock`` to start at another time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.cluster.node import RedisNode, RedisOptions
from router import HelplineConfig
from tests.http_helpers import ManualClock
from tests.redis_helpers import SHARED_URL, drop_prefix, ensure_shared_redis, new_prefix
from tests.service_client import start

MONDAY = "2021-11-15 10:00"


async def service_on(
    store: str, aiohttp_client: Any, config: HelplineConfig, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[TestClient]:
    """Yield a ready test client on ``store`` ("embedded" or "redis"); clean up after."""
    if store == "embedded":
        yield await start(aiohttp_client, config, tmp_path, clock)
        return
    shared = ensure_shared_redis()
    prefix = new_prefix()
    node = RedisNode(RedisOptions(url=SHARED_URL, prefix=prefix, node_name="http"))
    try:
        yield await start(
            aiohttp_client, config, tmp_path, clock, engine_factory=node.engine,
            before_start=node.attach,
        )  # fmt: skip
    finally:
        drop_prefix(shared, prefix)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture(params=["embedded", "redis"])
async def client(
    request: pytest.FixtureRequest,
    aiohttp_client: Any,
    vo_config: HelplineConfig,
    tmp_path: Path,
    clock: ManualClock,
) -> AsyncIterator[TestClient]:
    """The service on the embedded store, then on a Redis node."""
    async for c in service_on(request.param, aiohttp_client, vo_config, tmp_path, clock):
        yield c
