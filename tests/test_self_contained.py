"""The project stands on its own: nothing in it points at files outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces so this file does not match itself.
OUTSIDE = ("../" + "shared", "DESIGN" + ".md", "SEED-" + "DIGEST")


def test_no_tracked_file_refers_to_files_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".gz"):
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {word}" for word in OUTSIDE if word in text]
    assert hits == []


def test_the_architecture_page_cites_the_pilot_report_for_the_first_users_facts() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    assert "Krisesentersekretariatet" in text
    assert "4,499 by phone, 695 by chat" in text
