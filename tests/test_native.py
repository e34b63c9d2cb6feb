"""The native (mypyc) build of the core: used only when it matches the sources, and
the same outputs as the pure-Python core, step for step.

``make test`` builds the native core first (``make native``), so the equivalence test
runs the same seeded work in two interpreters, one with the compiled modules and one
with ``LINJE_NATIVE=0``, and compares every command, record and the final state.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import native

ROOT = Path(__file__).resolve().parent.parent

# One interpreter's account of the same work: the golden two days through the core,
# step by step, its final checkpoint, and a seeded M/M/5+M simulator run.
SCRIPT = r"""
import json, sys
from adapters import native
from adapters.config_file import load_config
from router import Router
from router.checkpoint import dump
from router.commands import command_to_dict
from router.records import record_to_dict
from sim.stationary import mmn_simulation
sys.path.insert(0, "tests")
from golden_events import events

config = load_config("config/vo-linjen.toml")
router = Router(config)
steps = []
for ev in events():
    s = router.apply(ev)
    steps.append([s.status, [command_to_dict(c) for c in s.commands],
                  [record_to_dict(r) for r in s.records],
                  None if s.error is None else type(s.error).__name__])
state = dump(router)
sim = mmn_simulation(servers=5, arrival_rate=4.5 / 180, mean_handle_s=180.0,
                     mean_patience_s=300.0, customers=3000, seed=7)
records = [record_to_dict(r) for r in sim.run()]
print(json.dumps({"build": native.status(), "steps": steps, "state": state,
                  "sim": records}, sort_keys=True, default=repr))
"""


def _run(native_on: bool) -> dict[str, object]:
    env = {**os.environ, "LINJE_NATIVE": "1" if native_on else "0"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stderr == ""
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _built() -> bool:
    return (
        native.MANIFEST.is_file() and native._stale(json.loads(native.MANIFEST.read_text())) is None
    )


@pytest.mark.skipif(
    os.environ.get("LINJE_NATIVE") == "0" or not _built(),
    reason="the native core is not built for these sources (make native)",
)
def test_the_native_core_gives_the_pure_cores_outputs_exactly() -> None:
    compiled, pure = _run(True), _run(False)
    assert (compiled.pop("build"), pure.pop("build")) == ("native", "pure")
    assert len(pure["steps"]) == len(compiled["steps"])  # type: ignore[arg-type]
    assert len([r for r in pure["sim"] if r["kind"] == "contact"]) == 3000  # type: ignore[index, union-attr]
    assert pure == compiled


def test_a_build_is_refused_once_any_source_of_the_core_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "router", tmp_path / "router")
    shutil.copytree(ROOT / "sim", tmp_path / "sim")
    monkeypatch.setattr(native, "ROOT", tmp_path)
    manifest = {
        "tag": native._tag(),
        "shared": "build/native/lib/shared.so",
        "modules": {"router.core": {"source": "router/core.py", "ext": "build/native/lib/core.so"}},
        "inputs": native._inputs(),
    }
    (tmp_path / "build/native/lib").mkdir(parents=True)
    (tmp_path / "build/native/lib/core.so").write_bytes(b"")
    assert native._stale(manifest) is None

    with (tmp_path / "router/events.py").open("a") as f:
        f.write("# edited\n")  # not compiled, but compiled code was checked against it
    assert native._stale(manifest) == "router/events.py changed since it was compiled"

    manifest["inputs"] = native._inputs()
    assert native._stale(manifest) is None
    (tmp_path / "build/native/lib/core.so").unlink()
    assert native._stale(manifest) == "the extension of router.core is missing"
    assert native._stale({**manifest, "tag": "x"}) == "it was compiled for another interpreter"


def test_linje_native_0_runs_the_pure_core() -> None:
    env = {**os.environ, "LINJE_NATIVE": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "native", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert (out.stdout, out.stderr) == ("pure\n", "")
