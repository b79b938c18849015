// SamaConso agency console: a small single-page app over /api/v1 (no build step, no CDN).
// The staff bearer token lives in sessionStorage (gone with the tab); no cookie, so no CSRF surface.
// Every text from the server is put in the page as text nodes (no HTML parsing of server data).
import { t, lang, setLang } from "./i18n.js";
import { barChart, rateBar } from "./charts.js";

const API = "/api/v1";
const IDLE_MS = Number(document.documentElement.dataset.idleMs || 15 * 60 * 1000);
const main = document.getElementById("main");
const flashBox = document.getElementById("flash");
let me = null;
let idleTimer = null;

// ---- small helpers --------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function flash(text, kind = "ok") {
  flashBox.replaceChildren(h("p", { class: `flash ${kind}` }, text));
}

// Replace the page's content (null / false children, e.g. a section that does not apply, are skipped).
function show(...nodes) {
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

// A message to show once the page we are navigating to is drawn (navigation clears messages).
let pending = null;
function flashNext(text, kind = "ok") { pending = [text, kind]; }

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(lang() === "en" ? "en-GB" : "fr-FR", { timeZone: "UTC" }) + " UTC";
}

function money(n) {
  return Number(n).toLocaleString(lang() === "en" ? "en-GB" : "fr-FR", { maximumFractionDigits: 2 });
}

function kwh(n) {
  return Number(n).toLocaleString(lang() === "en" ? "en-GB" : "fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

function day(iso) {
  return iso ? new Date(iso).toLocaleDateString(lang() === "en" ? "en-GB" : "fr-FR", { timeZone: "UTC" }) : "";
}

class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.body = body || {};
  }
}

// The access token lives 15 minutes; while the agent works, the session's refresh token gets a new
// one (once per call). An idle or closed session is refused by the API, and the console signs out.
let refreshing = null;
let lastApiCall = Date.now();
async function refreshTokens() {
  const refresh = sessionStorage.getItem("sc.refresh");
  if (!refresh) return false;
  refreshing = refreshing || fetch(`${API}/auth/refresh`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  }).then(async (res) => {
    if (!res.ok) return false;
    const pair = await res.json();
    sessionStorage.setItem("sc.token", pair.access_token);
    sessionStorage.setItem("sc.refresh", pair.refresh_token);
    return true;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

async function api(method, path, body, retried = false) {
  const headers = { "Accept-Language": lang(), Accept: "application/json" };
  const token = sessionStorage.getItem("sc.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  lastApiCall = Date.now();
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && token) {
    if (!retried && data && data.code === "token_expired" && (await refreshTokens())) return api(method, path, body, true);
    endSession("expired");
    throw new Problem(401, data);
  }
  if (!res.ok) throw new Problem(res.status, data);
  return data;
}

function withCursor(path, cursor) {
  return cursor ? `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}` : path;
}

// Every item of a list, page after page (choices: agencies, colleagues, request types, tariffs).
async function allPages(path, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const page = await api("GET", withCursor(path, cursor));
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { items };
}

// A table of a paged list: its first page, then "Show more" appends the next one (by cursor).
async function pagedTable(path, headers, toRow, { id, empty } = {}) {
  const box = h("div", { id, class: "paged" });
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "more" }, t("more"));
  let cursor = null;
  const load = async () => {
    const page = await api("GET", withCursor(path, cursor));
    const rows = page.items.map((x) => h("tr", {}, toRow(x).map((c) => h("td", {}, c))));
    tbody.append(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    return rows;
  };
  const first = await load();
  if (!first.length) { box.append(h("p", { class: "muted" }, empty || t("none"))); return box; }
  more.addEventListener("click", () => guarded(async () => {
    const rows = await load();
    const target = rows[0] && rows[0].querySelector("a, button");
    if (target) target.focus(); // keyboard: carry on from the first new row
  }));
  box.append(h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), tbody), more);
  return box;
}

async function guarded(fn) {
  try {
    return await fn();
  } catch (err) {
    flash(`${t("error")} : ${err.message}`, "error");
    return undefined;
  }
}

function confirmDialog(message) {
  // A modal <dialog> (keyboard: Tab between buttons, Escape cancels).
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: "primary", id: "confirm-ok" }, t("confirm"));
    const no = h("button", { type: "button", id: "confirm-cancel" }, t("cancel"));
    const dlg = h("dialog", { class: "confirm", "aria-label": t("confirm") }, h("p", {}, message), h("div", { class: "row" }, ok, no));
    const done = (value) => { dlg.close(); dlg.remove(); resolve(value); };
    ok.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}

function table(headers, rows, caption) {
  if (!rows.length) return h("p", { class: "muted" }, t("none"));
  return h("table", {}, caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

function section(title, ...content) {
  return h("section", { class: "card" }, h("h2", {}, title), ...content);
}

// ---- session ---------------------------------------------------------------------------------
function resetIdle() {
  clearTimeout(idleTimer);
  if (!sessionStorage.getItem("sc.token")) return;
  idleTimer = setTimeout(() => endSession("idle"), IDLE_MS);
  // The API ends a staff session unused for the same time: an agent who types a long answer
  // without calling it is active all the same, so tell it now and then (at most every half period).
  if (me && Date.now() - lastApiCall > IDLE_MS / 2) {
    lastApiCall = Date.now();
    api("GET", "/me").catch(() => {});
  }
}

async function endSession(reason) {
  const token = sessionStorage.getItem("sc.token");
  sessionStorage.removeItem("sc.token");
  sessionStorage.removeItem("sc.refresh");
  me = null;
  clearTimeout(idleTimer);
  if (token && reason !== "expired") {
    fetch(`${API}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
  if (reason === "idle") flashNext(t("idleOut"), "error");
  if (reason === "expired") flashNext(t("expired"), "error");
  if (location.hash === "#/login") render();
  else location.hash = "#/login";
}

["click", "keydown", "mousemove"].forEach((e) => document.addEventListener(e, resetIdle, { passive: true }));

function chrome() {
  const top = document.getElementById("top");
  top.hidden = !me;
  document.title = `SamaConso — ${t("title")}`;
  document.getElementById("lang-switch").textContent = lang() === "en" ? "Français" : "English";
  document.getElementById("sign-out").textContent = t("signOut");
  document.getElementById("password-link").textContent = t("changePassword");
  if (!me) return;
  document.getElementById("who").textContent = `${me.first_name} ${me.last_name} (${me.login})`;
  const links = [["#/customers", t("customers")], ["#/requests", t("requests")], ["#/notifications", t("notifications")], ["#/dashboard", t("dashboard")]];
  if (me.role === "admin") links.push(["#/admin/staff", t("staff")], ["#/admin/agencies", t("agencies")], ["#/admin/request-types", t("requestTypes")], ["#/admin/tariffs", t("tariffs")], ["#/admin/audit", t("audit")]);
  const here = location.hash.split("?")[0];
  document.getElementById("nav").replaceChildren(...links.map(([href, label]) =>
    h("a", { href, "aria-current": here.startsWith(href) ? "page" : null }, label)));
}

document.getElementById("lang-switch").addEventListener("click", () => { setLang(lang() === "en" ? "fr" : "en"); flashBox.replaceChildren(); render(); });
document.getElementById("sign-out").addEventListener("click", () => endSession("user"));
document.getElementById("password-link").addEventListener("click", () => { location.hash = "#/password"; });

// ---- pages -----------------------------------------------------------------------------------
function loginPage() {
  const login = h("input", { id: "login", name: "login", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    await guarded(async () => {
      const pair = await api("POST", "/auth/staff/login", { login: login.value, password: password.value });
      sessionStorage.setItem("sc.token", pair.access_token);
      sessionStorage.setItem("sc.refresh", pair.refresh_token);
      me = await api("GET", "/me");
      if (me.role !== "agent" && me.role !== "admin") { await endSession("user"); throw new Error(t("notAllowed")); }
      flashBox.replaceChildren();
      resetIdle();
      if (pair.password_change_required) { flashNext(t("mustChangePassword"), "error"); location.hash = "#/password"; return; }
      location.hash = "#/customers";
    });
  } },
  h("h1", {}, `SamaConso — ${t("title")}`),
  h("label", { for: "login" }, t("login")), login,
  h("label", { for: "password" }, t("password")), password,
  h("button", { type: "submit", class: "primary" }, t("signInBtn")));
  show(form);
  login.focus();
}

function passwordPage() {
  const cur = h("input", { id: "current-password", type: "password", autocomplete: "current-password", required: true });
  const nxt = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 12 });
  show(h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    await guarded(async () => {
      await api("PUT", "/me/password", { current_password: cur.value, new_password: nxt.value });
      cur.value = ""; nxt.value = "";
      flash(t("passwordChanged"));
    });
  } }, h("h1", {}, t("changePassword")),
  h("label", { for: "current-password" }, t("currentPassword")), cur,
  h("label", { for: "new-password" }, t("newPassword")), nxt,
  h("button", { type: "submit", class: "primary" }, t("save"))));
}

function customersPage(params) {
  const q = h("input", { id: "q", name: "q", type: "search", value: params.get("q") || "", required: true, minlength: 2 });
  const results = h("div", { id: "results" });
  const form = h("form", { class: "card row", role: "search", onsubmit: (e) => { e.preventDefault(); location.hash = `#/customers?q=${encodeURIComponent(q.value)}`; } },
    h("label", { for: "q" }, t("searchLabel")), q, h("button", { type: "submit", class: "primary" }, t("search")));
  show(h("h1", {}, t("customers")), form, results);
  q.focus();
  if (!params.get("q")) return;
  guarded(async () => {
    const list = await pagedTable(`/staff/customers?q=${encodeURIComponent(params.get("q"))}&limit=25`,
      [t("name"), t("phone"), t("status"), t("since"), ""], (c) => [
        `${c.first_name} ${c.last_name}`, c.phone || "", c.locked ? t("locked") : c.is_active ? t("active") : t("inactive"),
        day(c.created_at), h("a", { href: `#/customer/${c.id}`, "aria-label": `${t("open")} ${c.first_name} ${c.last_name}` }, t("open"))],
      { empty: t("noResult") });
    results.replaceChildren(list);
  });
}

async function customerPage(id) {
  show(h("p", {}, t("loading")));
  const c = await guarded(() => api("GET", `/staff/customers/${id}`));
  if (!c) { show(); return; }
  const p = c.customer;
  const actions = h("div", { class: "row" },
    h("button", { type: "button", id: "unlock", onclick: () => guarded(async () => {
      if (!(await confirmDialog(t("unlock") + " ?"))) return;
      await api("POST", `/staff/customers/${id}/unlock`); flash(t("unlocked"));
    }) }, t("unlock")),
    h("button", { type: "button", id: "pin-code", onclick: () => guarded(async () => {
      if (!(await confirmDialog(t("pinCode") + " ?"))) return;
      await api("POST", `/staff/customers/${id}/pin-reset-code`); flash(t("pinSent"));
    }) }, t("pinCode")));
  const meterBox = h("div", { id: "meter-detail" });
  const meters = c.meters.map((m) => h("article", { class: "meter" },
    h("h3", {}, `${m.kind === "prepaid" ? t("prepaid") : t("postpaid")} ${m.number}`),
    h("p", {}, `${t("holder")} : ${m.customer_name || ""} · ${t("address")} : ${m.address || ""} · ${t("agency")} : ${m.agency || ""}`),
    h("p", {}, `${t("people")} : `, m.people.map((x) => `${x.first_name} ${x.last_name} ${x.phone || ""} (${x.is_owner ? t("owner") : t("sharer")}, ${t(`ls_${x.status}`)})`).join(" · ")),
    h("button", { type: "button", onclick: () => (m.kind === "prepaid" ? showPurchases(id, m, meterBox, p) : showBills(id, m, meterBox)) },
      m.kind === "prepaid" ? t("showPurchases") : t("showBills"))));
  show(
    h("h1", {}, `${p.first_name} ${p.last_name}`),
    section(t("profile"),
      h("dl", {}, h("dt", {}, t("phone")), h("dd", {}, p.phone || ""), h("dt", {}, t("status")),
        h("dd", {}, p.locked ? t("locked") : p.is_active ? t("active") : t("inactive")),
        h("dt", {}, t("language")), h("dd", {}, t(`lang_${c.language}`)), h("dt", {}, t("email")), h("dd", {}, c.email || ""),
        h("dt", {}, t("since")), h("dd", {}, day(p.created_at))), actions),
    section(t("meters"), meters.length ? meters : h("p", { class: "muted" }, t("none")), meterBox),
    section(t("devices"), table([t("model"), t("platform"), t("status"), t("lastSeen")], c.devices.map((d) => [d.model || "—", d.platform || "—", d.is_active ? t("active") : t("inactive"), when(d.last_seen_at)]))),
    section(t("requests"), table([t("type"), t("status"), t("createdAt"), t("due"), ""], c.requests.map((r) => [r.type, t(`st_${r.status}`), when(r.created_at), when(r.due_at), h("a", { href: `#/request/${r.id}` }, t("open"))])),
      await onBehalfForm(id, c.meters)),
    section(t("receivedNotifications"), table([t("date"), t("type"), t("titleNotif"), t("message")], c.notifications.map((n) => [when(n.created_at), t(`nt_${n.type}`), n.title, n.body]))),
  );
}

async function onBehalfForm(customerId, meters) {
  const types = (await guarded(() => allPages("/request-types?limit=100"))) || { items: [] };
  const type = h("select", { id: "ob-type", required: true }, types.items.map((x) => h("option", { value: x.code }, x.label)));
  const meter = h("select", { id: "ob-meter" }, h("option", { value: "" }, "—"), meters.map((m) => h("option", { value: m.id }, `${m.kind === "prepaid" ? t("prepaid") : t("postpaid")} ${m.number}`)));
  const comment = h("textarea", { id: "ob-comment", rows: 3, minlength: 3, maxlength: 4000, required: true });
  const file = h("input", { id: "ob-file", type: "file", accept: "application/pdf,image/jpeg,image/png" });
  return h("form", { class: "card", id: "on-behalf", onsubmit: async (e) => {
    e.preventDefault();
    await guarded(async () => {
      const attachments = [];
      if (file.files.length) {
        const form = new FormData();
        form.append("file", file.files[0]);
        const res = await fetch(`${API}/files`, { method: "POST", body: form, headers: { Authorization: `Bearer ${sessionStorage.getItem("sc.token")}`, "Accept-Language": lang() } });
        const data = await res.json().catch(() => null);
        if (!res.ok) throw new Problem(res.status, data);
        attachments.push(data.id);
      }
      const r = await api("POST", `/staff/customers/${customerId}/requests`, { type: type.value, meter_id: meter.value || null, comment: comment.value, attachments });
      flashNext(t("filed"));
      location.hash = `#/request/${r.id}`;
    });
  } }, h("h3", {}, t("fileRequest")), h("label", { for: "ob-type" }, t("type")), type, h("label", { for: "ob-meter" }, t("meters")), meter,
  h("label", { for: "ob-comment" }, t("comment")), comment, h("label", { for: "ob-file" }, t("attachment")), file,
  h("button", { type: "submit" }, t("fileRequest")));
}

async function showPurchases(customerId, meter, box, person) {
  box.replaceChildren(h("p", {}, t("loading")));
  const list = await guarded(() => pagedTable(`/staff/customers/${customerId}/meters/${meter.id}/purchases?limit=10`,
    [t("date"), t("number"), t("amount"), t("kwh"), t("tokens"), ""], (x) => [when(x.date), x.order_number || "", money(x.amount), kwh(x.kwh),
      h("code", { class: "token" }, x.tokens.join(" / ")),
      x.order_number && x.tokens.length ? h("button", { type: "button", "data-order": x.order_number, onclick: () => guarded(async () => {
        if (!(await confirmDialog(t("resendConfirm", { n: x.order_number, p: person.phone })))) return;
        const r = await api("POST", `/staff/customers/${customerId}/meters/${meter.id}/purchases/${encodeURIComponent(x.order_number)}/resend-token`);
        flash(t("resent", { n: r.order_number, p: r.sent_to }));
      }) }, t("resend")) : ""], { id: "purchases" }));
  if (!list) { box.replaceChildren(); return; }
  box.replaceChildren(h("h3", {}, `${t("purchases")} — ${meter.number}`), list);
}

async function showBills(customerId, meter, box) {
  box.replaceChildren(h("p", {}, t("loading")));
  const list = await guarded(() => pagedTable(`/staff/customers/${customerId}/meters/${meter.id}/bills?limit=20`,
    [t("date"), t("number"), t("kwh"), t("amount"), t("due")],
    (b) => [day(b.date), b.number, kwh(b.kwh), money(b.amount), day(b.due_date)], { id: "bills" }));
  if (!list) { box.replaceChildren(); return; }
  box.replaceChildren(h("h3", {}, `${t("bills")} — ${meter.number}`), list);
}

async function requestsPage(params) {
  const [types, people] = await Promise.all([
    guarded(() => allPages("/request-types?limit=100")), guarded(() => allPages("/staff/colleagues?limit=100"))]);
  const names = Object.fromEntries(((people && people.items) || []).map((p) => [p.id, `${p.first_name} ${p.last_name}`]));
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, t("all")),
    ["submitted", "in_progress", "resolved", "rejected", "cancelled"].map((s) => h("option", { value: s, selected: params.get("status") === s }, t(`st_${s}`))));
  const type = h("select", { id: "f-type", name: "type" }, h("option", { value: "" }, t("all")),
    ((types && types.items) || []).map((x) => h("option", { value: x.code, selected: params.get("type") === x.code }, x.label)));
  const assignee = h("select", { id: "f-assignee", name: "assignee" }, h("option", { value: "" }, t("all")),
    h("option", { value: "me", selected: params.get("assignee") === "me" }, t("me")),
    h("option", { value: "none", selected: params.get("assignee") === "none" }, t("nobody")),
    ((people && people.items) || []).filter((p) => p.id !== me.id).map((p) => h("option", { value: p.id, selected: params.get("assignee") === p.id }, `${p.first_name} ${p.last_name}`)));
  const overdue = h("input", { id: "f-overdue", type: "checkbox", checked: params.get("overdue") === "true" });
  const list = h("div", { id: "queue" });
  show(h("h1", {}, t("queue")),
    h("form", { class: "card row", onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams();
      if (status.value) q.set("status", status.value);
      if (type.value) q.set("type", type.value);
      if (assignee.value) q.set("assignee", assignee.value);
      if (overdue.checked) q.set("overdue", "true");
      location.hash = `#/requests?${q}`;
    } }, h("label", { for: "f-status" }, t("status")), status, h("label", { for: "f-type" }, t("type")), type,
    h("label", { for: "f-assignee" }, t("assignee")), assignee,
    h("label", { for: "f-overdue" }, overdue, t("onlyOverdue")), h("button", { type: "submit" }, t("filter"))), list);
  await guarded(async () => {
    const q = new URLSearchParams({ limit: "25" });
    for (const k of ["status", "type", "assignee"]) if (params.get(k)) q.set(k, params.get(k));
    if (params.get("overdue")) q.set("overdue", "true");
    list.replaceChildren(await pagedTable(`/requests?${q}`, [t("reference"), t("type"), t("status"), t("createdAt"), t("age"), t("overdue"), t("assignee"), ""], (r) => [
      r.reference || "", r.type.label, t(`st_${r.status}`), when(r.created_at), r.age_hours.toLocaleString(lang() === "en" ? "en-GB" : "fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 1 }), r.overdue ? "⚠ " + t("overdue") : "",
      r.assigned_to ? (r.assigned_to === me.id ? t("me") : names[r.assigned_to] || t("colleague")) : t("nobody"),
      h("a", { href: `#/request/${r.id}` }, t("open"))], { empty: t("emptyQueue") }));
  });
}

async function requestPage(id) {
  const r = await guarded(() => api("GET", `/requests/${id}`));
  if (!r) return;
  const comment = h("textarea", { id: "reply", rows: 3, maxlength: 2000 });
  const canned = h("select", { id: "canned", onchange: () => { if (canned.value) comment.value = t(canned.value); } },
    h("option", { value: "" }, "—"), ["canned1", "canned2", "canned3"].map((k) => h("option", { value: k }, t(k).slice(0, 60))));
  const patch = (body) => guarded(async () => {
    await api("PATCH", `/requests/${id}`, body); await requestPage(id);
    flash(body.status ? t("requestNowStatus", { s: t(`st_${body.status}`) }) : body.assign_to_me ? t("taken") : t("replySent"));
  });
  const withComment = (body) => (comment.value.trim() ? { ...body, comment: comment.value.trim() } : body);
  const open = r.status === "submitted" || r.status === "in_progress";
  let routing = null;
  const [people, agencies] = await Promise.all([
    guarded(() => allPages(`/staff/colleagues?limit=100${me.role === "admin" && r.agency_id ? `&agency_id=${r.agency_id}` : ""}`)),
    open ? guarded(() => allPages("/agencies?limit=100")) : null]);
  const names = Object.fromEntries(((people && people.items) || []).map((p) => [p.id, `${p.first_name} ${p.last_name}`]));
  const assignee = r.assigned_to ? (r.assigned_to === me.id ? t("me") : names[r.assigned_to] || t("colleague")) : t("nobody");
  if (open) {
    const who = h("select", { id: "assign-to" }, (people ? people.items : []).map((p) => h("option", { value: p.id, selected: p.id === r.assigned_to }, `${p.first_name} ${p.last_name} (${p.login})`)));
    const where = h("select", { id: "transfer-to" }, (agencies ? agencies.items : []).filter((a) => a.id !== r.agency_id && a.is_active).map((a) => h("option", { value: a.id }, a.name)));
    routing = section(t("routing"),
      h("div", { class: "row" }, h("label", { for: "assign-to" }, t("assignTo")), who,
        h("button", { type: "button", id: "assign", onclick: () => guarded(async () => { await api("POST", `/requests/${id}/assignment`, { assignee_id: who.value }); await requestPage(id); flash(t("assigned")); }) }, t("assign"))),
      h("div", { class: "row" }, h("label", { for: "transfer-to" }, t("transferTo")), where,
        h("button", { type: "button", id: "transfer", onclick: () => guarded(async () => {
          if (!(await confirmDialog(t("transferConfirm", { a: where.selectedOptions[0]?.textContent || "" })))) return;
          await api("POST", `/requests/${id}/transfer`, { agency_id: where.value }); flashNext(t("transferred")); location.hash = "#/requests";
        }) }, t("transfer"))));
  }
  show(
    h("h1", {}, `${r.type.label} ${r.reference} — `, h("span", { id: "request-status" }, t(`st_${r.status}`))),
    section(t("customer"), h("p", {}, `${r.requester.first_name} ${r.requester.last_name} ${r.requester.phone || ""} `,
      h("a", { href: `#/customer/${r.requester.id}` }, t("open"))), h("p", { class: "quote" }, r.comment),
      h("p", {}, `${t("createdAt")} ${when(r.created_at)} · ${t("due")} ${when(r.due_at)}${r.overdue ? " · ⚠ " + t("overdue") : ""} · ${t("assignee")} : ${assignee}`)),
    open ? section(t("reply"),
      h("div", { class: "row" }, h("button", { type: "button", id: "take", onclick: () => patch({ assign_to_me: true, status: r.status === "submitted" ? "in_progress" : undefined }) }, t("takeIt"))),
      h("label", { for: "canned" }, t("canned")), canned, h("label", { for: "reply" }, t("comment")), comment,
      h("div", { class: "row" },
        h("button", { type: "button", id: "send-reply", onclick: () => comment.value.trim() && patch({ comment: comment.value.trim() }) }, t("send")),
        h("button", { type: "button", id: "resolve", class: "primary", onclick: () => patch(withComment({ status: "resolved" })) }, t("resolve")),
        h("button", { type: "button", id: "reject", onclick: () => patch(withComment({ status: "rejected" })) }, t("reject")))) : null,
    routing,
    section(t("history"), ...requestTimeline(id, r)));
}

// The detail carries the newest events; older ones are paged in from /requests/{id}/timeline.
function requestTimeline(id, r) {
  const cells = (e) => (e.kind === "comment" ? [when(e.at), t(`by_${e.by}`), e.body]
    : [when(e.at), `${e.from_status ? t(`st_${e.from_status}`) + " → " : ""}${t(`st_${e.to_status}`)} (${t(`by_${e.by}`)})`, e.body || ""]);
  const row = (e) => h("tr", {}, cells(e).map((c) => h("td", {}, c)));
  const events = [...r.history.map((e) => ({ ...e, kind: "status", body: e.comment })), ...r.comments.map((c) => ({ ...c, kind: "comment" }))]
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  const body = h("tbody", { id: "timeline" }, events.map(row));
  let older = r.older_events_cursor;
  const more = h("button", { type: "button", id: "older-events", hidden: !older, onclick: () => guarded(async () => {
    const page = await api("GET", `/requests/${id}/timeline?limit=50&cursor=${encodeURIComponent(older)}`);
    page.items.forEach((e) => body.append(row(e)));
    older = page.next_cursor;
    more.hidden = !older;
  }) }, t("olderEvents"));
  return [h("table", {}, h("thead", {}, h("tr", {}, [t("date"), t("status"), t("message")].map((x) => h("th", { scope: "col" }, x)))), body), more];
}

async function notificationsPage() {
  const admin = me.role === "admin";
  const agencies = admin ? ((await guarded(() => allPages("/agencies?limit=100"))) || { items: [] }).items.filter((a) => a.is_active) : [];
  const zone = h("select", { id: "n-agencies", multiple: true, size: 4, hidden: !admin }, agencies.map((a) => h("option", { value: a.id }, a.name)));
  const target = h("select", { id: "n-target" }, h("option", { value: "agency" }, t(admin ? "tOneAgency" : "tAgency")), h("option", { value: "outage" }, t("tOutage")),
    admin ? h("option", { value: "all_agencies" }, t("tAll")) : null, admin ? h("option", { value: "everyone" }, t("tEveryone")) : null);
  const fields = ["titleFr", "titleEn", "bodyFr", "bodyEn"].map((k) => (k.startsWith("title")
    ? h("input", { id: `n-${k}`, maxlength: 200, required: true }) : h("textarea", { id: `n-${k}`, rows: 3, maxlength: 2000, required: true })));
  const preview = h("div", { id: "n-preview", class: "phone-preview", "aria-live": "polite" });
  const stats = h("div", { id: "n-stats" });
  const sent = h("div", { id: "n-sent" });
  const zoneLabel = h("label", { for: "n-agencies", hidden: true }, t("agencies"));
  const zoneFits = () => { const on = admin && (target.value === "agency" || target.value === "outage"); zone.hidden = !on; zoneLabel.hidden = !on; };
  target.addEventListener("change", zoneFits);
  zoneFits();
  const showPreview = () => preview.replaceChildren(h("strong", {}, fields[0].value), h("p", {}, fields[2].value), h("hr"), h("strong", {}, fields[1].value), h("p", {}, fields[3].value));
  fields.forEach((f) => f.addEventListener("input", showPreview));
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const kind = target.value;
    const label = target.selectedOptions[0].textContent;
    if (!(await confirmDialog(t("confirmSend", { t: label })))) return;
    if (kind === "everyone" && !(await confirmDialog(t("confirmNational")))) return;
    await guarded(async () => {
      let tgt = { kind };
      const chosen = [...zone.selectedOptions].map((o) => o.value);
      if (kind === "outage") tgt = { kind, agency_ids: admin ? chosen : [me.agency_id] };
      if (kind === "agency" && admin) tgt = { kind, agency_id: chosen[0] };
      const body = { target: tgt, type: kind === "outage" ? "outage" : "campaign",
        title: { fr: fields[0].value, en: fields[1].value }, body: { fr: fields[2].value, en: fields[3].value } };
      const accepted = await api("POST", "/notifications", body);
      flash(t("accepted"));
      sentList(sent, stats);
      watch(accepted.id, stats);
    });
  } }, h("h2", {}, t("compose")), h("label", { for: "n-target" }, t("target")), target,
  zoneLabel, zone,
  ...["titleFr", "titleEn", "bodyFr", "bodyEn"].flatMap((k, i) => [h("label", { for: `n-${k}` }, t(k)), fields[i]]),
  h("h3", {}, t("preview")), preview, h("button", { type: "submit", class: "primary", id: "n-send" }, t("sendNow")));
  show(h("h1", {}, t("notifications")), form, stats, sent);
  sentList(sent, stats);
}

async function sentList(box, stats) {
  const list = await guarded(() => pagedTable("/notifications?limit=20", [t("date"), t("target"), t("titleFr"), t("status"), ""], (n) => [
    when(n.created_at), t(`tk_${n.target_kind}`), n.title, n.withdrawn_at ? t("withdrawn") : t("live"),
    h("span", { class: "row" },
      h("button", { type: "button", onclick: () => watch(n.id, stats) }, t("delivery")),
      n.withdrawn_at ? "" : h("button", { type: "button", "data-withdraw": n.id, onclick: () => guarded(async () => {
        if (!(await confirmDialog(t("withdrawConfirm", { t: n.title })))) return;
        await api("POST", `/notifications/${n.id}/withdraw`); flash(t("withdrawn")); sentList(box, stats);
      }) }, t("withdraw")))]));
  if (list) box.replaceChildren(section(t("sentList"), list));
}

async function watch(id, box) {
  // Live delivery figures: polled every 2 s until done (stops when the page changes).
  const hash = location.hash;
  for (;;) {
    const s = await guarded(() => api("GET", `/notifications/${id}`));
    if (!s || location.hash !== hash) return;
    box.replaceChildren(section(t("delivery"), h("dl", { id: "delivery" },
      [["deliveryStatus", t(`ds_${s.status}`)], ["targeted", s.targeted_devices ?? "…"], ["sent", s.sent], ["failed", s.failed], ["dead", s.dead_tokens], ["pending", s.pending ?? "…"]]
        .flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", { "data-k": k }, String(v))]))));
    if (s.status === "done") return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function dashboardPage() {
  const d = await guarded(() => api("GET", "/dashboard"));
  if (!d) return;
  const signups = d.signups_per_day.map((x) => ({ label: x.day.slice(5), value: x.count }));
  const byStatus = Object.entries(d.requests.by_status).map(([k, v]) => ({ label: t(`st_${k}`), value: v }));
  const n = d.notifications;
  show(h("h1", {}, `${t("dashboard")} ${d.scope.national ? "(" + t("national") + ")" : ""}`),
    section(t("signups"), barChart(signups, { label: t("signups") })),
    section(t("requestsByStatus"), barChart(byStatus, { label: t("requestsByStatus"), height: 180 })),
    section(t("deliveryRate"), n ? h("div", {}, rateBar(n.last_7_days.delivery_rate, { label: "7" }), rateBar(n.last_30_days.delivery_rate, { label: "30" }))
      : h("p", { class: "muted" }, d.notifications_unavailable_reason || t("none"))),
    section(t("figures"), h("dl", {}, [["customers", d.users.customers], ["meters", d.links.active], ["overdue", d.requests.overdue]]
      .flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, String(v))]))));
}

async function staffAdmin() {
  const agencies = await guarded(() => allPages("/agencies?limit=100"));
  if (!agencies) return;
  const names = Object.fromEntries(agencies.items.map((a) => [a.id, a.name]));
  const f = {
    login: h("input", { id: "s-login", required: true, autocomplete: "off" }), first: h("input", { id: "s-first", required: true }), last: h("input", { id: "s-last", required: true }),
    role: h("select", { id: "s-role" }, h("option", { value: "agent" }, t("role_agent")), h("option", { value: "admin" }, t("role_admin"))),
    agency: h("select", { id: "s-agency" }, h("option", { value: "" }, "—"), agencies.items.filter((a) => a.is_active).map((a) => h("option", { value: a.id }, a.name))),
    source: h("select", { id: "s-source" }, h("option", { value: "local" }, t("localAccount")), h("option", { value: "ldap" }, t("ldapAccount"))),
    password: h("input", { id: "s-password", type: "password", autocomplete: "new-password" }),
  };
  const list = await guarded(() => pagedTable("/admin/users?limit=50", [t("login"), t("name"), t("role"), t("agency"), t("status"), ""], (u) => [u.login, `${u.first_name} ${u.last_name}`, t(`role_${u.role}`),
    names[u.agency_id] || "", u.is_active ? t("active") : t("inactive"),
    u.id === me.id ? "" : h("button", { type: "button", onclick: () => guarded(async () => {
      if (!(await confirmDialog(`${u.is_active ? t("deactivate") : t("activate")} ${u.login} ?`))) return;
      await api("PATCH", `/admin/users/${u.id}`, { is_active: !u.is_active }); await staffAdmin();
    }) }, u.is_active ? t("deactivate") : t("activate"))]));
  if (!list) return;
  show(h("h1", {}, t("staff")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/admin/users", { login: f.login.value, first_name: f.first.value, last_name: f.last.value, role: f.role.value,
        agency_id: f.agency.value || null, auth_source: f.source.value, password: f.source.value === "local" ? f.password.value : null });
      await staffAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newStaff")), h("label", { for: "s-login" }, t("login")), f.login, h("label", { for: "s-first" }, t("firstName")), f.first,
    h("label", { for: "s-last" }, t("lastName")), f.last, h("label", { for: "s-role" }, t("role")), f.role, h("label", { for: "s-agency" }, t("agency")), f.agency,
    h("label", { for: "s-source" }, t("accountKind")), f.source, h("label", { for: "s-password" }, t("password")), f.password, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("staff"), list));
}

async function agenciesAdmin() {
  const code = h("input", { id: "a-code", required: true, pattern: "[A-Za-z0-9]{2,32}" });
  const name = h("input", { id: "a-name", required: true });
  const region = h("input", { id: "a-region" });
  const list = await guarded(() => pagedTable("/agencies?limit=50", [t("code"), t("name"), t("region"), t("status"), ""], (a) => [a.code, a.name, a.region || "", a.is_active ? t("active") : t("inactive"),
    h("button", { type: "button", onclick: () => guarded(async () => {
      if (!(await confirmDialog(`${a.is_active ? t("deactivate") : t("activate")} ${a.name} ?`))) return;
      await api("PATCH", `/agencies/${a.id}`, { is_active: !a.is_active }); await agenciesAdmin();
    }) }, a.is_active ? t("deactivate") : t("activate"))]));
  if (!list) return;
  show(h("h1", {}, t("agencies")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/agencies", { code: code.value, name: name.value, region: region.value || null }); await agenciesAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newAgency")), h("label", { for: "a-code" }, t("code")), code, h("label", { for: "a-name" }, t("name")), name,
    h("label", { for: "a-region" }, t("region")), region, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("agencies"), list));
}

async function typesAdmin() {
  const code = h("input", { id: "rt-code", required: true, pattern: "[a-z0-9_]{2,40}" });
  const fr = h("input", { id: "rt-fr", required: true });
  const en = h("input", { id: "rt-en", required: true });
  const sla = h("input", { id: "rt-sla", type: "number", min: 1, max: 2160, required: true, value: 72 });
  const list = await guarded(() => pagedTable("/admin/request-types?limit=50", [t("code"), t("name"), t("slaHours"), t("status"), ""], (x) => [x.code, lang() === "en" ? x.label_en : x.label_fr, String(x.sla_hours),
    x.is_active ? t("active") : t("inactive"), h("button", { type: "button", onclick: () => guarded(async () => {
      await api("PATCH", `/admin/request-types/${x.id}`, { is_active: !x.is_active }); await typesAdmin();
    }) }, x.is_active ? t("deactivate") : t("activate"))]));
  if (!list) return;
  show(h("h1", {}, t("requestTypes")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/admin/request-types", { code: code.value, label_fr: fr.value, label_en: en.value, sla_hours: Number(sla.value) }); await typesAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newType")), h("label", { for: "rt-code" }, t("code")), code, h("label", { for: "rt-fr" }, t("labelFr")), fr,
    h("label", { for: "rt-en" }, t("labelEn")), en, h("label", { for: "rt-sla" }, t("slaHours")), sla, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("requestTypes"), list));
}

// ---- tariffs: the versions, and a form for a new one (checked by the API, errors next to fields) --
// A number as the agent types it: "2,5" in French, "2.5" in English (both are read back).
const dec = (n) => (n === null || n === undefined ? "" : lang() === "fr" ? String(n).replace(".", ",") : String(n));
const pct = (rate) => dec(Math.round(Number(rate) * 100000) / 1000); // 0.025 -> "2,5"

function decimalOrRaw(text) {
  // What the agent typed, for the API to check: "" -> null, "2,5" -> "2.5" (French decimal comma).
  const v = text.trim().replace(/\s/g, "").replace(",", ".");
  return v === "" ? null : v;
}

function rateOrRaw(text) {
  const v = decimalOrRaw(text);
  if (v === null || !/^-?\d+(\.\d+)?$/.test(v)) return v; // not a number: the API says why
  return String(Math.round(Number(v) * 1000) / 100000); // percent -> rate, 3 decimals of percent at most
}

function fieldInput(id, field, attrs = {}) {
  return h("input", { id, "data-field": field, inputmode: "decimal", autocomplete: "off", ...attrs });
}

async function tariffsAdmin() {
  const page = await guarded(() => allPages("/tariffs?history=true&limit=100"));
  if (!page) return;
  const codes = [...new Set(page.items.map((v) => v.code))];
  const latest = (code) => page.items.filter((v) => v.code === code).sort((a, b) => b.effective_from.localeCompare(a.effective_from))[0];
  const f = {
    code: h("select", { id: "tv-code", "data-field": "code" }, codes.map((c) => h("option", { value: c }, c))),
    label: h("input", { id: "tv-label", "data-field": "label", maxlength: 160 }),
    effective_from: h("input", { id: "tv-from", "data-field": "effective_from", type: "date" }),
    effective_to: h("input", { id: "tv-to", "data-field": "effective_to", type: "date" }),
    monthly_fee: fieldInput("tv-fee", "monthly_fee"),
    municipal_tax_rate: fieldInput("tv-municipal", "municipal_tax_rate"),
    vat_rate: fieldInput("tv-vat", "vat_rate"),
    vat_from_kwh: fieldInput("tv-vat-from", "vat_from_kwh"),
    minimum_purchase: fieldInput("tv-minimum", "minimum_purchase"),
  };
  const tbody = h("tbody", { id: "tv-tranches" });
  const problems = h("ul", { id: "tv-problems", class: "field-error", hidden: true });
  const general = h("ul", { id: "tv-errors", class: "field-error", hidden: true });
  const renumber = () => [...tbody.rows].forEach((row, i) => {
    row.querySelector("th").textContent = String(i + 1);
    for (const input of row.querySelectorAll("input")) {
      const k = input.dataset.k;
      input.dataset.field = `tranches.${i}.${k}`;
      input.id = `tv-t${i}-${k}`;
      input.setAttribute("aria-label", `${t("tranche")} ${i + 1} — ${t(`tr_${k}`)}`);
    }
  });
  const addRow = (x = {}) => {
    const cell = (k, v) => h("td", {}, h("input", { "data-k": k, inputmode: "decimal", autocomplete: "off", size: 8, value: dec(v) }));
    const del = h("button", { type: "button", class: "small", onclick: () => { if (tbody.rows.length > 1) { row.remove(); renumber(); } } }, t("removeTranche"));
    const row = h("tr", {}, h("th", { scope: "row" }), cell("kwh_from", x.kwh_from), cell("kwh_to", x.kwh_to), cell("price_postpaid", x.price_postpaid), cell("price_prepaid", x.price_prepaid), h("td", {}, del));
    tbody.append(row);
    renumber();
  };
  const fill = (code) => {
    const v = latest(code);
    if (!v) return;
    f.label.value = v.label;
    const next = new Date(); // a new version usually starts on the 1st of a month: next month's
    f.effective_from.value = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    f.effective_to.value = "";
    f.monthly_fee.value = dec(v.monthly_fee);
    f.municipal_tax_rate.value = pct(v.municipal_tax_rate);
    f.vat_rate.value = pct(v.vat_rate);
    f.vat_from_kwh.value = dec(v.vat_from_kwh);
    f.minimum_purchase.value = dec(v.minimum_purchase);
    tbody.replaceChildren();
    v.tranches.forEach((x) => addRow(x));
  };
  f.code.addEventListener("change", () => fill(f.code.value));
  const form = h("form", { class: "card tariff-form", id: "tariff-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); guarded(async () => {
    clearFieldErrors(form, [problems, general]);
    const body = { code: f.code.value, label: f.label.value.trim(), effective_from: f.effective_from.value || null, effective_to: f.effective_to.value || null,
      monthly_fee: decimalOrRaw(f.monthly_fee.value), municipal_tax_rate: rateOrRaw(f.municipal_tax_rate.value), vat_rate: rateOrRaw(f.vat_rate.value),
      vat_from_kwh: decimalOrRaw(f.vat_from_kwh.value), minimum_purchase: decimalOrRaw(f.minimum_purchase.value),
      tranches: [...tbody.rows].map((row) => Object.fromEntries([...row.querySelectorAll("input")].map((i) => [i.dataset.k, decimalOrRaw(i.value)]))) };
    if (!(await confirmDialog(t("addTariffConfirm", { c: body.code, d: body.effective_from ? day(body.effective_from) : "?" })))) return;
    try {
      await api("POST", "/admin/tariffs", body);
    } catch (err) {
      if (err instanceof Problem && showFieldErrors(form, err, { problems, general, dateField: f.effective_from })) {
        flash(`${t("error")} : ${t("fixFields")}`, "error");
        return;
      }
      throw err;
    }
    await tariffsAdmin(); flash(t("tariffAdded", { c: body.code, d: day(body.effective_from) }));
  }); } },
  h("h2", {}, t("newTariff")), h("p", { class: "muted" }, t("tariffHelp")),
  h("div", { class: "fields" }, ...[["tv-code", "code", t("tariffCode")], ["tv-label", "label", t("tariffLabel")], ["tv-from", "effective_from", t("from")], ["tv-to", "effective_to", t("toOptional")],
    ["tv-fee", "monthly_fee", t("monthlyFee")], ["tv-municipal", "municipal_tax_rate", t("municipalTax")], ["tv-vat", "vat_rate", t("vatRate")],
    ["tv-vat-from", "vat_from_kwh", t("vatFrom")], ["tv-minimum", "minimum_purchase", t("minimumPurchase")]]
    .flatMap(([id, k, label]) => [h("label", { for: id }, label), f[k], h("span", { class: "field-error", id: `err-${k}`, "aria-live": "polite" })])),
  h("fieldset", {}, h("legend", {}, t("tranchesTitle")),
    h("table", { class: "tranches" }, h("thead", {}, h("tr", {}, ["#", t("tr_kwh_from"), t("tr_kwh_to"), t("tr_price_postpaid"), t("tr_price_prepaid"), ""].map((x) => h("th", { scope: "col" }, x)))), tbody),
    h("button", { type: "button", class: "small", id: "tv-add", onclick: () => { addRow({}); tbody.rows[tbody.rows.length - 1].querySelector("input").focus(); } }, t("addTranche")), problems),
  general,
  h("button", { type: "submit", class: "primary" }, t("addVersion")));
  if (codes.length) fill(codes[0]);
  show(h("h1", {}, t("tariffs")),
    section(t("tariffs"), table([t("code"), t("tariffLabel"), t("from"), t("to"), t("inForce"), t("tranches")], page.items.map((v) => [v.code, v.label, day(v.effective_from), day(v.effective_to),
      v.in_force ? t("yes") : "", v.tranches.map((x) => `${x.kwh_from}–${x.kwh_to ?? "∞"} kWh : ${x.price_prepaid}/${x.price_postpaid}`).join(" · ")]))),
    form);
}

function clearFieldErrors(form, lists) {
  for (const el of form.querySelectorAll("[aria-invalid]")) { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
  for (const el of form.querySelectorAll(".field-error.inline")) el.remove();
  for (const el of form.querySelectorAll("span.field-error")) el.textContent = "";
  for (const list of lists) { list.replaceChildren(); list.hidden = true; }
}

// A refused form: each field error of the problem (``errors[].field``, as the API names fields)
// next to its input; the grid's problems under the tranches; anything else above the button.
function showFieldErrors(form, err, { problems, general, dateField }) {
  const body = err.body || {};
  let first = null;
  const mark = (input, message) => {
    input.setAttribute("aria-invalid", "true");
    let slot = form.querySelector(`#err-${CSS.escape(input.dataset.field)}`);
    if (!slot) {
      slot = h("span", { class: "field-error inline", id: `err-${input.dataset.field}` });
      input.after(slot);
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    input.setAttribute("aria-describedby", slot.id);
    first = first || input;
  };
  for (const e of body.errors || []) {
    const input = form.querySelector(`[data-field="${CSS.escape(String(e.field || "").replace(/^body\./, ""))}"]`);
    if (input) mark(input, e.message);
    else { general.append(h("li", {}, `${e.field ? e.field + " : " : ""}${e.message}`)); general.hidden = false; }
  }
  for (const p of body.problems || []) { problems.append(h("li", {}, p)); problems.hidden = false; }
  if (body.code === "tariff_version_overlap") mark(dateField, body.detail);
  if (!first && problems.hidden && general.hidden) return false;
  (first || problems).focus?.();
  return true;
}

async function auditAdmin(params) {
  const event = h("input", { id: "au-event", value: params.get("event") || "", maxlength: 40, list: "au-events" });
  const known = h("datalist", { id: "au-events" }, AUDITED.map((e) => h("option", { value: e })));
  const q = new URLSearchParams({ limit: "50" });
  if (params.get("event")) q.set("event", params.get("event"));
  const list = await guarded(() => pagedTable(`/admin/audit?${q}`, [t("date"), t("event"), t("customer"), t("actor"), t("ip"), t("details")], (e) => [when(e.at), e.event,
    e.user_id ? h("a", { href: `#/customer/${e.user_id}`, title: e.user_id }, e.user_id.slice(0, 8)) : "", e.actor_id ? h("span", { title: e.actor_id }, e.actor_id.slice(0, 8)) : "", e.ip || "",
    h("code", { class: "details" }, Object.entries(e.details || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · "))], { id: "audit" }));
  if (!list) return;
  show(h("h1", {}, t("audit")),
    h("form", { class: "card row", onsubmit: (e) => { e.preventDefault(); location.hash = `#/admin/audit?event=${encodeURIComponent(event.value)}`; } },
      h("label", { for: "au-event" }, t("event")), event, known, h("button", { type: "submit" }, t("filter"))),
    list);
}

// The events an administrator looks for most (the filter box suggests them).
const AUDITED = ["token_resent", "customer_unlocked", "pin_reset_code_sent", "request_filed_for_customer", "request_assigned", "request_transferred",
  "notification_sent", "notification_withdrawn", "tariff_version_added", "request_type_created", "request_type_updated",
  "staff_created", "staff_updated", "agency_created", "agency_updated", "staff_login_ok", "staff_login_failed", "password_changed", "customer_viewed"];

// ---- router ----------------------------------------------------------------------------------
async function render() {
  const [path, query] = (location.hash.slice(1) || "/customers").split("?");
  const params = new URLSearchParams(query || "");
  if (!me && sessionStorage.getItem("sc.token")) {
    me = await api("GET", "/me").catch(() => null);
    if (me) resetIdle();
  }
  chrome();
  if (!me) { loginPage(); if (pending) { flash(...pending); pending = null; } return; }
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "customers") customersPage(params);
  else if (parts[0] === "customer" && parts[1]) await customerPage(parts[1]);
  else if (parts[0] === "requests") await requestsPage(params);
  else if (parts[0] === "request" && parts[1]) await requestPage(parts[1]);
  else if (parts[0] === "notifications") await notificationsPage();
  else if (parts[0] === "dashboard") await dashboardPage();
  else if (parts[0] === "password") passwordPage();
  else if (parts[0] === "admin" && me.role === "admin") {
    if (parts[1] === "staff") await staffAdmin();
    else if (parts[1] === "agencies") await agenciesAdmin();
    else if (parts[1] === "request-types") await typesAdmin();
    else if (parts[1] === "tariffs") await tariffsAdmin();
    else if (parts[1] === "audit") await auditAdmin(params);
  } else customersPage(params);
  chrome();
  if (pending) { flash(...pending); pending = null; }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => { flashBox.replaceChildren(); render(); });
setLang(lang());
render();
