"""Start the live service in-process (aiohttp's test server on loopback) for the reliability tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.http.app import ENGINES, build_app
from adapters.http.engine import Engine
from router import HelplineConfig
from tests.http_helpers import ManualClock, auth


async def start(
    aiohttp_client: Any,
    config: HelplineConfig,
    data: Path,
    clock: ManualClock,
    *,
    before_start: Any = None,
    **kwargs: Any,
) -> TestClient:
    """A test client on a freshly built app, returned once the helpline has recovered."""
    app: web.Application = build_app([config], data, auth(), clock=clock, **kwargs)
    if before_start is not None:
        before_start(app)
    client: TestClient = await aiohttp_client(app)
    for _ in range(500):
        if (await client.get("/readyz")).status == 200:
            return client
        await asyncio.sleep(0.01)
    raise AssertionError("the service did not become ready")


def engine(client: TestClient) -> Engine:
    return next(iter(client.app[ENGINES].values()))


def last_seq(client: TestClient) -> int:
    store = engine(client).store
    assert store is not None
    return store.last_seq
