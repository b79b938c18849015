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

function day(iso) {
  return iso ? new Date(iso).toLocaleDateString(lang() === "en" ? "en-GB" : "fr-FR", { timeZone: "UTC" }) : "";
}

class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

async function api(method, path, body) {
  const headers = { "Accept-Language": lang(), Accept: "application/json" };
  const token = sessionStorage.getItem("sc.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && token) {
    endSession("expired");
    throw new Problem(401, data);
  }
  if (!res.ok) throw new Problem(res.status, data);
  return data;
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
  if (sessionStorage.getItem("sc.token")) idleTimer = setTimeout(() => endSession("idle"), IDLE_MS);
}

async function endSession(reason) {
  const token = sessionStorage.getItem("sc.token");
  sessionStorage.removeItem("sc.token");
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

document.getElementById("lang-switch").addEventListener("click", () => { setLang(lang() === "en" ? "fr" : "en"); render(); });
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
    const page = await api("GET", `/staff/customers?q=${encodeURIComponent(params.get("q"))}&limit=50`);
    if (!page.items.length) { results.replaceChildren(h("p", { class: "muted" }, t("noResult"))); return; }
    results.replaceChildren(table([t("name"), t("phone"), t("status"), t("since"), ""], page.items.map((c) => [
      `${c.first_name} ${c.last_name}`, c.phone || "", c.locked ? t("locked") : c.is_active ? t("active") : t("inactive"),
      day(c.created_at), h("a", { href: `#/customer/${c.id}` }, t("open"))])));
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
    h("p", {}, `${t("people")} : `, m.people.map((x) => `${x.first_name} ${x.last_name} ${x.phone || ""} (${x.is_owner ? t("owner") : t("sharer")}, ${x.status})`).join(" · ")),
    h("button", { type: "button", onclick: () => (m.kind === "prepaid" ? showPurchases(id, m, meterBox, p) : showBills(id, m, meterBox)) },
      m.kind === "prepaid" ? t("showPurchases") : t("showBills"))));
  show(
    h("h1", {}, `${p.first_name} ${p.last_name}`),
    section(t("profile"),
      h("dl", {}, h("dt", {}, t("phone")), h("dd", {}, p.phone || ""), h("dt", {}, t("status")),
        h("dd", {}, p.locked ? t("locked") : p.is_active ? t("active") : t("inactive")),
        h("dt", {}, t("language")), h("dd", {}, c.language), h("dt", {}, t("email")), h("dd", {}, c.email || ""),
        h("dt", {}, t("since")), h("dd", {}, day(p.created_at))), actions),
    section(t("meters"), meters.length ? meters : h("p", { class: "muted" }, t("none")), meterBox),
    section(t("devices"), table([t("model"), t("platform"), t("status"), t("lastSeen")], c.devices.map((d) => [d.model || "", d.platform || "", d.is_active ? t("active") : t("inactive"), when(d.last_seen_at)]))),
    section(t("requests"), table([t("type"), t("status"), t("createdAt"), t("due"), ""], c.requests.map((r) => [r.type, t(`st_${r.status}`), when(r.created_at), when(r.due_at), h("a", { href: `#/request/${r.id}` }, t("open"))])),
      await onBehalfForm(id, c.meters)),
    section(t("receivedNotifications"), table([t("date"), t("type"), t("titleFr"), ""], c.notifications.map((n) => [when(n.created_at), n.type, n.title, n.body]))),
  );
}

async function onBehalfForm(customerId, meters) {
  const types = (await guarded(() => api("GET", "/request-types?limit=100"))) || { items: [] };
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
  const page = await guarded(() => api("GET", `/staff/customers/${customerId}/meters/${meter.id}/purchases?limit=50`));
  if (!page) { box.replaceChildren(); return; }
  box.replaceChildren(h("h3", {}, `${t("purchases")} — ${meter.number}`), table([t("date"), t("number"), t("amount"), t("kwh"), t("tokens"), ""],
    page.items.map((x) => [when(x.date), x.order_number || "", x.amount.toLocaleString(), x.kwh.toFixed(1),
      h("code", { class: "token" }, x.tokens.join(" / ")),
      x.order_number && x.tokens.length ? h("button", { type: "button", "data-order": x.order_number, onclick: () => guarded(async () => {
        if (!(await confirmDialog(t("resendConfirm", { n: x.order_number, p: person.phone })))) return;
        const r = await api("POST", `/staff/customers/${customerId}/meters/${meter.id}/purchases/${encodeURIComponent(x.order_number)}/resend-token`);
        flash(t("resent", { n: r.order_number, p: r.sent_to }));
      }) }, t("resend")) : ""])));
}

async function showBills(customerId, meter, box) {
  const page = await guarded(() => api("GET", `/staff/customers/${customerId}/meters/${meter.id}/bills?limit=50`));
  if (!page) return;
  box.replaceChildren(h("h3", {}, `${t("bills")} — ${meter.number}`), table([t("date"), t("number"), t("kwh"), t("amount"), t("due")],
    page.items.map((b) => [day(b.date), b.number, String(b.kwh), b.amount.toLocaleString(), day(b.due_date)])));
}

async function requestsPage(params) {
  const types = (await guarded(() => api("GET", "/request-types?limit=100"))) || { items: [] };
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, t("all")),
    ["submitted", "in_progress", "resolved", "rejected", "cancelled"].map((s) => h("option", { value: s, selected: params.get("status") === s }, t(`st_${s}`))));
  const type = h("select", { id: "f-type", name: "type" }, h("option", { value: "" }, t("all")),
    types.items.map((x) => h("option", { value: x.code, selected: params.get("type") === x.code }, x.label)));
  const assignee = h("select", { id: "f-assignee", name: "assignee" }, h("option", { value: "" }, t("all")),
    h("option", { value: "me", selected: params.get("assignee") === "me" }, t("me")),
    h("option", { value: "none", selected: params.get("assignee") === "none" }, t("nobody")));
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
    const q = new URLSearchParams({ limit: "50" });
    for (const k of ["status", "type", "assignee"]) if (params.get(k)) q.set(k, params.get(k));
    if (params.get("overdue")) q.set("overdue", "true");
    const page = await api("GET", `/requests?${q}`);
    list.replaceChildren(table([t("type"), t("status"), t("createdAt"), t("age"), t("overdue"), t("assignee"), ""], page.items.map((r) => [
      r.type.label, t(`st_${r.status}`), when(r.created_at), r.age_hours.toFixed(1), r.overdue ? "⚠ " + t("overdue") : "",
      r.assigned_to ? (r.assigned_to === me.id ? t("me") : r.assigned_to.slice(0, 8)) : t("nobody"),
      h("a", { href: `#/request/${r.id}` }, t("open"))])));
  });
}

async function requestPage(id) {
  const r = await guarded(() => api("GET", `/requests/${id}`));
  if (!r) return;
  const comment = h("textarea", { id: "reply", rows: 3, maxlength: 2000 });
  const canned = h("select", { id: "canned", onchange: () => { if (canned.value) comment.value = t(canned.value); } },
    h("option", { value: "" }, "—"), ["canned1", "canned2", "canned3"].map((k) => h("option", { value: k }, t(k).slice(0, 60))));
  const patch = (body) => guarded(async () => { await api("PATCH", `/requests/${id}`, body); await requestPage(id); flash(t(`st_${body.status || r.status}`)); });
  const withComment = (body) => (comment.value.trim() ? { ...body, comment: comment.value.trim() } : body);
  const open = r.status === "submitted" || r.status === "in_progress";
  let routing = null;
  if (open) {
    const [people, agencies] = await Promise.all([
      guarded(() => api("GET", "/staff/colleagues?limit=100")), guarded(() => api("GET", "/agencies?limit=100"))]);
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
    h("h1", {}, `${r.type.label} — `, h("span", { id: "request-status" }, t(`st_${r.status}`))),
    section(t("customer"), h("p", {}, `${r.requester.first_name} ${r.requester.last_name} ${r.requester.phone || ""} `,
      h("a", { href: `#/customer/${r.requester.id}` }, t("open"))), h("p", { class: "quote" }, r.comment),
      h("p", {}, `${t("createdAt")} ${when(r.created_at)} · ${t("due")} ${when(r.due_at)}${r.overdue ? " · ⚠ " + t("overdue") : ""} · ${t("assignee")} : ${r.assigned_to ? (r.assigned_to === me.id ? t("me") : r.assigned_to) : t("nobody")}`)),
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
  const cells = (e) => (e.kind === "comment" ? [when(e.at), e.by, e.body]
    : [when(e.at), `${e.from_status ? t(`st_${e.from_status}`) + " → " : ""}${t(`st_${e.to_status}`)} (${e.by})`, e.body || ""]);
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
  return [h("table", {}, h("thead", {}, h("tr", {}, [t("date"), t("status"), ""].map((x) => h("th", { scope: "col" }, x)))), body), more];
}

async function notificationsPage() {
  const admin = me.role === "admin";
  const agencies = admin ? ((await guarded(() => api("GET", "/agencies?limit=100"))) || { items: [] }).items.filter((a) => a.is_active) : [];
  const zone = h("select", { id: "n-agencies", multiple: true, size: 4, hidden: !admin }, agencies.map((a) => h("option", { value: a.id }, a.name)));
  const target = h("select", { id: "n-target" }, h("option", { value: "agency" }, t(admin ? "tOneAgency" : "tAgency")), h("option", { value: "outage" }, t("tOutage")),
    admin ? h("option", { value: "all_agencies" }, t("tAll")) : null, admin ? h("option", { value: "everyone" }, t("tEveryone")) : null);
  const fields = ["titleFr", "titleEn", "bodyFr", "bodyEn"].map((k) => (k.startsWith("title")
    ? h("input", { id: `n-${k}`, maxlength: 200, required: true }) : h("textarea", { id: `n-${k}`, rows: 3, maxlength: 2000, required: true })));
  const preview = h("div", { id: "n-preview", class: "phone-preview", "aria-live": "polite" });
  const stats = h("div", { id: "n-stats" });
  const sent = h("div", { id: "n-sent" });
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
  admin ? h("label", { for: "n-agencies" }, t("agencies")) : null, zone,
  ...["titleFr", "titleEn", "bodyFr", "bodyEn"].flatMap((k, i) => [h("label", { for: `n-${k}` }, t(k)), fields[i]]),
  h("h3", {}, t("preview")), preview, h("button", { type: "submit", class: "primary", id: "n-send" }, t("sendNow")));
  show(h("h1", {}, t("notifications")), form, stats, sent);
  sentList(sent, stats);
}

async function sentList(box, stats) {
  const page = await guarded(() => api("GET", "/notifications?limit=50"));
  if (!page) return;
  box.replaceChildren(section(t("sentList"), table([t("date"), t("target"), t("titleFr"), t("status"), ""], page.items.map((n) => [
    when(n.created_at), n.target_kind, n.title, n.withdrawn_at ? t("withdrawn") : "",
    h("span", { class: "row" },
      h("button", { type: "button", onclick: () => watch(n.id, stats) }, t("delivery")),
      n.withdrawn_at ? "" : h("button", { type: "button", "data-withdraw": n.id, onclick: () => guarded(async () => {
        if (!(await confirmDialog(t("withdrawConfirm", { t: n.title })))) return;
        await api("POST", `/notifications/${n.id}/withdraw`); flash(t("withdrawn")); sentList(box, stats);
      }) }, t("withdraw")))]))));
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
  const [users, agencies] = await Promise.all([guarded(() => api("GET", "/admin/users?limit=100")), guarded(() => api("GET", "/agencies?limit=100"))]);
  if (!users || !agencies) return;
  const names = Object.fromEntries(agencies.items.map((a) => [a.id, a.name]));
  const f = {
    login: h("input", { id: "s-login", required: true }), first: h("input", { id: "s-first", required: true }), last: h("input", { id: "s-last", required: true }),
    role: h("select", { id: "s-role" }, h("option", { value: "agent" }, "agent"), h("option", { value: "admin" }, "admin")),
    agency: h("select", { id: "s-agency" }, h("option", { value: "" }, "—"), agencies.items.map((a) => h("option", { value: a.id }, a.name))),
    source: h("select", { id: "s-source" }, h("option", { value: "local" }, t("localAccount")), h("option", { value: "ldap" }, t("ldapAccount"))),
    password: h("input", { id: "s-password", type: "password", autocomplete: "new-password" }),
  };
  show(h("h1", {}, t("staff")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/admin/users", { login: f.login.value, first_name: f.first.value, last_name: f.last.value, role: f.role.value,
        agency_id: f.agency.value || null, auth_source: f.source.value, password: f.source.value === "local" ? f.password.value : null });
      await staffAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newStaff")), h("label", { for: "s-login" }, t("login")), f.login, h("label", { for: "s-first" }, t("firstName")), f.first,
    h("label", { for: "s-last" }, t("lastName")), f.last, h("label", { for: "s-role" }, "Role"), f.role, h("label", { for: "s-agency" }, t("agency")), f.agency,
    h("label", { for: "s-source" }, t("accountKind")), f.source, h("label", { for: "s-password" }, t("password")), f.password, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("staff"), table([t("login"), t("name"), "Role", t("agency"), t("status"), ""], users.items.map((u) => [u.login, `${u.first_name} ${u.last_name}`, u.role,
      names[u.agency_id] || "", u.is_active ? t("active") : t("inactive"),
      u.id === me.id ? "" : h("button", { type: "button", onclick: () => guarded(async () => {
        if (!(await confirmDialog(`${u.is_active ? t("deactivate") : t("activate")} ${u.login} ?`))) return;
        await api("PATCH", `/admin/users/${u.id}`, { is_active: !u.is_active }); await staffAdmin();
      }) }, u.is_active ? t("deactivate") : t("activate"))]))));
}

async function agenciesAdmin() {
  const page = await guarded(() => api("GET", "/agencies?limit=100"));
  if (!page) return;
  const code = h("input", { id: "a-code", required: true, pattern: "[A-Za-z0-9]{2,32}" });
  const name = h("input", { id: "a-name", required: true });
  const region = h("input", { id: "a-region" });
  show(h("h1", {}, t("agencies")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/agencies", { code: code.value, name: name.value, region: region.value || null }); await agenciesAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newAgency")), h("label", { for: "a-code" }, "Code"), code, h("label", { for: "a-name" }, t("name")), name,
    h("label", { for: "a-region" }, t("region")), region, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("agencies"), table(["Code", t("name"), t("region"), t("status"), ""], page.items.map((a) => [a.code, a.name, a.region || "", a.is_active ? t("active") : t("inactive"),
      h("button", { type: "button", onclick: () => guarded(async () => {
        if (!(await confirmDialog(`${a.is_active ? t("deactivate") : t("activate")} ${a.name} ?`))) return;
        await api("PATCH", `/agencies/${a.id}`, { is_active: !a.is_active }); await agenciesAdmin();
      }) }, a.is_active ? t("deactivate") : t("activate"))]))));
}

async function typesAdmin() {
  const page = await guarded(() => api("GET", "/admin/request-types?limit=100"));
  if (!page) return;
  const code = h("input", { id: "rt-code", required: true, pattern: "[a-z0-9_]{2,40}" });
  const fr = h("input", { id: "rt-fr", required: true });
  const en = h("input", { id: "rt-en", required: true });
  const sla = h("input", { id: "rt-sla", type: "number", min: 1, max: 2160, required: true, value: 72 });
  show(h("h1", {}, t("requestTypes")),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      await api("POST", "/admin/request-types", { code: code.value, label_fr: fr.value, label_en: en.value, sla_hours: Number(sla.value) }); await typesAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newType")), h("label", { for: "rt-code" }, "Code"), code, h("label", { for: "rt-fr" }, t("labelFr")), fr,
    h("label", { for: "rt-en" }, t("labelEn")), en, h("label", { for: "rt-sla" }, "SLA (h)"), sla, h("button", { type: "submit", class: "primary" }, t("create"))),
    section(t("requestTypes"), table(["Code", t("name"), "SLA (h)", t("status"), ""], page.items.map((x) => [x.code, lang() === "en" ? x.label_en : x.label_fr, String(x.sla_hours),
      x.is_active ? t("active") : t("inactive"), h("button", { type: "button", onclick: () => guarded(async () => {
        await api("PATCH", `/admin/request-types/${x.id}`, { is_active: !x.is_active }); await typesAdmin();
      }) }, x.is_active ? t("deactivate") : t("activate"))]))));
}

async function tariffsAdmin() {
  const page = await guarded(() => api("GET", "/tariffs?history=true&limit=100"));
  if (!page) return;
  // A new version starts as a copy of the latest one, edited as JSON and checked by the API itself.
  const latest = page.items[0];
  const draft = latest ? { code: latest.code, label: latest.label, effective_from: new Date().toISOString().slice(0, 10), effective_to: null,
    monthly_fee: latest.monthly_fee, municipal_tax_rate: latest.municipal_tax_rate, vat_rate: latest.vat_rate, vat_from_kwh: latest.vat_from_kwh,
    minimum_purchase: latest.minimum_purchase, tranches: latest.tranches.map((x) => ({ kwh_from: x.kwh_from, kwh_to: x.kwh_to, price_postpaid: x.price_postpaid, price_prepaid: x.price_prepaid })) } : {};
  const text = h("textarea", { id: "tv-json", rows: 16, spellcheck: "false" });
  text.value = JSON.stringify(draft, null, 2);
  show(h("h1", {}, t("tariffs")),
    section(t("tariffs"), table(["Code", t("name"), t("from"), t("to"), t("inForce"), t("tranches")], page.items.map((v) => [v.code, v.label, v.effective_from, v.effective_to || "",
      v.in_force ? "✔" : "", v.tranches.map((x) => `${x.kwh_from}–${x.kwh_to ?? "∞"} kWh : ${x.price_prepaid}/${x.price_postpaid}`).join(" · ")]))),
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); guarded(async () => {
      let body;
      try { body = JSON.parse(text.value); } catch { throw new Error(t("badJson")); }
      if (!(await confirmDialog(t("addTariffConfirm", { c: body.code, d: body.effective_from })))) return;
      await api("POST", "/admin/tariffs", body); await tariffsAdmin(); flash(t("created"));
    }); } }, h("h2", {}, t("newTariff")), h("label", { for: "tv-json" }, t("tariffJson")), text, h("button", { type: "submit", class: "primary" }, t("create"))));
}

async function auditAdmin(params) {
  const event = h("input", { id: "au-event", value: params.get("event") || "", maxlength: 40 });
  const q = new URLSearchParams({ limit: "100" });
  if (params.get("event")) q.set("event", params.get("event"));
  const page = await guarded(() => api("GET", `/admin/audit?${q}`));
  if (!page) return;
  show(h("h1", {}, t("audit")),
    h("form", { class: "card row", onsubmit: (e) => { e.preventDefault(); location.hash = `#/admin/audit?event=${encodeURIComponent(event.value)}`; } },
      h("label", { for: "au-event" }, t("event")), event, h("button", { type: "submit" }, t("filter"))),
    table([t("date"), t("event"), t("customer"), t("actor"), "IP", ""], page.items.map((e) => [when(e.at), e.event, e.user_id || "", e.actor_id || "", e.ip || "", JSON.stringify(e.details)])));
}

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
