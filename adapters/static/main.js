// The supervisor dashboard: sign-in, the live state stream, rendering and the ticker.
//
// The supervisor token lives in sessionStorage only (gone when the tab
// closes), is sent only in the Authorization header, and never appears in a
// URL. A token that is not a supervisor's is refused by the service (403) and
// the page says so.

import { replace } from "./dom.js";
import { ServerClock, clockTime, duration, span } from "./format.js";
import { LANGUAGES, setLanguage, t } from "./i18n.js";
import { renderHourly } from "./chart.js";
import { StateStream } from "./stream.js";
import { renderAgents, renderAlerts, renderQueues, renderToday, renderWaiting } from "./view.js";
import { renderEscalations } from "./escalations.js";

const TOKEN_KEY = "linje.supervisor-token";
const LANGUAGE_KEY = "linje.language";
const TICK_MS = 250;
const $ = (id) => document.getElementById(id);

const app = {
  token: null,
  stream: null,
  state: null,
  clock: new ServerClock(),
  status: { state: "idle" },
  acking: new Set(),
  ackErrors: new Map(),
  escBusy: new Set(), // "esc-1:assess", "esc-1:close": a tick or close on its way
  escErrors: new Map(), // escalation -> why its last tick or close failed
  historyOpen: false, // the resolved alerts' history, collapsed until opened
  names: null, // display names of helplines and teams (GET /ui/helplines.json)
  drawn: new Map(), // section -> the input it was last drawn from
};

function authHeaders() {
  return { Authorization: `Bearer ${app.token}` };
}

// ------------------------------------------------------------------- sign-in
async function signIn(event) {
  event.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  const error = $("signin-error");
  if (!token) return;
  error.textContent = "";
  $("signin-submit").disabled = true;
  $("signin-progress").textContent = t("signingIn");
  try {
    const response = await fetch("/v1/state", {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (response.status === 401) {
      error.textContent = t("errUnknownToken");
    } else if (response.status === 403) {
      error.textContent = t("errNotSupervisor");
    } else if (!response.ok) {
      error.textContent = t("errServer", { detail: `HTTP ${response.status}` });
    } else {
      input.value = "";
      sessionStorage.setItem(TOKEN_KEY, token);
      start(token, await response.json());
      return;
    }
  } catch (err) {
    error.textContent = t("errServer", { detail: String(err.message || err) });
  } finally {
    $("signin-submit").disabled = false;
    $("signin-progress").textContent = "";
  }
  input.focus();
  input.select();
}

function signOut(message = "") {
  app.stream?.stop();
  app.stream = null;
  app.token = null;
  app.state = null;
  app.names = null;
  app.historyOpen = false;
  app.drawn.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  $("dashboard").hidden = true;
  $("escalations").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  setStatus({ state: "idle" });
  $("token").focus();
}

/** The helplines' and teams' display names (the configs' `name`); ids are shown until they come. */
async function loadNames(token) {
  try {
    const response = await fetch("/ui/helplines.json", {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!response.ok || app.token !== token) return;
    app.names = await response.json();
    app.drawn.clear();
    render();
  } catch {
    // Not fatal: the page shows the ids instead.
  }
}

function start(token, firstState = null) {
  app.token = token;
  loadNames(token);
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  $("escalations").hidden = false;
  $("signout").hidden = false;
  if (firstState) onState(firstState);
  app.stream = new StateStream({
    url: "/v1/state/stream",
    token,
    onState,
    onStatus: setStatus,
    onAuthError: (status) => signOut(t(status === 403 ? "errNotSupervisor" : "errSessionEnded")),
  }).start();
  $("main").focus();
}

// ---------------------------------------------------------------- the stream
function onState(state) {
  app.state = state;
  app.clock.sync(state);
  for (const alert of state.alerts) {
    if (alert.acknowledged_by) app.acking.delete(alert.alert_id);
  }
  for (const e of state.escalations || []) {
    if (e.acknowledged_by) app.acking.delete(e.alert_id);
    for (const s of e.checklist) if (s.ticked_by) app.escBusy.delete(`${e.escalation_id}:${s.step}`);
  }
  render();
}

function setStatus(status) {
  app.status = status;
  const live = status.state === "live";
  document.body.classList.toggle("stale", Boolean(app.state) && !live && status.state !== "idle");
  $("conn").dataset.state = status.state;
  $("retry").hidden = status.state !== "disconnected";
  drawStatus();
  drawStale();
}

function drawStatus() {
  const s = app.status;
  const text = {
    idle: "",
    connecting: t("connConnecting"),
    live: t("connLive"),
    retrying: t("connRetrying"),
    disconnected: t("connDisconnected", {
      s: Math.max(0, Math.ceil(((s.retryAt || 0) - Date.now()) / 1000)),
    }),
  }[s.state];
  if ($("conn-text").textContent !== text) $("conn-text").textContent = text;
}

function drawStale() {
  const note = $("stale");
  const stale = document.body.classList.contains("stale") && app.state;
  note.hidden = !stale;
  if (stale) {
    note.textContent = t("staleNote", {
      time: clockTime(app.state.server_time, app.state.timezone, { seconds: true }),
    });
  }
}

// ----------------------------------------------------------------- rendering
function section(name, input, draw) {
  const key = JSON.stringify(input);
  if (app.drawn.get(name) === key) return;
  app.drawn.set(name, key);
  replace($(`${name}-body`), draw());
}

function render() {
  const state = app.state;
  if (!state) return;
  const tz = state.timezone;
  const now = app.clock.now();
  const lang = document.documentElement.lang;
  const names = app.names?.helplines?.[state.helpline];
  $("helpline").textContent = names?.name || state.helpline;
  $("helpline").dataset.helpline = state.helpline;
  $("holiday").textContent = state.holiday ? t("holiday", { name: state.holiday }) : "";
  const sl = Object.values(state.today.channels || {})[0]?.service_level_s ?? 20;
  const ctx = {
    tz,
    now,
    slSeconds: sl,
    acking: app.acking,
    ackErrors: app.ackErrors,
    onAck: acknowledge,
    historyOpen: app.historyOpen,
    onHistoryToggle: (open) => {
      app.historyOpen = open;
    },
    teamNames: names?.teams || {},
  };
  // Escalations have their own banners above the dashboard, not alert cards.
  const alerts = state.alerts.filter((a) => a.kind !== "escalation");
  const escCtx = {
    ...ctx,
    config: names?.escalations,
    you: app.names?.you,
    busy: app.escBusy,
    errors: app.escErrors,
    onTick: tickStep,
    onClose: closeEscalation,
  };
  section("escalations", [lang, state.escalations, [...app.acking], [...app.escBusy], [...app.escErrors], Boolean(app.names)], () =>
    renderEscalations(state, escCtx),
  );
  section("alerts", [lang, alerts, [...app.acking], [...app.ackErrors]], () =>
    renderAlerts({ ...state, alerts }, ctx),
  );
  const urgent = alerts.filter((a) => a.open && !a.acknowledged_by).length;
  $("alert-count").textContent = urgent ? String(urgent) : "";
  $("alert-count").hidden = !urgent;
  section("queues", [lang, state.queues], () => renderQueues(state, ctx));
  section("waiting", [lang, state.queues.map((q) => q.waiting)], () => renderWaiting(state, ctx));
  // The agents' eligibility is read from the queues: a handover changes it with no agent event.
  const eligible = state.queues.map((q) => [q.channel, q.open, q.eligible_teams]);
  section("agents", [lang, state.agents, eligible], () => renderAgents(state, ctx));
  section("today", [lang, state.today], () => renderToday(state));
  const hour = Number((state.local_time || "T00").split("T")[1].slice(0, 2));
  section("hourly", [lang, state.today, hour], () => renderHourly(state, { currentHour: hour }));
  tick();
}

/** Between states: waits, times in state, countdowns and the clock move on their own. */
function tick() {
  if (app.status.state === "disconnected") drawStatus();
  const now = app.clock.now();
  if (now === null || !app.state) return;
  for (const el of document.querySelectorAll("[data-since]")) {
    const text = duration(now - Number(el.dataset.since));
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of document.querySelectorAll("[data-until]")) {
    const text = span(Number(el.dataset.until) - now);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const row of document.querySelectorAll("tr[data-arrived]")) {
    row.classList.toggle("late", now - Number(row.dataset.arrived) > Number(row.dataset.sl));
  }
  $("clock").textContent = clockTime(now, app.state.timezone, { seconds: true });
}

// ------------------------------------------------------------------- actions
/**
 * POST to the service as the signed-in supervisor. Resolves to null on success,
 * the reason it failed, or `undefined` when the token no longer works (signed out).
 */
async function postAs(url, body) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: body === undefined ? authHeaders() : { ...authHeaders(), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 || response.status === 403) {
      signOut(t(response.status === 403 ? "errNotSupervisor" : "errSessionEnded"));
      return undefined;
    }
    if (response.ok) return null;
    const problem = await response.json().catch(() => ({}));
    return problem.detail || `HTTP ${response.status}`;
  } catch (err) {
    return String(err.message || err);
  }
}

async function acknowledge(alertId) {
  app.acking.add(alertId);
  app.ackErrors.delete(alertId);
  render();
  const error = await postAs(`/v1/alerts/${encodeURIComponent(alertId)}/acknowledge`);
  if (error === undefined) return;
  // On success the button stays "acknowledging" until the state shows who acknowledged.
  if (error !== null) {
    app.ackErrors.set(alertId, error);
    app.acking.delete(alertId);
  }
  render();
}

/** One of the supervisors' escalation routes; a failure is shown on the banner. */
async function escalationAction(escalationId, busyKey, path, body) {
  app.escBusy.add(busyKey);
  app.escErrors.delete(escalationId);
  render();
  const error = await postAs(`/v1/escalations/${encodeURIComponent(escalationId)}/${path}`, body);
  if (error === undefined) return;
  if (error !== null) app.escErrors.set(escalationId, error);
  // On success a step stays disabled until the state shows who ticked it.
  if (error !== null || path === "close") app.escBusy.delete(busyKey);
  render();
}

function tickStep(escalationId, step) {
  return escalationAction(escalationId, `${escalationId}:${step}`, `steps/${encodeURIComponent(step)}`);
}

function closeEscalation(escalationId, reason) {
  return escalationAction(escalationId, `${escalationId}:close`, "close", { reason });
}

function chooseLanguage(lang) {
  setLanguage(lang);
  localStorage.setItem(LANGUAGE_KEY, lang);
  document.title = t("title");
  app.drawn.clear();
  drawStatus();
  drawStale();
  render();
}

// ---------------------------------------------------------------------- init
function init() {
  const saved = localStorage.getItem(LANGUAGE_KEY);
  setLanguage(LANGUAGES.includes(saved) ? saved : "en");
  document.title = t("title");
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => chooseLanguage(button.dataset.lang));
  }
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  $("retry").addEventListener("click", () => app.stream?.retryNow());
  setInterval(tick, TICK_MS);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start(token);
  else $("token").focus();
}

init();
