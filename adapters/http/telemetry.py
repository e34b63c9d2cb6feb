"""OpenTelemetry metrics and traces for the live service, scraped by Prometheus at ``/metrics``.

Metrics (Prometheus names, every one labelled ``helpline``):

- ``linje_queue_length{queue,channel}``: contacts waiting or ringing, per queue.
- ``linje_queue_oldest_wait_seconds{queue,channel}``: the longest current wait.
- ``linje_agents{team,channel,state}``: agents per team and state on each
  channel (ready, offered, busy, wrap_up, away, logged_out); zeros included so
  a state that empties drops to 0 rather than vanishing.
- ``linje_contacts_total{channel,outcome,class}``: contacts ended, by outcome
  and class (``class`` is the unanswered class, else the outcome itself).
- ``linje_routing_decision_duration_seconds``: per routing decision (one
  group-commit batch), from its oldest request handing its events to the
  engine until the router has decided: no request in the batch waited longer
  (includes waiting for the batch's turn on the event loop).
- ``linje_events_ingested_total{type,status}``: events made durable
  (``accepted``) or recognised as duplicates.
- ``linje_events_rejected_total{reason}``: events refused, by problem code:
  by the core (e.g. ``unknown-contact``) or at the edge (``invalid-event``,
  ``malformed-json``, ``wrong-source``...; a request refused whole counts once).
- ``linje_log_fsync_duration_seconds``: one log append (write and fsync) per batch.
- ``linje_event_loop_lag_max_seconds``: the longest the event loop was late
  waking a 10 ms sleep since the service started (``looplag``); one loop
  serves every helpline, so each helpline shows the same value.
- ``linje_event_loop_busy_max_seconds``: the most CPU time the loop's thread
  used between two of those wake-ups: a lag far above it was the machine
  (other processes, the GIL), not work on the loop.

Traces: ``<METHOD> <route>`` (server span) -> ``linje.route`` (the router's
decision for a group-commit batch: child of the first request, linked to the
others) -> ``linje.log.append`` (write and fsync, in the writer thread). Timer
decisions get a ``linje.route`` span of their own. No span or metric carries
caller data or credentials: attributes are route templates, counts, codes and
the helpline id; never bodies, headers, query strings or client addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, generate_latest

from adapters.http.looplag import LoopLagMonitor
from adapters.http.problems import Problem
from router.errors import ConfigError, LinjeError
from router.records import ContactRecord

if TYPE_CHECKING:
    from adapters.http.engine_api import HelplineEngine, LiveGauges
    from adapters.store.embedded import Staged
    from router.events import Event

__all__ = ["AGENT_STATES", "EngineProbe", "LogSpanExporter", "Telemetry", "traces_from_env"]

log = logging.getLogger("linje.trace")
AGENT_STATES = ("ready", "offered", "busy", "wrap_up", "away", "logged_out")
# Decisions take tens of microseconds; fsyncs a fraction of a millisecond to tens of ms.
DECISION_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.05, 0.25)
FSYNC_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# What ``generate_latest`` writes: the classic text format every Prometheus reads.
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Routes that take events: a refusal there counts as rejected events.
INGEST_SUFFIXES = ("/events", "/adapters/carrier", "/adapters/chat")
# Polled or static: not worth a span each.
UNTRACED = ("/healthz", "/readyz", "/metrics", "/", "/ui/{file}")


class EngineProbe:
    """What an ``Engine`` reports as it works. This base records nothing (no telemetry)."""

    def submitted(self, fut: asyncio.Future[Any]) -> None:
        """A request handed its events to the engine (called in the request's context)."""

    def decided(
        self, staged: Staged, events: Sequence[Event], futures: Sequence[asyncio.Future[Any]]
    ) -> None:
        """The router applied a batch (``events`` is empty for timers); not yet durable."""

    def write(self, write: Callable[[Staged], None], staged: Staged) -> None:
        """Runs ``write(staged)`` (append and fsync) in the writer thread."""
        write(staged)

    def committed(self, staged: Staged) -> None:
        """The batch is durable."""


# A request reaching the engine: monotonic time, epoch ns (span start), its span's context.
_Start = tuple[float, int, trace.SpanContext | None]


class _EngineTelemetry(EngineProbe):
    """The probe of one helpline's engine: spans and synchronous instruments.

    Recording an OpenTelemetry measurement costs microseconds, as much as routing
    an event, so counts are summed per batch and added once per label set, and
    the decision latency is recorded once per decision; span work is skipped
    entirely when no exporter is configured.
    """

    def __init__(self, telemetry: Telemetry, engine: HelplineEngine) -> None:
        self.t = telemetry
        self.attrs = {"helpline": engine.id}
        # Per request: when it reached the engine (monotonic, and epoch ns for the span).
        self._starts: dict[asyncio.Future[Any], _Start] = {}
        # Per staged batch (by id; the batch lives until committed): its span and events.
        self._batches: dict[int, tuple[trace.Span | None, Sequence[Event]]] = {}

    def submitted(self, fut: asyncio.Future[Any]) -> None:
        context = trace.get_current_span().get_span_context() if self.t.tracing else None
        self._starts[fut] = (time.perf_counter(), time.time_ns(), context)

    def decided(
        self, staged: Staged, events: Sequence[Event], futures: Sequence[asyncio.Future[Any]]
    ) -> None:
        now = time.perf_counter()
        starts = [s for s in (self._starts.pop(f, None) for f in futures) if s is not None]
        if starts:
            # The batch's oldest request: every request in it waited no longer.
            self.t.decision_latency.record(now - min(s[0] for s in starts), self.attrs)
        span = None
        if self.t.tracing and (futures or staged.payloads):  # not: a tick that changed nothing
            span = self._route_span(staged, events, futures, starts)
        self._batches[id(staged)] = (span, events)

    def _route_span(
        self,
        staged: Staged,
        events: Sequence[Event],
        futures: Sequence[asyncio.Future[Any]],
        starts: list[_Start],
    ) -> trace.Span:
        contexts = [s[2] for s in starts if s[2] is not None]
        parent = None
        if contexts and contexts[0].is_valid:
            parent = trace.set_span_in_context(NonRecordingSpan(contexts[0]))
        # The span covers what the decision latency measures: from the first
        # request reaching the engine to the router's decision.
        span = self.t.tracer.start_span(
            "linje.route",
            context=parent,
            start_time=min((s[1] for s in starts), default=None),
            links=[Link(c) for c in contexts[1:] if c.is_valid],
            attributes={
                "linje.helpline": self.attrs["helpline"],
                "linje.trigger": "request" if futures else "timer",
                "linje.events": len(events),
                "linje.requests": len(futures),
                "linje.log_entries": len(staged.payloads),
            },
        )
        span.end()
        return span

    def write(self, write: Callable[[Staged], None], staged: Staged) -> None:
        if not staged.payloads:
            write(staged)  # nothing to append
            return
        if not self.t.tracing:
            start = time.perf_counter()
            write(staged)
            self.t.fsync_latency.record(time.perf_counter() - start, self.attrs)
            return
        batch = self._batches.get(id(staged))
        parent = trace.set_span_in_context(batch[0]) if batch and batch[0] else None
        with self.t.tracer.start_as_current_span(
            "linje.log.append",
            context=parent,
            attributes={
                "linje.helpline": self.attrs["helpline"],
                "linje.entries": len(staged.payloads),
            },
        ):
            start = time.perf_counter()
            write(staged)
            self.t.fsync_latency.record(time.perf_counter() - start, self.attrs)

    def committed(self, staged: Staged) -> None:
        _, events = self._batches.pop(id(staged), (None, ()))
        helpline = self.attrs["helpline"]
        ingested: Counter[tuple[str, str]] = Counter()
        rejected: Counter[str] = Counter()
        for event, result in zip(events, staged.results, strict=False):
            if result.status == "rejected":
                rejected[result.error.code if result.error is not None else "unknown"] += 1
            else:
                ingested[(event.type, result.status)] += 1
        for (type_, status), n in ingested.items():
            self.t.events_ingested.add(n, {"helpline": helpline, "type": type_, "status": status})
        for reason, n in rejected.items():
            self.t.events_rejected.add(n, {"helpline": helpline, "reason": reason})
        contacts: Counter[tuple[str, str, str]] = Counter()
        for record in staged.records:  # kept by the store: nothing is decoded again
            if isinstance(record, ContactRecord):
                outcome = record.outcome
                contacts[(record.channel, outcome, record.unanswered or outcome)] += 1
        for (channel, outcome, class_), n in contacts.items():
            attrs = {"helpline": helpline, "channel": channel, "outcome": outcome, "class": class_}
            self.t.contacts.add(n, attrs)


class LogSpanExporter(SpanExporter):
    """Finished spans as structured log lines (``OTEL_TRACES_EXPORTER=console``)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            ctx = span.get_span_context()
            assert ctx is not None
            start, end = span.start_time or 0, span.end_time or 0
            log.info(
                "span %s trace=%032x span=%016x parent=%s duration_ms=%.3f %s",
                span.name,
                ctx.trace_id,
                ctx.span_id,
                f"{span.parent.span_id:016x}" if span.parent else "-",
                (end - start) / 1e6,
                dict(span.attributes or {}),
            )
        return SpanExportResult.SUCCESS


def traces_from_env() -> SpanExporter | None:
    """The span exporter the standard ``OTEL_TRACES_EXPORTER`` asks for (default: none)."""
    name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if name in ("", "none"):
        return None
    if name == "console":
        return LogSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
        except ImportError:
            raise ConfigError(
                "OTEL_TRACES_EXPORTER=otlp needs the opentelemetry-exporter-otlp-proto-http "
                "package installed"
            ) from None
        exporter: SpanExporter = OTLPSpanExporter()
        return exporter
    raise ConfigError(f"OTEL_TRACES_EXPORTER must be none, console or otlp, got {name!r}")


class Telemetry:
    """One service's meters, tracer and Prometheus registry (nothing global, so tests can
    run many side by side)."""

    def __init__(self, span_exporter: SpanExporter | None = None, *, batch: bool = False) -> None:
        resource = Resource.create({"service.name": "linje"})
        self.registry = CollectorRegistry()
        self._reader = PrometheusMetricReader(
            registry=self.registry, disable_target_info=True, scope_info_enabled=False
        )
        self.meter_provider = MeterProvider(
            metric_readers=[self._reader], resource=resource, shutdown_on_exit=False
        )
        # Without an exporter spans are not recorded at all (ALWAYS_OFF), but
        # their contexts still propagate.
        self.tracer_provider = TracerProvider(
            sampler=ALWAYS_ON if span_exporter is not None else ALWAYS_OFF,
            resource=resource,
            shutdown_on_exit=False,
        )
        self.tracing = span_exporter is not None
        if span_exporter is not None:
            processor = (BatchSpanProcessor if batch else SimpleSpanProcessor)(span_exporter)
            self.tracer_provider.add_span_processor(processor)
        self.tracer = self.tracer_provider.get_tracer("linje")
        self.engines: list[HelplineEngine] = []
        self._scrape: dict[str, LiveGauges] | None = None
        m = self.meter_provider.get_meter("linje")
        self.contacts = m.create_counter(
            "linje.contacts", unit="{contact}", description="Contacts ended, by outcome and class"
        )
        self.events_ingested = m.create_counter(
            "linje.events.ingested",
            unit="{event}",
            description="Events made durable (accepted) or recognised as duplicates",
        )
        self.events_rejected = m.create_counter(
            "linje.events.rejected", unit="{event}", description="Events refused, by problem code"
        )
        self.decision_latency = m.create_histogram(
            "linje.routing.decision.duration",
            unit="s",
            description="From a request handing its events to the engine to the router's decision",
            explicit_bucket_boundaries_advisory=DECISION_BUCKETS,
        )
        self.fsync_latency = m.create_histogram(
            "linje.log.fsync.duration",
            unit="s",
            description="One event-log append: write and fsync of a group-commit batch",
            explicit_bucket_boundaries_advisory=FSYNC_BUCKETS,
        )
        m.create_observable_gauge(
            "linje.queue.length",
            callbacks=[self._queue_length],
            unit="{contact}",
            description="Contacts waiting or ringing in the queue",
        )
        m.create_observable_gauge(
            "linje.queue.oldest_wait",
            callbacks=[self._oldest_wait],
            unit="s",
            description="Longest current wait in the queue (0 when empty)",
        )
        self.loop_lag = LoopLagMonitor()
        for name, attr, description in (
            ("lag_max", "max_s", "Longest the event loop was late waking a 10 ms sleep"),
            ("busy_max", "busy_max_s", "Most CPU time its thread used within one such sleep"),
        ):
            m.create_observable_gauge(
                f"linje.event_loop.{name}",
                callbacks=[self._loop_gauge(attr)],
                unit="s",
                description=f"{description}, since the start",
            )
        m.create_observable_gauge(
            "linje.agents",
            callbacks=[self._agents],
            unit="{agent}",
            description="Agents by team and state on each channel",
        )

    # ------------------------------------------------------------- wiring
    def watch(self, engine: HelplineEngine) -> None:
        """Report this engine's work and state."""
        engine.probe = _EngineTelemetry(self, engine)
        self.engines.append(engine)

    def shutdown(self) -> None:
        self.meter_provider.shutdown()
        self.tracer_provider.shutdown()

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        # One reading of each helpline's live figures per scrape, shared by the three
        # gauges that show them (``live_gauges``: the waiting contacts and the agents,
        # never the whole retained state).
        self._scrape = {}
        try:
            return generate_latest(self.registry), EXPOSITION_TYPE
        finally:
            self._scrape = None

    # ------------------------------------------------------ observed state
    def _gauges(self) -> Iterable[tuple[HelplineEngine, LiveGauges]]:
        cache = self._scrape
        for engine in self.engines:
            if not engine.ready:
                continue
            if cache is None:
                yield engine, engine.gauges(engine.clock.now())
                continue
            if engine.id not in cache:
                cache[engine.id] = engine.gauges(engine.clock.now())
            yield engine, cache[engine.id]

    def _loop_gauge(self, attr: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        # One loop serves every helpline: each is told the same figure (and labelled,
        # as every metric here is).
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            value = round(getattr(self.loop_lag, attr), 6)
            return [Observation(value, {"helpline": e.id}) for e in self.engines]

        return observe

    def _queue_length(self, options: CallbackOptions) -> Iterable[Observation]:
        for engine, gauges in self._gauges():
            for queue, channel, waiting, _ in gauges.queues:
                attrs = {"helpline": engine.id, "queue": queue, "channel": channel}
                yield Observation(waiting, attrs)

    def _oldest_wait(self, options: CallbackOptions) -> Iterable[Observation]:
        for engine, gauges in self._gauges():
            for queue, channel, _, wait in gauges.queues:
                attrs = {"helpline": engine.id, "queue": queue, "channel": channel}
                yield Observation(wait, attrs)

    def _agents(self, options: CallbackOptions) -> Iterable[Observation]:
        for engine, gauges in self._gauges():
            config = engine.config
            counts: dict[tuple[str, str, str], int] = {
                (team, ch, state): 0
                for team in config.teams
                for ch in config.channels
                for state in AGENT_STATES
            }
            for key, n in gauges.agents.items():
                counts[key] = counts.get(key, 0) + n
            for (team, ch, state), n in counts.items():
                attrs = {"helpline": engine.id, "team": team, "channel": ch, "state": state}
                yield Observation(n, attrs)

    # ---------------------------------------------------------------- HTTP
    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """A server span per API request; refusals on the event routes count as rejected."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(unmatched)"
        ingest = request.method == "POST" and route.endswith(INGEST_SUFFIXES)
        traced = self.tracing and route not in UNTRACED
        if not ingest and not traced:
            return await handler(request)
        span = (
            self.tracer.start_as_current_span(
                f"{request.method} {route}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": request.method, "http.route": route},
                record_exception=False,
                set_status_on_exception=False,
            )
            if traced
            else contextlib.nullcontext(None)
        )
        with span as current:
            # Only refusals raised at the edge count here; the engine counts its own.
            status, reason = 500, None  # type: tuple[int, str | None]
            try:
                response = await handler(request)
                status = response.status
                return response
            except Problem as p:
                status, reason = p.status, p.code
                raise
            except LinjeError as err:
                status, reason = err.status, err.code
                raise
            except web.HTTPRequestEntityTooLarge:
                status, reason = 413, "body-too-large"
                raise
            except web.HTTPException as exc:
                status, reason = exc.status, exc.reason.lower().replace(" ", "-")
                raise
            finally:
                if current is not None:
                    current.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        current.set_status(Status(StatusCode.ERROR))
                if ingest and reason is not None and status >= 400:
                    helpline = request.match_info.get("helpline") or self._default()
                    self.events_rejected.add(1, {"helpline": helpline, "reason": reason})

    def _default(self) -> str:
        return self.engines[0].id if self.engines else ""
