// The server's clock as seen from the browser, and how times and figures are written.
//
// Waits and times in state are computed from the server's timestamps and the
// server's clock, never the browser's: each state carries `server_time` and
// `clock_speed` (a rehearsal may run the service on an accelerated clock), and
// between states the page extrapolates with the browser's monotonic clock.

import { t } from "./i18n.js";

export class ServerClock {
  constructor() {
    this.base = null; // {server: seconds, mono: ms, speed}
  }

  /** Re-anchor on a state's `server_time` (taken when the state was built). */
  sync(state) {
    if (typeof state.server_time !== "number") return;
    this.base = { server: state.server_time, mono: performance.now(), speed: state.clock_speed || 1 };
  }

  /** The server's time now (POSIX seconds), or null before the first state. */
  now() {
    if (!this.base) return null;
    return this.base.server + ((performance.now() - this.base.mono) / 1000) * this.base.speed;
  }

  get speed() {
    return this.base ? this.base.speed : 1;
  }
}

/** 75 -> "1:15", 3725 -> "1:02:05", 8 -> "0:08". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A longer span in words: "12 min", "3 h 05 min". */
export function span(seconds) {
  const m = Math.max(0, Math.round(seconds / 60));
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

const formatters = new Map();

function formatter(locale, timeZone, options) {
  const key = JSON.stringify([locale, timeZone, options]);
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.DateTimeFormat(locale, { timeZone, ...options }));
  }
  return formatters.get(key);
}

/** HH:MM (or HH:MM:SS) in the helpline's time zone; weekday added when not today. */
export function clockTime(posix, timeZone, { seconds = false, today = null } = {}) {
  if (posix === null || posix === undefined) return "";
  const locale = t("locale");
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  const date = new Date(posix * 1000);
  let out = formatter(locale, timeZone, options).format(date);
  if (today !== null && dayKey(posix, timeZone) !== dayKey(today, timeZone)) {
    out = `${formatter(locale, timeZone, { weekday: "short" }).format(date)} ${out}`;
  }
  return out;
}

function dayKey(posix, timeZone) {
  return formatter("en-CA", timeZone, { year: "numeric", month: "2-digit", day: "2-digit" }).format(
    new Date(posix * 1000),
  );
}

export function longDate(isoDate) {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.split("-").map(Number);
  return formatter(t("locale"), "UTC", { weekday: "long", day: "numeric", month: "long" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return new Intl.NumberFormat(t("locale"), { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  return `${new Intl.NumberFormat(t("locale"), { maximumFractionDigits: 1 }).format(value)} s`;
}

export function teamName(team) {
  return team ? team.toUpperCase() : "–";
}
