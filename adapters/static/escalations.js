// Open escalations (duty to avert) as banners above the dashboard, from `state.escalations`.
//
// An escalation nobody has acknowledged is an alarm banner (`.escalation.urgent`)
// with an Acknowledge button; once acknowledged it stays as a card (`.in-progress`)
// with the handbook's checklist and a close, until the last required step is
// ticked or it is closed with a reason. Labels of flag kinds, levels, steps and
// reasons come from the helpline's configuration (GET /ui/helplines.json); until
// they arrive the codes are shown. Only codes and staff ids are ever displayed.

import { clockTime, duration, teamName } from "./format.js";
import { h } from "./dom.js";
import { label, language, t } from "./i18n.js";

/** The configured words for a code, in the page's language, else the code. */
function words(item, code) {
  if (!item) return code;
  return item[language()] || item.en || code;
}

function byCode(list, code) {
  return (list || []).find((x) => x.code === code);
}

function hold(e, tz, now) {
  if (!e.legal_hold) return null;
  const vendor = t(e.channel === "phone" ? "escCarrier" : "escChatVendor");
  const asked = t("escHoldAsked", { vendor, time: clockTime(e.legal_hold.requested_at, tz, { today: now }) });
  const answer = e.legal_hold.acknowledged_at
    ? t("escHoldConfirmed", { time: clockTime(e.legal_hold.acknowledged_at, tz, { today: now }) })
    : t("escHoldPending");
  return h("p", { class: "esc-hold" }, `${asked} ${answer}`);
}

function checklist(e, cfg, ctx) {
  if (!e.checklist.length) return null;
  return h(
    "fieldset",
    { class: "esc-steps" },
    h("legend", {}, t("escChecklist")),
    h(
      "ul",
      {},
      e.checklist.map((s) => {
        const id = `step-${e.escalation_id}-${s.step}`;
        const busy = ctx.busy.has(`${e.escalation_id}:${s.step}`);
        return h(
          "li",
          { class: s.ticked_by ? "ticked" : null },
          h("input", {
            type: "checkbox",
            id,
            checked: Boolean(s.ticked_by),
            disabled: Boolean(s.ticked_by) || busy,
            dataset: { key: `tick:${e.escalation_id}:${s.step}`, step: s.step },
            onchange: () => ctx.onTick(e.escalation_id, s.step),
          }),
          " ",
          h("label", { for: id }, words(byCode(cfg.checklist, s.step), s.step), s.required ? "" : ` (${t("escOptional")})`),
          s.ticked_by
            ? h("span", { class: "muted small" }, ` ${t("escTickedBy", { who: s.ticked_by, time: clockTime(s.ticked_at, ctx.tz) })}`)
            : null,
        );
      }),
    ),
  );
}

function closeForm(e, cfg, ctx) {
  const id = `reason-${e.escalation_id}`;
  const select = h(
    "select",
    { id, dataset: { key: `reason:${e.escalation_id}` } },
    (cfg.close_reasons || []).map((r) => h("option", { value: r.code }, words(r, r.code))),
  );
  return h(
    "div",
    { class: "esc-close" },
    h("label", { for: id }, t("escCloseReason")),
    " ",
    select,
    " ",
    h(
      "button",
      {
        type: "button",
        class: "esc-close-button",
        disabled: ctx.busy.has(`${e.escalation_id}:close`),
        dataset: { key: `close:${e.escalation_id}` },
        onclick: () => ctx.onClose(e.escalation_id, select.value),
      },
      t("escClose"),
    ),
  );
}

function banner(e, ctx) {
  const { tz, now, acking, errors } = ctx;
  const cfg = ctx.config || {};
  const urgent = !e.acknowledged_by;
  const flag = cfg.flags?.[e.flag];
  const category = e.category ? words(byCode(flag?.categories, e.category), e.category) : null;
  const level = cfg.chain?.[e.level - 1];
  const levelTeams = e.alerted.length ? e.alerted[e.alerted.length - 1].to.map(teamName).join(", ") : "";
  const mine = ctx.you?.team && e.alerted.length && e.alerted[e.alerted.length - 1].to.includes(ctx.you.team);
  let action;
  if (urgent) {
    const busy = acking.has(e.alert_id);
    action = h(
      "button",
      {
        type: "button",
        class: "ack esc-ack",
        // aria-disabled, not disabled: a disabled button drops the keyboard focus, which
        // must pass on to the first step once the acknowledgement shows.
        "aria-disabled": busy ? "true" : null,
        dataset: { key: `esc-ack:${e.escalation_id}`, focusNext: `tick:${e.escalation_id}:${e.checklist[0]?.step}` },
        onclick: () => (busy ? null : ctx.onAck(e.alert_id)),
      },
      busy ? t("acknowledging") : t("acknowledge"),
    );
  } else {
    action = h("p", { class: "acked" }, t("acknowledgedBy", { who: e.acknowledged_by, time: clockTime(e.acknowledged_at, tz) }));
  }
  const error = errors.get(e.escalation_id);
  return h(
    "article",
    {
      class: `escalation ${urgent ? "urgent" : "in-progress"}`,
      dataset: { escalation: e.escalation_id, key: `esc:${e.escalation_id}` },
      "aria-labelledby": `esc-title-${e.escalation_id}`,
      tabindex: "-1",
    },
    h(
      "h3",
      { id: `esc-title-${e.escalation_id}` },
      urgent ? "⚠ " : "",
      words(flag, e.flag),
      category ? ` · ${category}` : "",
      h("span", { class: "esc-level" }, ` ${t("escLevel", { n: e.level, of: e.levels })}`),
    ),
    h(
      "p",
      { class: "esc-facts" },
      t("escFacts", {
        channel: label("ch_", e.channel),
        contact: e.contact_id,
        queue: label("ch_", e.queue),
        team: teamName(e.team),
        agent: e.agent_id || t("escNoAgent"),
      }),
      " ",
      t("escRaised"),
      " ",
      h("span", { class: "tick", dataset: { since: String(e.raised_at) } }, duration(now - e.raised_at)),
      " ",
      t("escAgo"),
    ),
    h(
      "p",
      { class: "esc-who" },
      t("escAlerted", { level: words(level, `${e.level}`), teams: levelTeams }),
      e.on_duty !== e.team ? ` ${t("escOnDuty", { team: teamName(e.on_duty) })}` : "",
      mine ? h("strong", { class: "esc-mine" }, ` ${t("escYourTeam")}`) : null,
    ),
    hold(e, tz, now),
    h("div", { class: "alert-action" }, action),
    checklist(e, cfg, ctx),
    closeForm(e, cfg, ctx),
    error ? h("p", { class: "error", role: "alert" }, t("escFailed", { detail: error })) : null,
  );
}

/** Every open escalation, unacknowledged first, oldest first. */
export function renderEscalations(state, ctx) {
  const list = [...(state.escalations || [])].sort(
    (a, b) => Number(Boolean(a.acknowledged_by)) - Number(Boolean(b.acknowledged_by)) || a.raised_at - b.raised_at,
  );
  return list.map((e) => banner(e, ctx));
}
