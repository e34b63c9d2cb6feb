"""The native build of the routing core: the same Python source, compiled with mypyc.

``router/`` is fully typed (``mypy --strict``); mypyc turns those modules into C
extensions with the same behaviour: attribute access on the core's own classes
becomes a field read, calls between its functions direct C calls. The sources
stay the only truth: nothing is generated into ``router/``.

* ``linje native build`` (``make native``; ``make venv``, ``make
  serve`` and ``make test`` run it when a compiled source changed) compiles
  ``MODULES`` into ``build/native/`` (C sources, objects, the extensions), then
  writes ``build/native/manifest.json``: each module's extension and the SHA-256
  of the source it was compiled from. It also writes ``linje-native.pth`` into
  the virtualenv's ``site-packages``, so every interpreter of the virtualenv
  calls ``install()`` at start-up.
* ``install()`` puts a finder in front of Python's import system that answers
  for exactly the modules in the manifest, and only if every one of their
  sources still has the hash it was compiled from and the interpreter is the
  one it was compiled for. Otherwise nothing is installed and the pure-Python
  modules run, with one line on standard error naming the first stale source:
  an edited module is never shadowed by an older build.
* ``LINJE_NATIVE=0`` in the environment runs the pure-Python core on purpose
  (``make test`` runs the core's own tests that way too, so both builds are
  tested).

Value classes that the core builds (events, commands, records) and the
configuration (pydantic) stay interpreted: they are shared with code outside
the core and use Python-level tricks (``router._fast``) that a compiled class
does not need. ``status()`` says which build a process runs.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["MODULES", "build", "install", "status"]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "native"
MANIFEST = OUT / "manifest.json"
GROUP = "linje_native"
PTH = "linje-native.pth"

# What is compiled: what every event runs through (the core's state, its parts,
# the envelope, tables, today's counters, outcomes, coverage), the checkpoint
# (restarts), the statistics fold, and the simulator's driving loop. Left out on
# purpose: router.config and router.forms (pydantic models), router.testing (a
# test helper), the value classes (router.events*, router._event_base,
# router.commands, router.records, router._fast), router.errors, the reports
# run once per request (content and escalation statistics, suppression), the
# scrubber (router.privacy: regular expressions), and router/__init__.py.
MODULES = (
    "router/_base.py",
    "router/_state.py",
    "router/_timers.py",
    "router/_checks.py",
    "router/_registrations.py",
    "router/_members.py",
    "router/_observe.py",
    "router/_escalations.py",
    "router/_handover.py",
    "router/_dispatch.py",
    "router/_agents.py",
    "router/_offers.py",
    "router/_contacts.py",
    "router/core.py",
    "router/step.py",
    "router/tables.py",
    "router/today.py",
    "router/outcomes.py",
    "router/coverage.py",
    "router/checkpoint.py",
    "router/snapshot.py",
    "router/stats.py",
    "router/stats_model.py",
    "sim/_events.py",
    "sim/driver.py",
)

_active: dict[str, str] = {}  # module name -> extension path, while installed


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inputs() -> dict[str, str]:
    """Every source the compiled code was type-checked against, by path: the whole
    ``router`` and ``sim`` packages (compiled code trusts the types of what it
    imports from them)."""
    found = [*(ROOT / "router").glob("*.py"), *(ROOT / "sim").glob("*.py")]
    paths = sorted({*(p.relative_to(ROOT).as_posix() for p in found), *MODULES})
    return {p: _digest(ROOT / p) for p in paths}


def _tag() -> str:
    """What an extension is compiled for: the interpreter and its ABI."""
    return f"{sys.implementation.cache_tag}-{sysconfig.get_config_var('SOABI')}"


def build(out: Path = OUT) -> Path:
    """Compile ``MODULES`` with mypyc into ``out``; the manifest's path."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    os.chdir(ROOT)  # mypyc names modules by their path from here, and reads pyproject's mypy
    exts = mypycify(
        list(MODULES), opt_level="3", group_name=GROUP, target_dir=str(out / "c"), multi_file=True
    )
    dist = Distribution({"name": "linje-native", "ext_modules": exts})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(out / "lib")
    cmd.build_temp = str(out / "tmp")
    cmd.parallel = os.cpu_count() or 1
    dist.run_command("build_ext")
    lib = out / "lib"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    modules = {}
    for path in MODULES:
        name = _module_name(path)
        ext = lib / (name.replace(".", "/") + suffix)
        if not ext.is_file():
            raise SystemExit(f"native build: {ext} was not built")
        modules[name] = {"source": path, "ext": ext.relative_to(ROOT).as_posix()}
    shared = (lib / f"{GROUP}__mypyc{suffix}").relative_to(ROOT).as_posix()
    manifest = {"tag": _tag(), "shared": shared, "modules": modules, "inputs": _inputs()}
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _write_pth()
    return MANIFEST


def _write_pth() -> None:
    # Site directories' .pth files run in sorted order: the editable install's
    # ("__editable__...") has made ``adapters`` importable before this one runs.
    site = Path(sysconfig.get_paths()["purelib"])
    (site / PTH).write_text("import adapters.native as _n; _n.install()\n", encoding="utf-8")


class _Finder(importlib.abc.MetaPathFinder):
    """Answers for the compiled modules only; every other import goes on as before."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        ext = self.paths.get(fullname)
        if ext is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, ext)
        return importlib.util.spec_from_file_location(fullname, ext, loader=loader)


def _stale(manifest: dict[str, object]) -> str | None:
    """Why this build may not be used, or None."""
    if manifest.get("tag") != _tag():
        return "it was compiled for another interpreter"
    modules = manifest.get("modules")
    if not isinstance(modules, dict) or not modules:
        return "its manifest lists no modules"
    inputs = manifest.get("inputs")
    if not isinstance(inputs, dict) or inputs != _inputs():
        recorded = inputs if isinstance(inputs, dict) else {}
        now = _inputs()
        changed = sorted(p for p in {*recorded, *now} if recorded.get(p) != now.get(p))
        return f"{changed[0] if changed else 'a source'} changed since it was compiled"
    for name, entry in modules.items():
        if not isinstance(entry, dict) or not (ROOT / str(entry.get("ext", ""))).is_file():
            return f"the extension of {name} is missing"
    return None


def install() -> bool:
    """Serve the compiled modules if the build matches the sources; True if it does."""
    if _active or os.environ.get("LINJE_NATIVE", "1") == "0":
        return bool(_active)
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return False  # never built (or built elsewhere): the pure-Python core runs
    why = _stale(manifest) if isinstance(manifest, dict) else "its manifest is malformed"
    if why is not None:
        print(
            f"linje: not using the native core ({why}); `make native` rebuilds it",
            file=sys.stderr,
        )
        return False
    paths = {name: str(ROOT / e["ext"]) for name, e in manifest["modules"].items()}
    paths[f"{GROUP}__mypyc"] = str(ROOT / manifest["shared"])
    if any(name in sys.modules for name in manifest["modules"]):
        return False  # too late: a pure module is already imported; mixing would break
    _active.update(paths)
    sys.meta_path.insert(0, _Finder(paths))
    return True


def status() -> str:
    """``native`` if the compiled core is what this process imports, else ``pure``."""
    core = sys.modules.get("router.core")
    if core is not None:
        return "native" if str(getattr(core, "__file__", "")).endswith(".so") else "pure"
    return "native" if _active else "pure"
