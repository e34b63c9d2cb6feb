"""Configuration files: a bad file fails with the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from adapters.config_file import find_line, key_lines, load_config
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


def _check_config_errors(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()


def test_check_config_lists_every_field_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "\n".join(
            [
                'id = "vo_linjen"',  # 1
                'timezone = "Europe/Atlantis"',
                "",
                "[teams.kss]",  # 4
                'colour = "red"',
                "",
                "[queues.phone]",  # 7
                'channel = "phone"',
                'strategy = "ring_some"',
                "",
                "[[queues.phone.rules]]",  # 11
                'team = "kss"',
                "",
                "[[queues.phone.rules]]",  # 14
                'team = "kss"',
                'start = "8.30"',
                "",
                "[queues.chat]",  # 18
                'strategy = "least_busy"',
                "",
            ]
        ),
    )
    p = f"linje check-config: error: {path}"
    assert _check_config_errors(path, capsys) == [
        f"{p}:2: timezone: unknown time zone 'Europe/Atlantis'",
        f"{p}:5: teams.kss.colour: unknown key",
        f"{p}:9: queues.phone.strategy: Input should be 'ring_all', 'longest_idle', "
        "'round_robin' or 'least_busy'",
        f"{p}:16: queues.phone.rules[1].start: must be a local time HH:MM (got '8.30')",
        f"{p}:18: queues.chat.channel: required key is missing",
    ]


def test_check_config_lists_every_reference_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        BASE.replace('fallback = ["ok"]', 'fallback = ["nobody"]', 1)
        .replace('team = "kss"', 'team = "police"', 1)
        .replace('default = "closed"', 'default = "night"', 1)
    )
    path = write(tmp_path, text)
    lines = text.splitlines()

    def line(prefix: str, nth: int = 1) -> int:
        found = [n for n, s in enumerate(lines, 1) if s.startswith(prefix)]
        return found[nth - 1]

    p = f"linje check-config: error: {path}"
    assert _check_config_errors(path, capsys) == [
        f"{p}:{line('fallback = ')}: teams.kss.fallback[0]: unknown team 'nobody'",
        f"{p}:{line('team = ')}: queues.phone.rules[0].team: unknown team 'police'",
        f"{p}:{line('default = ', 2)}: queues.chat.default: unknown team 'night'",
    ]
    # Elsewhere the first problem is one line, naming how many more there are.
    assert main(["report", "--data", str(tmp_path), "--config", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"linje report: error: {path}:{line('fallback = ')}: teams.kss.fallback[0]: "
        "unknown team 'nobody' (and 2 more)\n"
    )


def test_check_config_gives_the_line_of_a_toml_syntax_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'id = "x"\n\n[teams.kss\n')
    assert _check_config_errors(path, capsys) == [
        f"linje check-config: error: {path}:3: not valid TOML: "
        "Expected ']' at the end of a table declaration (at line 3, column 11)"
    ]


def test_key_lines_reads_tables_arrays_of_tables_and_keys() -> None:
    text = "\n".join(
        [
            'id = "x"',  # 1
            "service_level_s = [",  # 2
            "  20,",
            "  [60],",  # not a table
            "]",
            'notes = """',  # 6
            "[not.a.table]",
            '"""',
            '[teams."kss"]',  # 9
            "fallback = ['ok']",
            "[[queues.phone.rules]]",  # 11
            "team = 'kss'",
            "[[queues.phone.rules]]  # the evening",  # 13
            "  team = 'ok'",
            "[queues.phone.rules.extra]",  # 15, belongs to the second rule
            "a.b = 1",
        ]
    )
    lines = key_lines(text)
    assert [
        find_line(lines, loc)
        for loc in [
            ("id",),
            ("service_level_s", 1),
            ("teams",),
            ("teams", "kss", "fallback", 0),
            ("queues", "phone"),
            ("queues", "phone", "rules", 0, "start"),
            ("queues", "phone", "rules", 1, "team"),
            ("queues", "phone", "rules", 1, "extra", "a", "b"),
            ("not",),
            ("agents", "retry_s"),
        ]
    ] == [1, 2, 9, 10, 11, 11, 14, 16, None, None]
