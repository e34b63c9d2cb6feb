// Linje agent page: the signed-in agent's answered contacts without a registration,
// and the form of the contact's channel and version. Keyboard only: every control is a
// native button, radio, checkbox or number field in document order; Enter submits.
const TEXT = {
  en: {
    title: "Register contacts", signInTitle: "Sign in", tokenLabel: "Agent token", signIn: "Sign in",
    signInIntro: "Sign in with your agent token to register what your answered calls and chats were about.",
    signOut: "Sign out", todoTitle: "Your contacts to register", save: "Register", cancel: "Cancel",
    empty: "Nothing to register: every contact you answered has its registration.",
    phone: "Phone", chat: "Chat", answered: "answered", required: "required",
    badToken: "That token was not accepted.", saved: "Registered: {id}.", noForm: "No form for this contact.",
    about: "{channel} contact answered {when}. Form version {version}.", failed: "Not registered: {why}",
  },
  nb: {
    title: "Registrer henvendelser", signInTitle: "Logg inn", tokenLabel: "Agentnøkkel", signIn: "Logg inn",
    signInIntro: "Logg inn med agentnøkkelen din for å registrere hva samtalene og chattene du besvarte handlet om.",
    signOut: "Logg ut", todoTitle: "Dine henvendelser å registrere", save: "Registrer", cancel: "Avbryt",
    empty: "Ingenting å registrere: alle henvendelsene du besvarte er registrert.",
    phone: "Telefon", chat: "Chat", answered: "besvart", required: "må fylles ut",
    badToken: "Nøkkelen ble ikke godtatt.", saved: "Registrert: {id}.", noForm: "Ingen skjema for denne henvendelsen.",
    about: "{channel}henvendelse besvart {when}. Skjemaversjon {version}.", failed: "Ikke registrert: {why}",
  },
};
const KEY = "linje-agent-token";
let lang = localStorage.getItem("linje-lang") === "nb" ? "nb" : "en";
let token = sessionStorage.getItem(KEY) || "";
let forms = [];
let current = null;
const $ = (id) => document.getElementById(id);
const t = (key, vars = {}) => TEXT[lang][key].replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  node.append(...kids);
  return node;
}

async function api(path, options = {}) {
  const resp = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(body.detail || resp.statusText), { status: resp.status });
  return body;
}

function applyLang() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  if (token) { renderTodo(lastTodo); if (current) renderForm(current, false); }
}

const when = (iso) => new Date(iso).toLocaleString(lang === "nb" ? "nb-NO" : "en-GB",
  { timeZone: "Europe/Oslo", dateStyle: "medium", timeStyle: "short" });
let lastTodo = [];

function renderTodo(items) {
  lastTodo = items;
  const list = $("todo");
  list.replaceChildren(...items.map((c) => el("li", {}, el("button", {
    type: "button", "data-contact": c.contact_id, text: "",
  }, el("span", { text: `${t(c.channel)} · ${c.contact_id}` }), el("span", { text: `${t("answered")} ${when(c.answered_at)}` })))));
  for (const b of list.querySelectorAll("button")) {
    b.addEventListener("click", () => renderForm(items.find((c) => c.contact_id === b.dataset.contact), true));
  }
  $("empty").hidden = items.length > 0;
}

function renderForm(contact, focus) {
  current = contact;
  const form = forms.find((f) => f.id === contact.form);
  const version = form && form.versions[contact.version - 1];
  $("form-error").textContent = "";
  if (!version) { $("status").textContent = t("noForm"); return; }
  $("form-title").textContent = `${form[lang]} · ${contact.contact_id}`;
  $("form-about").textContent = t("about", { channel: t(contact.channel), when: when(contact.answered_at), version: version.version });
  const fields = Object.entries(version.fields).map(([name, f]) => {
    const legend = el("legend", { text: f[lang] });
    if (f.required) legend.append(" ", el("span", { class: "req", text: `(${t("required")})` }));
    const set = el("fieldset", { "data-field": name, "data-kind": f.kind }, legend);
    if (f.kind === "integer") {
      set.append(el("input", { type: "number", name, min: String(f.min), max: String(f.max), "aria-label": f[lang] }));
      return set;
    }
    const opts = el("div", { class: "opts" });
    for (const o of f.options) {
      const input = el("input", { type: f.kind === "single" ? "radio" : "checkbox", name, value: o.code });
      opts.append(el("label", {}, input, el("span", { text: o[lang] })));
    }
    set.append(opts);
    return set;
  });
  $("fields").replaceChildren(...fields);
  $("form").hidden = false;
  if (focus) $("fields").querySelector("input")?.focus();
}

function answers() {
  const out = {};
  for (const set of $("fields").querySelectorAll("fieldset")) {
    const name = set.dataset.field;
    if (set.dataset.kind === "integer") {
      const v = set.querySelector("input").value;
      if (v !== "") out[name] = Number(v);
    } else if (set.dataset.kind === "single") {
      const v = set.querySelector("input:checked");
      if (v) out[name] = v.value;
    } else {
      out[name] = [...set.querySelectorAll("input:checked")].map((i) => i.value);
    }
  }
  return out;
}

function eventId(contactId) {
  const letters = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => "abcdefghijklmnopqrstuvwxyz"[b % 26]).join("");
  return `reg-${contactId}-${letters}`.slice(0, 80);
}

async function refresh() {
  const body = await api("/v1/agent/contacts");
  $("agent").textContent = `(${body.agent})`;
  renderTodo(body.contacts);
}

async function signIn() {
  try {
    forms = (await api("/v1/agent/forms")).forms;
    await refresh();
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      token = ""; sessionStorage.removeItem(KEY);
      $("signin-error").textContent = t("badToken");
      $("signin").hidden = false; $("work").hidden = true; $("signout").hidden = true;
      $("token").focus();
      return;
    }
    throw err;
  }
  sessionStorage.setItem(KEY, token);
  $("signin").hidden = true; $("work").hidden = false; $("signout").hidden = false;
  $("signin-error").textContent = "";
  ($("todo").querySelector("button") || $("main")).focus();
}

async function save() {
  const c = current;
  try {
    await api("/v1/agent/registrations", {
      method: "POST",
      body: JSON.stringify({ event_id: eventId(c.contact_id), contact_id: c.contact_id, form: c.form, version: c.version, answers: answers() }),
    });
  } catch (err) {
    $("form-error").textContent = t("failed", { why: err.message });
    return;
  }
  current = null;
  $("form").hidden = true;
  $("status").textContent = t("saved", { id: c.contact_id });
  await refresh();
  ($("todo").querySelector("button") || $("main")).focus();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => { lang = b.dataset.lang; localStorage.setItem("linje-lang", lang); applyLang(); });
  }
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); token = $("token").value.trim(); $("token").value = ""; signIn(); });
  $("form").addEventListener("submit", (e) => { e.preventDefault(); save(); });
  $("cancel").addEventListener("click", () => { current = null; $("form").hidden = true; ($("todo").querySelector("button") || $("main")).focus(); });
  $("signout").addEventListener("click", () => {
    token = ""; sessionStorage.removeItem(KEY); current = null;
    $("work").hidden = true; $("form").hidden = true; $("signin").hidden = false; $("signout").hidden = true; $("token").focus();
  });
  applyLang();
  if (token) signIn(); else $("token").focus();
});
