"""The service on both stores for the HTTP tests: embedded, and one Redis node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
