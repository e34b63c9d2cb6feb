"""Shared fixtures: the first user's real configuration and a script to talk to the core."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config_file import load_config
from router import HelplineConfig, Router
from router.testing import Script

ROOT = Path(__file__).resolve().parent.parent
VO_LINJEN = ROOT / "config" / "vo-linjen.toml"


@pytest.fixture(scope="session")
def vo_config() -> HelplineConfig:
    return load_config(VO_LINJEN)


@pytest.fixture
def script(vo_config: HelplineConfig) -> Script:
    return Script(Router(vo_config))
