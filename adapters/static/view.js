// The dashboard's sections, each built from one state snapshot (see router/snapshot.py).
//
// Live-ticking values are spans with `data-since` (a server timestamp, shown
// as the time elapsed since) or `data-until` (shown as the time left); the
// ticker in main.js refreshes them between states.

import { clockTime, duration, longDate, percent, seconds, span, teamName } from "./format.js";
import { h } from "./dom.js";
import { label, t } from "./i18n.js";

const STATES = ["ready", "offered", "busy", "wrap_up", "away", "logged_out"];

function since(posix, now, formatter = duration) {
  return h("span", { class: "tick", dataset: { since: String(posix) } }, formatter(now - posix));
}

function until(posix, now) {
  return h("span", { class: "tick", dataset: { until: String(posix) } }, span(posix - now));
}

function channelName(channel) {
  return label("ch_", channel);
}

// -------------------------------------------------------------------- alerts
function alertText(alert, tz, now) {
  const d = alert.details || {};
  if (alert.kind === "handover_gap") {
    const sides = Object.entries(d.logged_in || {}).map(
      ([team, names]) => `${teamName(team)}: ${names.length ? names.join(", ") : t("nobody")}`,
    );
    return [
      t("gapText", {
        queue: channelName(d.queue),
        team: teamName(d.team),
        boundary: clockTime(d.boundary_at, tz, { today: now }),
      }),
      sides.length ? ` ${t("gapLoggedIn", { list: sides.join("; ") })}` : "",
      ` ${t(d.fallback ? "gapFallback" : "gapNoFallback")}`,
    ].join("");
  }
  if (alert.kind === "agent_auto_away") {
    return t("awayText", { agent: d.agent_id, team: teamName(d.team), n: d.unanswered_offers });
  }
  if (alert.kind === "long_wait") {
    return t("longWaitText", {
      contact: d.contact_id,
      queue: channelName(d.queue),
      s: duration(d.wait_s),
    });
  }
  return JSON.stringify(d);
}

function alertCard(a, ctx) {
  const { tz, now, acking, ackErrors, onAck } = ctx;
  const urgent = !a.acknowledged_by;
  let action;
  if (a.acknowledged_by) {
    action = h(
      "p",
      { class: "acked" },
      t("acknowledgedBy", { who: a.acknowledged_by, time: clockTime(a.acknowledged_at, tz) }),
    );
  } else {
    const busy = acking.has(a.alert_id);
    action = h(
      "button",
      {
        type: "button",
        class: "ack",
        disabled: busy,
        dataset: { key: `ack:${a.alert_id}`, focusNext: `alert:${a.alert_id}`, alertId: a.alert_id },
        onclick: () => onAck(a.alert_id),
      },
      busy ? t("acknowledging") : t("acknowledge"),
    );
  }
  const error = ackErrors.get(a.alert_id);
  return h(
    "li",
    {
      class: `alert ${urgent ? "urgent" : "acknowledged"}`,
      tabindex: "-1",
      dataset: { key: `alert:${a.alert_id}`, alertId: a.alert_id, kind: a.kind },
    },
    h(
      "div",
      { class: "alert-head" },
      h("strong", { class: "alert-kind" }, urgent ? "⚠ " : "", label("alert_", a.kind)),
      h("span", { class: "alert-meta" }, t("raisedAt", { time: clockTime(a.raised_at, tz, { today: now }) }), " · ", t("alertOpen")),
    ),
    h("p", { class: "alert-text" }, alertText(a, tz, now)),
    h("div", { class: "alert-action" }, action, error ? h("p", { class: "error", role: "alert" }, t("ackFailed", { detail: error })) : null),
  );
}

function historyItem(a, { tz, now }) {
  return h(
    "li",
    { class: "alert resolved", dataset: { key: `alert:${a.alert_id}`, alertId: a.alert_id, kind: a.kind } },
    h("span", { class: "when" }, `${clockTime(a.raised_at, tz, { today: now })}–${clockTime(a.closed_at, tz, { today: now })}`),
    " ",
    h("strong", {}, label("alert_", a.kind)),
    " ",
    h("span", { class: "alert-text" }, alertText(a, tz, now)),
  );
}

/**
 * Open alerts as cards (unacknowledged first, newest first); resolved ones
 * (the state keeps those nobody acknowledged for an hour) as a compact
 * history, collapsed unless the supervisor opened it: they must not push the
 * queues off the first screen.
 */
export function renderAlerts(state, ctx) {
  const rank = (a) => (a.acknowledged_by ? 1 : 0);
  const open = state.alerts.filter((a) => a.open).sort((a, b) => rank(a) - rank(b) || b.raised_at - a.raised_at);
  const resolved = state.alerts.filter((a) => !a.open).sort((a, b) => b.closed_at - a.closed_at || b.raised_at - a.raised_at);
  const out = [];
  if (open.length) out.push(h("ul", { class: "alert-list" }, open.map((a) => alertCard(a, ctx))));
  else out.push(h("p", { class: "empty" }, resolved.length ? t("noOpenAlerts") : t("noAlerts")));
  if (resolved.length) {
    out.push(
      h(
        "details",
        { class: "alert-history", open: ctx.historyOpen, ontoggle: (e) => ctx.onHistoryToggle(e.currentTarget.open) },
        h("summary", { dataset: { key: "alert-history" } }, t("alertHistory", { n: resolved.length })),
        h("ol", { class: "history-list" }, resolved.map((a) => historyItem(a, ctx))),
      ),
    );
  }
  return out;
}

// -------------------------------------------------------------------- queues
export function renderQueues(state, { tz, now }) {
  return state.queues.map((q) => {
    const owner = q.serving_team;
    const others = q.eligible_teams.filter((team) => team !== owner);
    return h(
      "article",
      { class: `queue ${q.open ? "is-open" : "is-closed"}`, dataset: { queue: q.queue } },
      h(
        "h3",
        {},
        channelName(q.queue),
        " ",
        h("span", { class: `badge ${q.open ? "badge-open" : "badge-closed"}` }, q.open ? t("open") : t("closed")),
      ),
      h(
        "dl",
        {},
        h("dt", {}, t("ownerNow")),
        h(
          "dd",
          {},
          h("span", { class: "owner", dataset: { owner: q.owner } }, q.open ? teamName(owner) : t("closed")),
          " ",
          h("span", { class: "muted" }, t("ownerSince", { time: clockTime(q.since, tz, { today: now }) })),
          q.fallback_active
            ? h("p", { class: "warn" }, t("fallbackActive", { owner: teamName(owner), teams: others.map(teamName).join(", ") }))
            : null,
        ),
        h("dt", {}, t("nextHandover")),
        h(
          "dd",
          { class: "handover" },
          q.next_handover === null
            ? t("noHandover")
            : [
                t("nextHandoverText", {
                  time: clockTime(q.next_handover, tz, { today: now }),
                  team: q.next_owner === "closed" ? t("closed") : teamName(q.next_owner),
                }),
                " (",
                t("inPrefix"),
                " ",
                until(q.next_handover, now),
                ")",
              ],
        ),
        h("dt", {}, t("waiting")),
        h("dd", {}, t("waitingCount", { n: q.waiting.length })),
      ),
    );
  });
}

// ------------------------------------------------------------------- waiting
export function renderWaiting(state, { now, slSeconds }) {
  const rows = state.queues
    .flatMap((q) => q.waiting.map((w) => ({ ...w, queue: q.queue })))
    .sort((a, b) => a.arrived_at - b.arrived_at);
  if (!rows.length) return [h("p", { class: "empty" }, t("nobodyWaiting"))];
  return [
    h(
      "table",
      { class: "waiting-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("contact")), h("th", { scope: "col" }, t("queue")), h("th", { scope: "col" }, t("state")), h("th", { scope: "col", class: "num" }, t("wait")))),
      h(
        "tbody",
        {},
        rows.map((w) =>
          h(
            "tr",
            {
              dataset: { contact: w.contact_id, arrived: String(w.arrived_at), sl: String(slSeconds) },
              class: now - w.arrived_at > slSeconds ? "late" : null,
            },
            h("th", { scope: "row" }, w.contact_id),
            h("td", {}, channelName(w.queue)),
            h("td", {}, w.ringing.length ? t("stateRinging", { agents: w.ringing.join(", ") }) : t("stateWaiting")),
            h("td", { class: "num wait" }, since(w.arrived_at, now)),
          ),
        ),
      ),
    ),
  ];
}

// -------------------------------------------------------------------- agents
/**
 * Whether contacts on `channel` can be offered to `team` now: some open queue
 * on that channel lists the team among its `eligible_teams` (the owner, and
 * the fallback teams while the owner has nobody logged in).
 */
export function eligibility(state, team, channel) {
  const queues = state.queues.filter((q) => q.channel === channel && q.open);
  const teams = [...new Set(queues.flatMap((q) => q.eligible_teams))].sort();
  return { eligible: teams.includes(team), teams };
}

function notEligible(teams) {
  return teams.length ? t("notEligible", { teams: teams.map(teamName).join(", ") }) : t("notEligibleClosed");
}

export function renderAgents(state, { now, teamNames = {} }) {
  if (!state.agents.length) return [h("p", { class: "empty" }, t("noAgents"))];
  const channels = [...new Set(state.agents.flatMap((a) => Object.keys(a.channels)))];
  const teams = new Map();
  for (const agent of state.agents) {
    if (!teams.has(agent.team)) teams.set(agent.team, []);
    teams.get(agent.team).push(agent);
  }
  return [...teams.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([team, agents]) =>
      h(
        "div",
        { class: "team", dataset: { team } },
        h("h3", {}, t("team", { team: teamName(team) }), teamNames[team] ? h("span", { class: "muted small team-name" }, ` ${teamNames[team]}`) : null),
        h(
          "table",
          { class: "agents-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("agent")), channels.map((ch) => h("th", { scope: "col" }, channelName(ch))))),
          h(
            "tbody",
            {},
            agents.map((a) =>
              h(
                "tr",
                { dataset: { agent: a.agent_id } },
                h(
                  "th",
                  { scope: "row" },
                  a.agent_id,
                  a.away_reason && a.presence === "away" ? h("span", { class: "muted small" }, ` (${t("presence_away", { reason: a.away_reason })})`) : null,
                ),
                channels.map((ch) => {
                  const c = a.channels[ch] || { state: "logged_out" };
                  const st = STATES.includes(c.state) ? c.state : "logged_out";
                  const on = st !== "logged_out";
                  const { eligible, teams } = eligibility(state, a.team, ch);
                  return h(
                    "td",
                    {
                      class: on && !eligible ? "not-eligible" : null,
                      dataset: on ? { channel: ch, state: st, eligible: String(eligible) } : { channel: ch, state: st },
                    },
                    h("span", { class: `state state-${st}` }, label("st_", st)),
                    c.since !== undefined && on ? [" ", since(c.since, now)] : null,
                    on && !eligible ? h("span", { class: "eligibility" }, notEligible(teams)) : null,
                  );
                }),
              ),
            ),
          ),
        ),
      ),
    );
}

// --------------------------------------------------------------------- today
const FIGURES = [
  ["contacts", (c) => c.contacts],
  ["answered", (c) => c.answered],
  ["answer_rate", (c) => percent(c.answer_rate)],
  ["answer_rate_excl_short", (c) => percent(c.answer_rate_excl_short)],
  ["unanswered", (c) => Object.values(c.unanswered).reduce((x, y) => x + y, 0)],
  ["no_agent", (c) => c.unanswered.no_agent],
  ["short_abandon", (c) => c.unanswered.short_abandon],
  ["agents_busy", (c) => c.unanswered.agents_busy],
  ["other", (c) => c.unanswered.other],
  ["missing_data", (c) => c.unanswered.missing_data],
  ["rejected_closed", (c) => c.rejected_closed],
  ["service_level", (c) => percent(c.service_level)],
  ["avg_wait", (c) => seconds(c.avg_wait_answered_s)],
];

export function renderToday(state) {
  const channels = Object.entries(state.today.channels || {});
  const caption = t("todayDate", { date: longDate(state.today.date) });
  if (!channels.length) return [h("p", { class: "muted" }, caption), h("p", { class: "empty" }, t("noContactsToday"))];
  const sl = channels[0][1].service_level_s;
  return [
    h(
      "table",
      { class: "today-table" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("figure")), channels.map(([ch]) => h("th", { scope: "col", class: "num" }, channelName(ch))))),
      h(
        "tbody",
        {},
        FIGURES.map(([key, value]) =>
          h(
            "tr",
            { class: key.startsWith("answer_rate") || key === "service_level" ? "rate" : null },
            h("th", { scope: "row" }, t(`f_${key}`, { s: sl })),
            channels.map(([ch, c]) => h("td", { class: "num", dataset: { metric: key, channel: ch } }, String(value(c)))),
          ),
        ),
      ),
    ),
  ];
}
