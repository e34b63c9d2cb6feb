"""Configuration files: a bad file fails with the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from adapters.config_file import load_config
from router import ConfigError
from tests.conftest import VO_LINJEN

BASE = VO_LINJEN.read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "helpline.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('start = "08:30"', 'start = "8.30"', "queues.phone.rules[0].start", "HH:MM"),
        (
            'team = "kss"                   # KSS',
            'team = "police"  #',
            "queues.phone.rules",
            "unknown team",
        ),
        (
            'timezone = "Europe/Oslo"',
            'timezone = "Europe/Atlantis"',
            "timezone",
            "unknown time zone",
        ),
        (
            'holidays_country = "NO"',
            'holidays_country = "XX"',
            "holidays_country",
            "no public holidays",
        ),
        ('strategy = "ring_all"', 'strategy = "ring_some"', "queues.phone.strategy", "ring_all"),
        ("capacity = 1 ", "capacity = 0 ", "channels.phone.capacity", "greater than or equal to 1"),
        ("max_no_answer = 3", "max_no_answr = 3", "agents.max_no_answr", "unknown key"),
        ('fallback = ["ok"]', 'fallback = ["kss"]', "teams.kss.fallback", "itself"),
    ],
)
def test_invalid_config_names_file_key_and_reason(
    tmp_path: Path, old: str, new: str, key: str, reason: str
) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_not_toml_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "id = [unclosed"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.toml")


def test_check_config_cli_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(VO_LINJEN)]) == 0
    assert "ok: helpline vo_linjen" in capsys.readouterr().out


def test_check_config_cli_error_is_one_line_and_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE.replace('start = "08:30"', 'start = "25:00"'))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "queues.phone.rules[0].start" in err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "check-config" in capsys.readouterr().out
