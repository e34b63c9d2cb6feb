"""report, replay and import take the data folder `linje serve` prints, one helpline or several."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from tests.conftest import VO_LINJEN
from tests.http_helpers import TOKENS
from tests.serve_process import Server, write_auth
from tests.test_import_carrier_csv import CSV


def serve_and_post(data: Path, auth: Path, *configs: Path, events: int) -> Path:
    """Run `linje serve`, post ``events`` calls that arrive and hang up; the folder it prints."""
    extra = [arg for cfg in configs[1:] for arg in ("--config", str(cfg))]
    server = Server(data, auth, *extra, config=configs[0])
    try:
        server.wait_ready()
        now = dt.datetime.now(dt.UTC).isoformat()
        batch: list[dict[str, Any]] = []
        for i in range(events):
            ids = {"source": "carrier", "contact_id": f"c{i}", "at": now}
            batch.append({"event_id": f"a{i}", "type": "contact.arrived", **ids,
                          "channel": "phone", "queue": "phone"})  # fmt: skip
            batch.append({"event_id": f"b{i}", "type": "contact.abandoned", **ids})
        request = urllib.request.Request(
            f"{server.base}/v1/events",
            data=json.dumps({"events": batch}).encode(),
            headers={"Authorization": f"Bearer {TOKENS['carrier']}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            results = json.load(answer)["results"]
        assert [r["status"] for r in results] == ["accepted"] * len(batch)
    finally:
        assert server.stop() == 0
    printed = re.findall(r"^  data: +(\S+)$", Path(server.log.name).read_text(), re.MULTILINE)
    assert printed == [str(data.resolve())]
    return Path(printed[0])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def contacts(capsys: pytest.CaptureFixture[str], *argv: str) -> int:
    code, out, err = run(capsys, "report", *argv, "--format", "json", "--group-by", "")
    assert (code, err) == (0, "")
    n: int = json.loads(out)["groups"][0]["contacts"]
    return n


def test_one_helpline_is_found_in_the_folder_serve_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = serve_and_post(tmp_path / "data", write_auth(tmp_path / "auth.toml"), VO_LINJEN,
                          events=2)  # fmt: skip
    assert sorted(p.name for p in data.iterdir()) == ["vo_linjen"]
    assert contacts(capsys, "--data", str(data)) == 2
    assert contacts(capsys, "--data", str(data), "--helpline", "vo_linjen") == 2
    code, out, err = run(capsys, "replay", "--data", str(data), "--config", str(VO_LINJEN),
                         "--format", "json")  # fmt: skip
    assert (code, err, json.loads(out)["events"]) == (0, "", 4)

    # An import finds the same helpline's log: its clock is the live events' (months after
    # the file's calls, so the router refuses them as behind its clock).
    csv = tmp_path / "november.csv"
    csv.write_text(CSV, encoding="utf-8")
    code, out, err = run(capsys, "import", "carrier-csv", str(csv), "--data", str(data),
                         "--config", str(VO_LINJEN))  # fmt: skip
    assert (code, out.splitlines()[0]) == (0, f"{csv}: carrier CSV imported into {data}/vo_linjen")
    assert "  events refused by the router: 25 (agent.logged_in: time-went-backwards 4," in out

    code, _, err = run(capsys, "report", "--data", str(data), "--helpline", "other")
    assert (code, err) == (
        2,
        f"linje report: error: --data {data} has no helpline 'other' (helplines here: vo_linjen)\n",
    )


def test_several_helplines_need_helpline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(VO_LINJEN.read_text().replace('id = "vo_linjen"', 'id = "other"', 1))
    data = serve_and_post(tmp_path / "data", write_auth(tmp_path / "auth.toml"), VO_LINJEN,
                          other, events=1)  # fmt: skip
    assert sorted(p.name for p in data.iterdir()) == ["other", "vo_linjen"]
    for argv in (["report", "--data", str(data)], ["replay", "--data", str(data), "--config",
                                                   str(other)]):  # fmt: skip
        code, _, err = run(capsys, *argv)
        assert (code, err) == (
            2,
            f"linje {argv[0]}: error: --data {data} holds helplines other, vo_linjen: "
            "choose one with --helpline\n",
        )
    assert contacts(capsys, "--data", str(data), "--helpline", "vo_linjen") == 1
    assert contacts(capsys, "--data", str(data), "--helpline", "other") == 0

    csv = tmp_path / "november.csv"
    csv.write_text(CSV, encoding="utf-8")
    imp = ["import", "carrier-csv", str(csv), "--data", str(data)]
    code, _, err = run(capsys, *imp, "--config", str(other))
    assert (code, err) == (
        2,
        f"linje import: error: --data {data} holds helplines other, vo_linjen: "
        "choose one with --helpline\n",
    )
    code, out, _ = run(capsys, *imp, "--config", str(other), "--helpline", "other")
    assert (code, out.splitlines()[0]) == (0, f"{csv}: carrier CSV imported into {data}/other")
    assert "  events refused by the router: 25 (agent.logged_in: time-went-backwards 4," in out
    code, _, err = run(capsys, *imp, "--config", str(other), "--helpline", "vo_linjen")
    assert (code, err) == (
        2,
        f"linje import: error: --data {data}: {data}/vo_linjen is helpline vo_linjen's folder, "
        f"but --config {other} is helpline other\n",
    )


def test_a_folder_without_a_log_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "report", "--data", str(tmp_path / "empty"))
    assert (code, err) == (
        2,
        f"linje report: error: {tmp_path}/empty: no event log here "
        f"(expected {tmp_path}/empty/HELPLINE/log, as linje serve writes it)\n",
    )
