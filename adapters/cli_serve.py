"""``linje serve``: the live service on the embedded store."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import ipaddress
import os
import signal
import sys
from pathlib import Path

from adapters.cli import command
from router.errors import ConfigError

__all__: list[str] = []

LOOPBACK = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@command
def _serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the live routing service",
        description="Run the live routing service: the event API, vendor webhooks, command "
        "streams, live state and the supervisor dashboard.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--config",
        action="append",
        default=None,
        help="helpline TOML (repeat for several helplines; the first is the default)",
    )
    p.add_argument("--data", default="data", help="data directory (one subfolder per helpline)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (dev tokens: loopback only)"
    )
    p.add_argument("--port", type=int, default=8080, help="TCP port to listen on")
    p.add_argument(
        "--auth",
        default=os.environ.get("LINJE_AUTH"),
        help="auth TOML with tokens and webhook keys (env LINJE_AUTH)",
    )
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=10_000,
        help="log entries between snapshots of the routing state (recovery replays at most "
        "this many; each is written by a forked child, off the event loop)",
    )
    p.add_argument(
        "--adapter-rate",
        type=float,
        default=200.0,
        help="events per second each adapter may post, beyond its burst (0: no limit)",
    )
    p.add_argument("--adapter-burst", type=int, default=2_000, help="each adapter's burst")
    p.add_argument(
        "--demo",
        action="store_true",
        help="also play simulated helpline traffic against this server",
    )
    p.add_argument(
        "--clock-start",
        default=None,
        help="run on a virtual clock starting at this ISO 8601 time (rehearsals, demos, tests)",
    )
    p.add_argument(
        "--clock-speed",
        type=float,
        default=None,
        help="virtual seconds per real second (default 1; 10 with --demo)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error", "critical"),
        help="how much the service logs (never caller data)",
    )
    from adapters.cluster.cli import add_store_arguments

    add_store_arguments(p)

    def run(args: argparse.Namespace) -> int:
        return serve(args)

    p.set_defaults(run=run)


def _parse_start(raw: str) -> float:
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"--clock-start must be an ISO 8601 time, got {raw!r}") from None
    if when.tzinfo is None:
        raise ConfigError("--clock-start needs a UTC offset, e.g. 2021-11-15T15:29:00+01:00")
    return when.timestamp()


def serve(args: argparse.Namespace) -> int:
    # No cycle collections while start-up imports and recovers (the app resumes them,
    # the heap frozen, once every helpline is open: adapters.http.app._collector_on).
    gc.disable()
    from aiohttp import web

    from adapters.config_file import load_config
    from adapters.http.app import build_app
    from adapters.http.auth import load_auth
    from adapters.http.clock import Clock, ScaledClock
    from adapters.http.limits import Limits
    from adapters.logs import setup_logging

    setup_logging(args.log_level)
    configs = [load_config(path) for path in (args.config or ["config/vo-linjen.toml"])]
    auth = load_auth(args.auth)
    if auth.dev and not _is_loopback(args.host):
        raise ConfigError(
            "development credentials (dev = true) are only allowed on a loopback host",
            file=args.auth,
            key="dev",
        )
    data = Path(args.data)
    clock: Clock = Clock()
    speed = args.clock_speed or (10.0 if args.demo else 1.0)
    if speed <= 0:
        raise ConfigError("--clock-speed must be positive")
    if args.clock_start is not None:
        clock = ScaledClock(_parse_start(args.clock_start), speed)
    elif speed != 1.0 and not args.demo:
        clock = ScaledClock(Clock().now(), speed)
    if args.demo and args.clock_start is None:
        from adapters.demo import demo_clock

        clock = demo_clock(configs[0], speed)
    try:
        limits = Limits(events_per_s=args.adapter_rate, burst=args.adapter_burst)
    except ValueError as exc:
        raise ConfigError(f"--adapter-rate/--adapter-burst: {exc}") from None
    from adapters.http.telemetry import Telemetry, traces_from_env

    telemetry = Telemetry(traces_from_env(), batch=True)
    metrics_open = _is_loopback(args.host)  # a scraper on this machine needs no token
    from adapters.cluster.cli import node_from_args

    node = node_from_args(args)  # checks --store and its options, refuses --demo with it
    if args.demo:
        from adapters.demo import check_demo_dir, new_demo_run

        check_demo_dir(data)
        # Every option passed: only now is anything written, and nothing is deleted.
        data = new_demo_run(data)
    exit_code = 0

    def on_fatal(exc: BaseException) -> None:
        nonlocal exit_code
        exit_code = 1
        os.kill(os.getpid(), signal.SIGTERM)

    factory = None
    if node is not None:
        factory = functools.partial(
            node.engine, on_fatal=on_fatal, snapshot_every=args.snapshot_every
        )
    app = build_app(
        configs,
        data,
        auth,
        clock=clock,
        on_fatal=on_fatal,
        snapshot_every=args.snapshot_every,
        limits=limits,
        telemetry=telemetry,
        metrics_open=metrics_open,
        engine_factory=factory,
    )
    if node is not None:
        node.attach(app)
    base = f"http://{args.host}:{args.port}"
    if args.demo:
        from adapters.demo import start_demo

        start_demo(app, base, configs[0], clock)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    helplines = ", ".join(c.id for c in configs)
    print(
        f"Linje serving {helplines} on {base}\n"
        f"  health:    {base}/healthz   ready: {base}/readyz\n"
        f"  API:       {base}/v1/openapi.json\n"
        f"  dashboard: {base}/  (sign in with a supervisor token)\n"
        f"  metrics:   {base}/metrics"
        f"{'' if metrics_open else '  (Authorization: Bearer <supervisor token>)'}\n"
        f"  state:     {base}/v1/state  (Authorization: Bearer <supervisor token>"
        + (f" from {args.auth})" if args.auth else ")")
        + f"\n  data:      {data.resolve() if node is None else args.store}"
        + ("" if node is None else f" (node {node.node_id}, prefix {args.redis_prefix})"),
        flush=True,
    )
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        handle_signals=True,
        shutdown_timeout=5,
    )
    return exit_code


if __name__ == "__main__":  # pragma: no cover
    from adapters.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
