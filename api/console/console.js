"use strict";
// gridd console: plain JavaScript, no build step. Talks to /api/v1 with the session
// cookie set by POST /api/v1/login. Every UI string comes from i18n.json (English and
// Simplified Chinese); every time is shown in the site's time zone with its offset.
// common.js, loaded first, has the helpers it shares with the district console.

// ---- colour scheme: the switch is in common.js; the chart follows it ----
$("#theme").addEventListener("click", () => { if (current) drawChart(); });

// ---- numbers and times (num, ts, hm, day, offset: common.js) ----
let info = { timezone: "UTC", currency: "" };
const signed = (v, d = 2) => { const r = Math.abs(v) < 0.5 * 10 ** -d ? 0 : v; return (r > 0 ? "+" : "") + num(r, d); };
const hms = (t) => `${hm(t)}:${String(new Date(t).getUTCSeconds()).padStart(2, "0")}`;
// tsShort omits the date when t falls on the site's current day.
const tsShort = (t) => (valid(t) ? (day(t) === day(info.now || Date.now()) ? `${hm(t)} ${offset(t)}` : ts(t)) : "");
// siteLocal converts a datetime-local value ("2026-12-07T16:00"), read as the site's
// wall-clock time, to a Date.
function siteLocal(v) {
  const [d, h] = v.split("T"), [y, mo, da] = d.split("-").map(Number), [hh, mi] = h.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, hh, mi);
  let t = wall;
  for (let i = 0; i < 2; i++) {
    const p = zoneParts(t);
    t -= Date.UTC(+p.y, +p.mo - 1, +p.d, +p.h, +p.mi) - wall;
  }
  return new Date(t);
}
const tr = (prefix, v) => (v ? t(prefix + "." + v) : "");

// ---- API ----
let me = null, siteInfo = null, current = null, currentEx = null, currentPrev = null, view = "site";

async function api(path, opts = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...opts });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401 && path !== "/api/v1/login") { showLogin(); throw new Error(t("err.login")); }
  if (!r.ok) throw new Error((body && body.error) || path + ": " + r.status);
  return body;
}
const post = (path, data, method = "POST") =>
  api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(data || {}) });

// fill writes rows into a table; each cell is labelled with its column for phones.
function fill(sel, rows) {
  const labels = $$(sel + " thead th").map((th) => th.textContent.trim());
  const tb = $(sel + " tbody");
  tb.replaceChildren(...rows.map((cells) => {
    const row = document.createElement("tr");
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (labels[i]) td.dataset.label = labels[i];
      if (c instanceof Node) td.append(c);
      else if (c && typeof c === "object") { td.textContent = c.text; if (c.cls) td.className = c.cls; }
      else { td.textContent = c ?? ""; if (typeof c === "number") { td.className = "num"; td.textContent = num(c, 1); } }
      row.append(td);
    });
    return row;
  }));
}
const li = (text, cls) => { const e = document.createElement("li"); e.textContent = text; if (cls) e.className = cls; return e; };

function showLogin() {
  if (live) { live.close(); live = null; }
  if (stream) { stream.close(); stream = null; }
  $("#app").hidden = true; $("#login").hidden = false; $("#logout").hidden = true; $("#whoami").textContent = "";
}

async function start() {
  try { me = await api("/api/v1/me"); } catch (e) { showLogin(); return; }
  info = await api("/api/v1/console");
  zone = info.timezone;
  $("#login").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  $("#whoami").textContent = `${me.name} (${t("role." + me.role)})`;
  $("#now").textContent = t("ui.site_time", { t: ts(info.now) });
  const operator = me.role === "operator";
  $$("nav button").forEach((b) => (b.hidden = operator ? b.dataset.view !== "chargers" : b.dataset.view === "chargers" && me.role !== "admin"));
  if (operator || me.role === "admin") startStream();
  startLive();
  $("#s-zone").textContent = t("op.zone", { zone: info.timezone, offset: offset(info.now) });
  if (operator) {
    $("#site").textContent = t("role.operator");
    $$("nav button").find((b) => b.dataset.view === "chargers").click();
    return;
  }
  const canDecide = me.role === "admin" || me.role === "dispatcher";
  const canPin = canDecide || me.role === "planner";
  $$(".dispatcher-only").forEach((e) => (e.hidden = !canDecide));
  $$(".planner-only").forEach((e) => (e.hidden = !canPin));
  siteInfo = await api("/api/v1/site");
  $("#site").textContent = info.site;
  refresh();
}

$("#login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    await post("/api/v1/login", { user: $("#user").value, password: $("#password").value });
    $("#password").value = "";
    await start();
  } catch (e) { $("#login-error").textContent = e.message; }
});
$("#logout").addEventListener("click", async () => { await post("/api/v1/logout"); showLogin(); });
$("#lang").addEventListener("change", () => {
  lang = $("#lang").value;
  localStorage.setItem("gridd.lang", lang);
  delete document.body.dataset.rendered;
  applyI18n();
  if ($("#asof").dataset.time) setAsOf($("#asof").dataset.time);
  if (me) { $("#whoami").textContent = `${me.name} (${t("role." + me.role)})`; $("#s-zone").textContent = t("op.zone", { zone: info.timezone, offset: offset(info.now) }); }
  refresh();
  if (current) renderSchedule();
});

$$("nav button").forEach((b) => b.addEventListener("click", () => {
  view = b.dataset.view;
  delete document.body.dataset.rendered;
  $$("nav button").forEach((x) => x.classList.toggle("active", x === b));
  $$(".view").forEach((v) => (v.hidden = v.id !== "view-" + view));
  refresh();
}));

// refresh redraws the current view; body[data-rendered] says which view in which
// language is on screen once it is drawn.
async function refresh() {
  if (!me) return;
  const want = view + ":" + lang;
  try {
    await refreshView();
    if (view + ":" + lang === want) document.body.dataset.rendered = want;
  } catch (e) { console.log(e); }
}
async function refreshView() {
  {
    info = await api("/api/v1/console");
    zone = info.timezone;
    $("#now").textContent = t("ui.site_time", { t: ts(info.now) });
    if (me.role === "operator") $("#site").textContent = t("role.operator");
    const ksi = info.kill_switch || {};
    $("#killswitch").textContent = ksi.engaged ? t("safety.paused_banner") : "";
    $("#killswitch").classList.toggle("on", !!ksi.engaged);
    if (view === "chargers") { await refreshChargers(); return; }
    const safety = await api("/api/v1/safety");
    const ks = safety.kill_switch;
    $("#killswitch").textContent = ks.engaged ? t("safety.paused_banner") : "";
    $("#killswitch").classList.toggle("on", ks.engaged);
    if (view === "site") await refreshSite(safety);
    if (view === "schedules") await refreshSchedules();
    if (view === "audit") await refreshAudit();
    if (view === "history") await refreshHistory();
    if (view === "planning") await refreshReplays();
  }
}

// ---- site ----
function setAsOf(at) {
  if (!valid(at)) return;
  const age = (new Date(info.now) - new Date(at)) / 1000;
  $("#asof").textContent = t("ui.as_of", { t: (day(at) === day(info.now) ? "" : day(at) + " ") + `${hms(at)} ${offset(at)}` });
  $("#asof").dataset.state = age > 120 ? "stale" : "fresh";
  $("#asof").dataset.time = new Date(at).toISOString();
}

// siteState holds what the site view shows; the live stream updates pts in place.
const siteState = { devices: [], pts: {}, safety: null, alarms: [], limits: [], proposed: [] };

async function refreshSite(safety) {
  const [devices, tel, alarms, limits, proposed] = await Promise.all([api("/api/v1/devices"), api("/api/v1/telemetry/latest"), api("/api/v1/alarms"),
    api("/api/v1/limits").catch(() => []), api("/api/v1/schedules?status=proposed").catch(() => [])]);
  siteState.devices = devices; siteState.safety = safety; siteState.alarms = alarms.alarms || [];
  siteState.limits = Array.isArray(limits) ? limits : (limits.limits || []); siteState.proposed = proposed;
  for (const v of tel) mergeValue(v);
  renderSite();
}

// mergeValue keeps the newest value of each device's point.
function mergeValue(v) {
  const d = (siteState.pts[v.device_id] ||= {});
  if (!d[v.point] || d[v.point].time <= v.time) d[v.point] = v;
}

function renderSite() {
  const { devices, pts, safety } = siteState;
  if (!safety || !siteInfo) return;
  let newest = null;
  for (const d of Object.values(pts)) for (const v of Object.values(d)) if (!newest || v.time > newest) newest = v.time;
  setAsOf(newest);
  renderAttention();
  const env = Object.fromEntries(safety.devices.map((d) => [d.device_id, d]));
  const kids = {};
  for (const n of siteInfo.nodes) (kids[n.Parent] ||= []).push(n);
  const node = (n) => {
    const meter = devices.find((d) => d.kind === "meter" && d.node === n.ID);
    const p = meter && pts[meter.id] && pts[meter.id].active_power_kw;
    let flow = "";
    if (p) {
      const dir = n.Parent ? (p.value >= 0 ? "flow.into" : "flow.out_of") : (p.value >= 0 ? "flow.import" : "flow.export");
      flow = `<span class="flow ${p.value >= 0 ? "in" : "out"}">${p.value >= 0 ? "▼" : "▲"} ${num(Math.abs(p.value))} kW ${esc(t(dir))}</span>`;
    }
    const devs = devices.filter((d) => d.node === n.ID && d.kind !== "meter").map((d) => {
      const v = pts[d.id] || {}, e = env[d.id];
      const pw = v.active_power_kw, soc = v.soc_pct, conn = v.connected;
      const q = pw ? pw.quality : "none";
      const state = d.kind === "bess" && soc ? `${t("dev.soc")} ${num(soc.value, 0)}%` : d.kind === "ev_charger" && conn ? t(conn.value >= 0.5 ? "dev.plugged" : "dev.free") : "";
      return `<li class="dev-row" data-device="${esc(d.id)}"><span class="dev"><b>${esc(d.id)}</b><span>${esc(tr("kind", d.kind))}</span>` +
        `<span class="num pw" data-time="${pw ? esc(pw.time) : ""}">${pw ? num(pw.value) + " kW" : ""}</span><span>${esc(state)} <span class="${esc(q)}">${esc(tr("quality", q))}</span>` +
        `${e ? ` <span class="${esc(e.comms)}">${esc(tr("comms", e.comms))}</span>` : ""}</span></span></li>`;
    }).join("");
    const sub = (kids[n.ID] || []).map(node).join("");
    return `<li><span class="node">${esc(n.ID)}</span> <small>${esc(t("site.limit", { kw: num(n.LimitKW, 0) }))}</small> ${flow}<ul>${devs}${sub}</ul></li>`;
  };
  $("#tree").innerHTML = `<ul class="tree">${(kids[""] || []).map(node).join("")}</ul>`;
  drawSLD(kids, devices, pts);
  const ks = safety.kill_switch;
  $("#ks-text").textContent = ks.engaged ? t("safety.engaged", { by: ks.by, since: ts(ks.since), reason: ks.reason }) : t("safety.running");
  const canDecide = me.role === "admin" || me.role === "dispatcher";
  fill("#overrides", safety.overrides.map((o) => {
    let cancel = "";
    if (canDecide) {
      cancel = document.createElement("button");
      cancel.type = "button"; cancel.textContent = t("ovr.cancel"); cancel.dataset.cancel = o.id;
      cancel.addEventListener("click", () => overrideAction(() => api(`/api/v1/overrides/${o.id}`, { method: "DELETE", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: $("#ks-reason").value.trim() }) })));
    }
    return [String(o.id), o.device_id, o.value_kw, ts(o.until), o.actor, o.reason, cancel];
  }));
  const sel = $("#o-device"), keep = sel.value;
  sel.replaceChildren(...devices.filter((d) => ["bess", "ev_charger", "pv"].includes(d.kind)).map((d) => { const o = document.createElement("option"); o.value = o.textContent = d.id; return o; }));
  if (keep) sel.value = keep;
}

// overrideAction sets or cancels an override with the safety card's reason; the
// device is written at once and the site redrawn.
async function overrideAction(call) {
  $("#o-msg").textContent = "";
  if (!$("#ks-reason").value.trim()) { $("#o-msg").textContent = t("common.reason_needed"); return; }
  try {
    const r = await call();
    $("#ks-reason").value = "";
    if (r && r.write_error) $("#o-msg").textContent = r.write_error;
  } catch (e) { $("#o-msg").textContent = e.message; }
  refresh();
}
$("#o-add").addEventListener("click", () => overrideAction(() => post("/api/v1/overrides", {
  device_id: $("#o-device").value, value_kw: parseFloat($("#o-kw").value),
  until: new Date(new Date(info.now).getTime() + parseFloat($("#o-hours").value || "1") * 3600e3).toISOString(), reason: $("#ks-reason").value.trim(),
})));

// drawSLD draws the node tree as a single-line diagram: the grid connection, one bus
// per node fed from its parent's bus, and the devices below each bus. Each feed shows
// the power its meter reads against the node's limit, coloured by loading.
function drawSLD(kids, devices, pts) {
  const nodes = siteInfo.nodes, W0 = 150, DEVW = 86, LEVEL = 150;
  const width = {}; // columns a node takes: its devices or its children, whichever is wider
  const devsOf = (id) => devices.filter((d) => d.node === id && d.kind !== "meter");
  const measure = (n) => { const c = (kids[n.ID] || []).reduce((a, k) => a + measure(k), 0); width[n.ID] = Math.max(1, devsOf(n.ID).length * DEVW / W0, c); return width[n.ID]; };
  const roots = kids[""] || [];
  const total = roots.reduce((a, n) => a + measure(n), 0);
  let depth = 0;
  const depthOf = (n, d) => { depth = Math.max(depth, d); (kids[n.ID] || []).forEach((k) => depthOf(k, d + 1)); };
  roots.forEach((n) => depthOf(n, 0));
  const W = Math.max(560, total * W0 + 20), H = 70 + (depth + 1) * LEVEL;
  const meterKW = (id) => { const m = devices.find((d) => d.kind === "meter" && d.node === id); const p = m && pts[m.id] && pts[m.id].active_power_kw; return p ? p.value : null; };
  const load = (kw, lim) => (kw == null || !lim ? "none" : Math.abs(kw) / lim >= 0.9 ? "high" : Math.abs(kw) / lim >= 0.7 ? "mid" : "ok");
  let svg = `<svg id="sld-svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(t("sld.title"))}">`;
  const gx = W / 2;
  svg += `<circle cx="${gx}" cy="18" r="12" class="sld-grid"/><text x="${gx + 18}" y="22">${esc(t("sld.grid", { imp: num(siteInfo.grid.ImportLimitKW, 0), exp: num(siteInfo.grid.ExportLimitKW, 0) }))}</text>`;
  const place = (n, x0, level, px, py) => {
    const w = width[n.ID] * W0, x = x0 + w / 2, y = 70 + level * LEVEL;
    const kw = meterKW(n.ID), state = load(kw, n.LimitKW);
    svg += `<line class="sld-feed sld-${state}" x1="${px}" y1="${py}" x2="${x}" y2="${y}" data-node="${esc(n.ID)}"/>`;
    const label = kw == null ? t("sld.no_meter", { lim: num(n.LimitKW, 0) }) : `${kw >= 0 ? "▼" : "▲"} ${num(Math.abs(kw), 0)} / ${num(n.LimitKW, 0)} kW`;
    svg += `<text class="sld-flow sld-${state}" data-node="${esc(n.ID)}" x="${(px + x) / 2 + 6}" y="${(py + y) / 2}">${esc(label)}</text>`;
    svg += `<line class="sld-bus" x1="${x0 + 8}" y1="${y}" x2="${x0 + w - 8}" y2="${y}"/><text class="sld-node" x="${x0 + 10}" y="${y - 6}">${esc(n.ID)}</text>`;
    const ds = devsOf(n.ID), cw = (kids[n.ID] || []).length ? 0 : 1;
    ds.forEach((d, i) => {
      const dx = x0 + (cw ? (i + 0.5) * (w / Math.max(1, ds.length)) : 12 + i * 14), dy = y + 36;
      const p = pts[d.id] && pts[d.id].active_power_kw;
      if (cw) {
        svg += `<line class="sld-dev-line" x1="${dx}" y1="${y}" x2="${dx}" y2="${dy - 10}"/><rect class="sld-dev" x="${dx - 38}" y="${dy - 10}" width="76" height="34" rx="4"/>`;
        svg += `<text x="${dx}" y="${dy + 4}" text-anchor="middle">${esc(d.id)}</text><text class="sld-kw" data-device="${esc(d.id)}" x="${dx}" y="${dy + 18}" text-anchor="middle">${p ? num(p.value, 1) + " kW" : "–"}</text>`;
      }
    });
    if (!cw && ds.length) svg += `<text x="${x0 + 10}" y="${y + 18}" class="sld-kw">${esc(ds.map((d) => `${d.id} ${pts[d.id] && pts[d.id].active_power_kw ? num(pts[d.id].active_power_kw.value, 1) : "–"}`).join(" · "))} kW</text>`;
    let cx = x0;
    for (const k of kids[n.ID] || []) { place(k, cx, level + 1, x, y); cx += width[k.ID] * W0; }
  };
  let x0 = (W - total * W0) / 2;
  for (const n of roots) { place(n, x0, 0, gx, 30); x0 += width[n.ID] * W0; }
  svg += "</svg>";
  $("#sld").innerHTML = svg;
}

// ---- history ----
async function refreshHistory() {
  const sel = $("#h-what");
  if (!sel.options.length) {
    const devices = await api("/api/v1/devices");
    const opts = siteInfo.nodes.map((n) => [`node:${n.ID}`, t("hist.node", { id: n.ID })]).concat(devices.filter((d) => d.kind !== "meter").map((d) => [`device:${d.id}`, `${d.id} (${tr("kind", d.kind)})`]));
    sel.replaceChildren(...opts.map(([v, l]) => { const o = document.createElement("option"); o.value = v; o.textContent = l; return o; }));
    const firstLoad = devices.find((d) => d.kind === "load" || d.kind === "pv");
    if (firstLoad) sel.value = `device:${firstLoad.id}`;
  }
  const [kind, id] = sel.value.split(/:(.*)/);
  // The range ends a while after now, so the forecast ahead shows next to the actuals.
  const hours = +$("#h-range").value, now = new Date(info.now), from = new Date(now.getTime() - hours * 3600e3), to = new Date(now.getTime() + Math.min(24, hours / 2) * 3600e3);
  const q = new URLSearchParams({ [kind]: id, from: from.toISOString(), to: to.toISOString(), width_seconds: String(Math.max(info.step_minutes * 60, Math.round(hours * 3600 / 300))) });
  const h = await api("/api/v1/history?" + q);
  drawHistory(h, from, to, now);
}
$("#h-what").addEventListener("change", () => refreshHistory());
$("#h-range").addEventListener("change", () => refreshHistory());

function drawHistory(h, from, to, now) {
  const W = Math.max(340, Math.min(1400, $("#h-chart").clientWidth || 900)), H = 260, L = 56, R = 16, top = 10, bot = 40;
  const fc = (h.forecast && h.forecast.points) || [];
  const vals = h.actual.flatMap((b) => [b.min, b.max]).concat(fc.flatMap((p) => [p.p10, p.p90]));
  if (!vals.length) { $("#h-chart").textContent = t("hist.empty"); $("#h-legend").textContent = ""; return; }
  const step = niceStep(Math.max(1, Math.max(...vals) - Math.min(0, ...vals)), 5);
  const lo = Math.floor(Math.min(0, ...vals) / step) * step, hi = Math.ceil(Math.max(1, ...vals) / step) * step;
  const t0 = from.getTime(), t1 = to.getTime();
  const X = (x) => L + ((new Date(x).getTime() - t0) * (W - L - R)) / (t1 - t0), Y = (v) => top + ((hi - v) * (H - top - bot)) / (hi - lo);
  let svg = `<svg id="hist-svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(t("hist.aria", { id: h.device }))}">`;
  for (let v = lo; v <= hi + 1e-9; v += step) svg += `<line class="${Math.abs(v) < 1e-9 ? "zero" : "gridline"}" x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}"/><text x="${L - 4}" y="${Y(v) + 4}" text-anchor="end">${num(v, 0)}</text>`;
  svg += `<text x="4" y="${top + 2}" dominant-baseline="hanging">kW</text>`;
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) { const x = t0 + (i * (t1 - t0)) / ticks; svg += `<text class="tick-x" data-time="${new Date(x).toISOString()}" x="${X(x)}" y="${H - bot + 14}" text-anchor="middle">${esc((t1 - t0 > 86400e3 ? day(x).slice(5) + " " : "") + hm(x))}</text>`; }
  svg += `<text x="${(L + W - R) / 2}" y="${H - bot + 30}" text-anchor="middle">${esc(t("chart.time_axis", { offset: offset(to), day: day(from) }))}</text>`;
  if (fc.length) {
    const up = fc.map((p) => `${X(p.time)},${Y(Math.max(p.p10, p.p90))}`), dn = fc.slice().reverse().map((p) => `${X(p.time)},${Y(Math.min(p.p10, p.p90))}`);
    svg += `<path class="band" d="M${up.join("L")}L${dn.join("L")}Z" fill="${PALETTE[0]}" fill-opacity=".2" stroke="none"/>`;
    svg += `<path class="p50" d="M${fc.map((p) => `${X(p.time)},${Y(p.p50)}`).join("L")}" fill="none" stroke="${PALETTE[0]}" stroke-width="1.5" stroke-dasharray="5 3"/>`;
  }
  svg += `<line class="now" x1="${X(now)}" x2="${X(now)}" y1="${top}" y2="${H - bot}" stroke="var(--axis)" stroke-dasharray="2 2"/><text x="${X(now) + 3}" y="${top + 10}">${esc(t("hist.now"))}</text>`;
  if (h.actual.length) svg += `<path class="actual" d="M${h.actual.map((b) => `${X(new Date(b.time).getTime() + h.width_seconds * 500)},${Y(b.mean)}`).join("L")}" fill="none" stroke="${PRICE}" stroke-width="2"/>`;
  svg += "</svg>";
  $("#h-chart").innerHTML = svg;
  const key = (style, label) => `<span><i style="${style}"></i>${esc(label)}</span>`;
  $("#h-legend").innerHTML = key(`background:${PRICE};height:2px`, t("hist.actual", { min: Math.round(h.width_seconds / 60) })) + (fc.length ? key(`border-top:2px dashed ${PALETTE[0]};height:0`, t("hist.p50")) + key(`background:${PALETTE[0]};opacity:.3`, t("hist.band")) : "");
  $("#h-note").textContent = fc.length ? t("hist.note") : "";
}

// renderAttention lists what needs a dispatcher's eye: the server's alarms (which a
// dispatcher acknowledges), devices not answering, batteries at their reserve, the
// external limits in force and the schedules waiting for approval with their deadline.
function renderAttention() {
  const canAck = me.role === "admin" || me.role === "dispatcher";
  // Redrawn after every poll: keep what a dispatcher is typing, and the focus.
  const typed = Object.fromEntries($$("#alarms input[data-ack-reason]").map((i) => [i.dataset.ackReason, i.value]));
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.ackReason : undefined;
  const items = [];
  for (const a of siteState.alarms.filter((a) => a.active || !a.acked)) {
    const kind = a.key.split(":")[0];
    const e = li("", a.severity);
    e.dataset.key = a.key;
    e.innerHTML = `<b>${esc(tr("severity", a.severity))}</b> <span>${esc(dict.en["alarm." + kind] ? t("alarm." + kind) : kind)}</span> <span>${esc(a.subject)}</span> <small>${esc(a.text)}</small> <small>${esc(t("alarms.since", { t: tsShort(a.since) }))}</small>` +
      (a.active ? "" : ` <small>${esc(t("alarms.cleared"))}</small>`) + (a.acked ? ` <small>${esc(t("alarms.acked", { by: a.acked_by }))}</small>` : "");
    if (canAck && !a.acked) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = t("alarms.ack"); b.dataset.ack = a.key;
      const inp = document.createElement("input");
      inp.placeholder = t("alarms.ack_reason"); inp.setAttribute("aria-label", t("alarms.ack_reason")); inp.dataset.ackReason = a.key;
      inp.value = typed[a.key] || "";
      b.addEventListener("click", async () => {
        const reason = inp.value.trim();
        if (!reason) { inp.focus(); return; }
        try { await post(`/api/v1/alarms/${encodeURIComponent(a.key)}/ack`, { reason }); } catch (err) { e.append(" " + err.message); }
        refresh();
      });
      e.append(" ", inp, " ", b);
    }
    items.push(e);
  }
  for (const d of siteState.safety.devices) {
    if (d.comms !== "online") {
      const e = li("", d.comms === "suspect" ? "warning" : "critical");
      e.dataset.kind = "comms";
      e.textContent = t("attn.comms", { device: d.device_id, state: tr("comms", d.comms), n: d.missed_polls });
      items.push(e);
    }
    for (const why of d.interlocks || []) {
      if (/^reserve interlock/.test(why)) {
        const e = li("", "warning");
        e.dataset.kind = "reserve";
        e.textContent = t("attn.reserve", { device: d.device_id, soc: num(d.soc_pct, 1) });
        items.push(e);
      }
    }
  }
  for (const l of siteState.limits) {
    const e = li("", "warning");
    e.dataset.kind = "limit";
    const parts = [];
    if (l.import_kw != null) parts.push(t("attn.limit_import", { kw: num(l.import_kw, 0) }));
    if (l.export_kw != null) parts.push(t("attn.limit_export", { kw: num(l.export_kw, 0) }));
    if (l.import_steps_kw || l.export_steps_kw) parts.push(t("attn.limit_steps"));
    e.textContent = t("attn.limit", { what: parts.join(", "), source: l.source, by: l.actor, reason: l.reason, until: tsShort(l.until) });
    items.push(e);
  }
  for (const sc of siteState.proposed) {
    const e = li("", "warning");
    e.dataset.kind = "approval";
    const dl = info.approval_deadline_seconds > 0 ? new Date(new Date(sc.created_at).getTime() + info.approval_deadline_seconds * 1000) : null;
    e.textContent = dl ? t("attn.approval", { id: sc.id, t: tsShort(dl) }) : t("attn.approval_open", { id: sc.id });
    items.push(e);
  }
  $("#alarm-count").textContent = items.length ? t("alarms.count", { n: items.length }) : t("alarms.none");
  $("#alarms").replaceChildren(...items);
  if (focused) { const i = $$("#alarms input[data-ack-reason]").find((x) => x.dataset.ackReason === focused); if (i) { i.focus(); i.setSelectionRange(i.value.length, i.value.length); } }
}

$("#pause").addEventListener("click", () => ksAction("pause"));
$("#resume").addEventListener("click", () => ksAction("resume"));
async function ksAction(what) {
  const reason = $("#ks-reason").value.trim();
  if (!reason) { $("#ks-text").textContent = t("common.reason_needed"); return; }
  try { await post("/api/v1/safety/" + what, { reason }); $("#ks-reason").value = ""; } catch (e) { $("#ks-text").textContent = e.message; }
  refresh();
}

// ---- schedules ----
async function refreshSchedules() {
  const list = await api("/api/v1/schedules");
  fill("#schedules", list.slice(0, 50).map((s) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = t("sched.open"); b.dataset.open = s.id;
    b.setAttribute("aria-label", t("sched.open_n", { id: s.id }));
    b.addEventListener("click", () => openSchedule(s.id));
    return [String(s.id), ts(s.created_at), { text: tr("status", s.status), cls: s.status }, `${num(s.objective, 2)} ${info.currency}`, s.approver || "", b];
  }));
  if (current) {
    const s = list.find((x) => x.id === current.id);
    if (s && s.status !== current.status) openSchedule(current.id);
  }
}

async function openSchedule(id) {
  const [s, ex] = await Promise.all([api(`/api/v1/schedules/${id}`), api(`/api/v1/schedules/${id}/explain`)]);
  let prev = null;
  if (ex.previous) { try { prev = await api(`/api/v1/schedules/${ex.previous}`); } catch (e) { prev = null; } }
  current = s; currentEx = ex; currentPrev = prev;
  $("#detail").hidden = false;
  renderSchedule();
  const sel = $("#pin-device"), keep = sel.value;
  sel.replaceChildren(...Object.keys(s.setpoints_kw || {}).filter((d) => !d.startsWith("pv")).map((d) => { const o = document.createElement("option"); o.value = o.textContent = d; return o; }));
  if (keep) sel.value = keep;
  updateButtons();
}

// reasonText writes an explanation reason in the current language from its key and args.
function reasonText(r) {
  const a = r.args || {};
  if (!r.key || !dict.en["why." + r.key]) return r.text;
  const f = {};
  for (const [k, v] of Object.entries(a)) {
    if (k === "at" || k === "until") f[k] = tsShort(v);
    else if (k === "departs") f[k] = ts(v);
    else if (k === "soc_pct" || k === "kw" || k === "curtailed_kw") f[k] = num(v, k === "soc_pct" ? 0 : 1);
    else if (k === "now" || k === "then" || k === "export") f[k] = `${num(v, 2)} ${info.currency}/kWh`;
    else if (k === "energy_kwh") f[k] = num(v, 1);
    else if (k === "by" || k === "reason" || k === "device" || k === "node") f[k] = v;
  }
  let s = t("why." + r.key, f);
  if (a.departs) s += t("why.departs", f);
  if (a.soc_pct !== undefined) s += t("why.soc", f);
  if (a.binding) s += t("why.binding", { list: a.binding.map(bindingText).join(lang === "zh-CN" ? "；" : "; ") });
  return s;
}

// bindingText translates a binding constraint ("node f1 limit at 16:00 +08:00").
const BINDING = [
  [/^grid import limit at (.+)$/, "bind.grid_import", ["at"]],
  [/^grid export limit at (.+)$/, "bind.grid_export", ["at"]],
  [/^demand peak at (.+)$/, "bind.peak", ["at"]],
  [/^node (\S+) limit at (.+)$/, "bind.node", ["id", "at"]],
  [/^node (\S+) reverse-flow limit at (.+)$/, "bind.node_reverse", ["id", "at"]],
  [/^battery (\S+) (max_charge|max_discharge|max_soc|min_soc|terminal_soc) at (.+)$/, "bind.battery", ["id", "what", "at"]],
];
function bindingParts(b) {
  for (const [re, key, names] of BINDING) {
    const m = b.match(re);
    if (m) { const a = {}; names.forEach((n, i) => (a[n] = m[i + 1])); if (a.what) a.what = t("bind." + a.what); return { key, a }; }
  }
  return null;
}
// policyText translates an auto-approve policy reason.
const POLICY = [
  [/^auto-approve is off$/, "policy.off", []],
  [/^solver status is not optimal$/, "policy.not_optimal", []],
  [/^no plan keeps every limit: (\d+) violations, e\.g\. (.+)$/, "policy.violations", ["n", "what"]],
  [/^kill switch engaged by (\S+): (.*)$/, "policy.paused", ["by", "reason"]],
  [/^pin on (\S+) by (\S+) only proposes: a dispatcher decides$/, "policy.pin", ["id", "by"]],
  [/^setpoints outside device limits: (.+)$/, "policy.outside", ["what"]],
  [/^cost rises (\S+) (\S*) ?over schedule (\d+), bound (\S+)$/, "policy.cost", ["kw", "cur", "id", "bound"]],
  [/^setpoint of (.+) changes (\S+) kW against schedule (\d+), bound (\S+) kW$/, "policy.change", ["what", "kw", "id", "bound"]],
];
function policyText(s) {
  for (const [re, key, names] of POLICY) {
    const m = s.match(re);
    if (m) { const a = {}; names.forEach((n, i) => (a[n] = m[i + 1])); return t(key, a); }
  }
  return s;
}

function bindingText(b) { const p = bindingParts(b); return p ? t("bind.at", { what: t(p.key, p.a), at: p.a.at }) : b; }

function renderSchedule() {
  const s = current, ex = currentEx;
  if (!s) return;
  $("#d-id").textContent = s.id;
  $("#d-status").textContent = tr("status", s.status); $("#d-status").className = s.status; $("#d-status").dataset.status = s.status;
  $("#d-msg").textContent = "";
  // Approval deadline and the auto-approve verdict.
  const dl = info.approval_deadline_seconds > 0 ? new Date(new Date(s.created_at).getTime() + info.approval_deadline_seconds * 1000) : null;
  $("#d-deadline").textContent = s.status === "proposed" ? (dl ? t("sched.deadline", { t: ts(dl), min: Math.max(0, Math.round((dl - new Date(info.now)) / 60000)) }) : t("sched.no_deadline")) :
    (valid(s.decided_at) ? t("sched.decided", { status: tr("status", s.status), by: s.approver || "", t: ts(s.decided_at), reason: s.reason || "" }) : "");
  const pol = ex.policy;
  $("#d-policy").textContent = pol ? (pol.approve ? t("sched.policy_yes") : t("sched.policy_no", { why: (pol.reasons || []).map(policyText).join(lang === "zh-CN" ? "；" : "; ") })) + (info.auto_approve ? "" : " " + t("sched.policy_manual")) : "";
  drawChart();
  $("#reasons").replaceChildren(...ex.reasons.filter((r) => r.step === 0).map((r) => li(`${ts(r.time)} ${reasonText(r)}`)));
  const pins = ex.pins || [];
  $("#cost-prev").textContent = ex.previous ? (pins.length ? t("sched.vs_unpinned", { id: ex.previous }) : t("sched.vs", { id: ex.previous })) : t("sched.no_previous");
  $("#d-pins").textContent = pins.length ? t("sched.pins", { list: pins.map((p) => t("sched.pin_item", { id: p.device_id, kw: num(p.power_kw, 1), until: tsShort(p.until), by: p.actor, reason: p.reason })).join("; "), id: ex.previous || "–" }) : "";
  const money = (v) => (v == null ? "" : `${num(v, 2)} ${info.currency}`);
  fill("#cost", ex.cost.map((c) => [t("cost." + c.term), money(c.this), money(c.previous), c.change == null ? "" : `${signed(c.change)} ${info.currency}`]));
  fill("#diff", (ex.diff || []).map((d) => [d.device_id, num(d.max_change_kw, 1), d.max_change_kw >= 0.05 ? tsShort(d.at) : ""]));
  // Binding constraints grouped by constraint, with the times they bind.
  const groups = new Map();
  for (const st of ex.steps) for (const b of st.binding || []) {
    const p = bindingParts(b);
    const name = p ? t(p.key, p.a) : b;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(st.time);
  }
  const items = [...groups].map(([name, times]) => li(`${name}: ${times.slice(0, 6).map(tsShort).join(", ")}${times.length > 6 ? " " + t("sched.more", { n: times.length - 6 }) : ""}`));
  $("#binding").replaceChildren(...(items.length ? items : [li(t("sched.none"))]));
}

function updateButtons() {
  const hasReason = $("#reason").value.trim() !== "";
  const proposed = current && current.status === "proposed";
  $("#approve").disabled = !(hasReason && proposed);
  $("#reject").disabled = !(hasReason && proposed);
  $("#pin").disabled = !($("#pin-reason").value.trim() !== "" && $("#pin-kw").value !== "");
}
$("#reason").addEventListener("input", updateButtons);
$("#pin-kw").addEventListener("input", updateButtons);
$("#pin-reason").addEventListener("input", updateButtons);

async function decide(action) {
  const reason = $("#reason").value.trim();
  if (!reason || !current) return;
  try {
    const r = await post(`/api/v1/schedules/${current.id}/${action}`, { reason });
    $("#reason").value = "";
    $("#d-msg").textContent = r.write_error || "";
  } catch (e) { $("#d-msg").textContent = e.message; }
  await openSchedule(current.id);
  refreshSchedules();
}
$("#approve").addEventListener("click", () => decide("approve"));
$("#reject").addEventListener("click", () => decide("reject"));
$("#pin").addEventListener("click", async () => {
  const reason = $("#pin-reason").value.trim();
  const hours = parseFloat($("#pin-hours").value || "1");
  const until = new Date(new Date(info.now).getTime() + hours * 3600e3).toISOString();
  try {
    const s = await post("/api/v1/pins", { device_id: $("#pin-device").value, power_kw: parseFloat($("#pin-kw").value), until, reason });
    $("#pin-reason").value = "";
    await refreshSchedules();
    await openSchedule(s.id);
  } catch (e) { $("#d-msg").textContent = e.message; }
});

// ---- the schedule chart ----
// Okabe-Ito colours, safe for the common colour-vision deficiencies. Assets take the
// first six; the lines take colours no asset uses: grid import (this plan) the text
// colour, the previous plan grey, the price vermillion.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442"];
const PRICE = "#D55E00", PREV = "#8C8C8C";
const niceStep = (span, n) => { const r = span / n, p = Math.pow(10, Math.floor(Math.log10(r))); return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= r) || p * 10; };

// layersOf returns the stacked layers: each battery and PV plant, and the EV chargers
// together (a dozen chargers are one layer, each on the operator's view).
function layersOf(plan, n) {
  const groups = [];
  const evs = [];
  const pinned = new Map(); // a pinned device is two fixed series in the plan: its charge and its discharge
  for (const a of plan.assets || []) {
    const m = a.id.match(/^pin(?:-gen)?:(.+)$/);
    if (m) {
      if (!pinned.has(m[1])) { const g = { id: m[1], label: t("chart.pinned", { id: m[1] }), assets: [] }; pinned.set(m[1], g); groups.push(g); }
      pinned.get(m[1]).assets.push(a);
    } else if (a.kind === "ev") evs.push(a);
    else groups.push({ id: a.id, label: a.id, assets: [a] });
  }
  if (evs.length) groups.push({ id: "ev", label: t("chart.evs", { n: evs.length }), assets: evs });
  for (const p of (currentEx && currentEx.pins) || []) {
    const g = groups.find((x) => x.id === p.device_id);
    if (g) g.label = t("chart.pinned", { id: p.device_id });
  }
  return groups.map((g, i) => ({ ...g, color: PALETTE[i % PALETTE.length], pattern: i >= PALETTE.length, power: Array.from({ length: n }, (_, k) => g.assets.reduce((x, a) => x + (a.power_kw[k] || 0), 0)) }));
}

function drawChart() {
  const s = current, prev = currentPrev;
  const doc = s && s.plan, plan = doc && doc.plan, scn = doc && doc.scenario;
  if (!plan) { $("#chart").textContent = t("chart.no_plan"); return; }
  const W = Math.max(340, Math.min(1400, $("#chart").clientWidth || 940)), small = W < 600;
  const L = small ? 44 : 60, R = small ? 50 : 76, H = small ? 240 : 300, top = 12, bot = 40;
  const SH = 110, sTop = H + 16, total = sTop + SH + 34; // the SoC panel below the power panel
  const n = s.steps;
  const layers = layersOf(plan, n);
  const up = new Array(n).fill(0), down = new Array(n).fill(0);
  for (const l of layers) {
    l.lo = []; l.hi = [];
    for (let k = 0; k < n; k++) {
      const v = l.power[k];
      if (v >= 0) { l.lo.push(up[k]); up[k] += v; l.hi.push(up[k]); } else { l.hi.push(down[k]); down[k] += v; l.lo.push(down[k]); }
    }
  }
  const grid = (p) => (p.grid_import_kw || []).map((v, k) => v - ((p.grid_export_kw || [])[k] || 0));
  const now = grid(plan);
  let prevLine = null;
  if (prev && prev.plan && prev.plan.plan) {
    const off = Math.round((new Date(s.start) - new Date(prev.start)) / (s.step_minutes * 60e3));
    const g = grid(prev.plan.plan);
    prevLine = Array.from({ length: n }, (_, k) => g[k + off]);
  }
  const all = [...down, ...up, ...now, ...(prevLine || []).filter((v) => v !== undefined)];
  const step = niceStep(Math.max(1, Math.max(...all) - Math.min(0, ...all)), 5);
  const lo = Math.floor(Math.min(0, ...all) / step) * step, hi = Math.ceil(Math.max(1, ...all) / step) * step;
  const X = (k) => L + (k * (W - L - R)) / n, Y = (v) => top + ((hi - v) * (H - top - bot)) / (hi - lo);
  const price = (scn && scn.grid && scn.grid.import_price) || [];
  const pstep = niceStep(Math.max(0.01, ...price), 4), pmax = Math.ceil(Math.max(0.01, ...price) / pstep) * pstep;
  const YP = (v) => top + ((pmax - v) * (H - top - bot)) / pmax;
  const YS = (v) => sTop + ((100 - v) * SH) / 100;
  let svg = `<svg id="plan-svg" viewBox="0 0 ${W} ${total}" width="${W}" height="${total}" role="img" aria-label="${esc(t("chart.aria", { id: s.id }))}">`;
  svg += `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#0006"/></pattern></defs>`;
  // Gridlines and the kW axis; the zero line stronger.
  for (let v = lo; v <= hi + 1e-9; v += step) {
    svg += `<line class="${Math.abs(v) < 1e-9 ? "zero" : "gridline"}" x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}"/>`;
    svg += `<text class="tick-y" x="${L - 4}" y="${Y(v) + 4}" text-anchor="end">${num(v, 0)}</text>`;
  }
  svg += `<text x="4" y="${top + 2}" dominant-baseline="hanging">kW</text>`;
  for (let v = 0; v <= pmax + 1e-9; v += pstep) svg += `<text class="tick-price" x="${W - R + 4}" y="${YP(v) + 4}" fill="${PRICE}">${num(v, 2)}</text>`;
  svg += `<text class="axis-price" x="${W - 2}" y="${top + 2}" text-anchor="end" dominant-baseline="hanging">${esc(info.currency)}/kWh</text>`;
  for (const l of layers) {
    let d = "";
    for (let k = 0; k < n; k++) d += `${k ? "L" : "M"}${X(k)},${Y(l.hi[k])}L${X(k + 1)},${Y(l.hi[k])}`;
    for (let k = n - 1; k >= 0; k--) d += `L${X(k + 1)},${Y(l.lo[k])}L${X(k)},${Y(l.lo[k])}`;
    svg += `<path class="layer" data-asset="${esc(l.id)}" data-color="${l.color}" d="${d}Z" fill="${l.color}" fill-opacity=".75" stroke="none"><title>${esc(l.label)}</title></path>`;
    if (l.pattern) svg += `<path d="${d}Z" fill="url(#hatch)" stroke="none"/>`;
  }
  const path = (vals, y) => vals.map((v, k) => (v === undefined ? "" : `${k && vals[k - 1] !== undefined ? "L" : "M"}${X(k + 0.5)},${y(v)}`)).join("");
  // The previous plan under the current one: wide and grey, so both stay visible where they agree.
  if (prevLine) svg += `<path class="prev-line" d="${path(prevLine, Y)}" fill="none" stroke="${PREV}" stroke-width="5" stroke-opacity=".7" stroke-linejoin="round"/>`;
  svg += `<path class="grid-line" d="${path(now, Y)}" fill="none" stroke="currentColor" style="color: var(--fg)" stroke-width="1.8"/>`;
  if (price.length) svg += `<path class="price-line" d="${path(price.slice(0, n), YP)}" fill="none" stroke="${PRICE}" stroke-width="1.5" stroke-dasharray="6 3"/>`;
  // Time axis: site time.
  const every = Math.max(1, Math.round(n / (small ? 4 : 8)));
  for (let k = 0; k <= n; k += every) {
    const at = new Date(new Date(s.start).getTime() + k * s.step_minutes * 60e3);
    svg += `<line class="gridline" x1="${X(k)}" x2="${X(k)}" y1="${top}" y2="${H - bot}"/><line class="gridline" x1="${X(k)}" x2="${X(k)}" y1="${sTop}" y2="${sTop + SH}"/>`;
    svg += `<text class="tick-x" data-time="${at.toISOString()}" x="${X(k)}" y="${H - bot + 14}" text-anchor="middle">${hm(at)}</text>`;
  }
  svg += `<text class="axis-x" x="${(L + W - R) / 2}" y="${H - bot + 30}" text-anchor="middle">${esc(t("chart.time_axis", { offset: offset(s.start), day: day(s.start) }))}</text>`;
  // SoC panel: each battery's state of charge in % of capacity, in its layer's colour.
  for (const v of [0, 50, 100]) {
    svg += `<line class="${v === 0 ? "zero" : "gridline"}" x1="${L}" x2="${W - R}" y1="${YS(v)}" y2="${YS(v)}"/><text class="tick-soc" x="${L - 4}" y="${YS(v) + 4}" text-anchor="end">${v}%</text>`;
  }
  svg += `<text class="axis-soc" x="4" y="${sTop - 4}">${esc(t("chart.soc_axis"))}</text>`;
  for (const a of (plan.assets || []).filter((a) => a.soc_kwh)) {
    const cap = (info.batteries && info.batteries[a.id]) || Math.max(...a.soc_kwh) || 1;
    const l = layers.find((x) => x.id === a.id);
    svg += `<path class="soc-line" data-asset="${esc(a.id)}" d="${path(a.soc_kwh.slice(0, n).map((v) => Math.min(100, (v / cap) * 100)), YS)}" fill="none" stroke="${l ? l.color : PALETTE[0]}" stroke-width="2"/>`;
  }
  svg += "</svg>";
  $("#chart").innerHTML = svg;
  const key = (style, label, cls) => `<span class="${cls || ""}"><i style="${style}"></i>${esc(label)}</span>`;
  $("#legend").innerHTML = layers.map((l) => key(`background:${l.color}`, l.label, "legend-layer")).join("") +
    key("background:var(--fg);height:2px", t("chart.grid_now")) + (prevLine ? key(`background:${PREV};height:5px`, t((currentEx.pins || []).length ? "chart.grid_unpinned" : "chart.grid_prev", { id: prev.id })) : "") +
    key(`border-top:2px dashed ${PRICE};height:0`, t("chart.price", { cur: info.currency })) +
    (plan.assets || []).filter((a) => a.soc_kwh).map((a) => { const l = layers.find((x) => x.id === a.id); return key(`background:${l ? l.color : PALETTE[0]};height:2px`, t("chart.soc", { id: a.id }), "legend-soc"); }).join("");
}
let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => current && drawChart(), 150); });

// ---- live values ----
let live = null;
function startLive() {
  if (live) live.close();
  live = new EventSource("/api/v1/live");
  live.addEventListener("values", (ev) => {
    const u = JSON.parse(ev.data);
    for (const v of u.values) mergeValue(v);
    if (view === "site") { renderSite(); refreshAttention(); }
    if (view === "chargers") renderChargers();
  });
}

// refreshAttention re-reads the alarms and the devices' comms state after a poll, at
// most every 5 s, so a device that stops answering shows without waiting for the
// view's refresh.
let attentionAt = 0;
async function refreshAttention() {
  if (me.role === "operator" || Date.now() - attentionAt < 5000) return;
  attentionAt = Date.now();
  try {
    const [safety, alarms] = await Promise.all([api("/api/v1/safety"), api("/api/v1/alarms")]);
    siteState.safety = safety; siteState.alarms = alarms.alarms || [];
    if (view === "site") renderSite();
  } catch (e) { console.log(e); }
}

// ---- charging operators ----
let stream = null;
function startStream() {
  if (stream) stream.close();
  stream = new EventSource("/api/v1/operator/stream");
  const state = (s) => { $("#stream-state").textContent = t("op.stream_" + s); $("#stream-state").dataset.state = s; };
  stream.addEventListener("open", () => state("live"));
  stream.addEventListener("error", () => state("reconnecting"));
  stream.addEventListener("setpoint", () => { if (view === "chargers") refreshChargers(); });
}

// renderChargers lists every charger of the operator, free ones included, with its
// live state.
function renderChargers() {
  const { devices, pts } = siteState;
  const chargers = devices.filter((d) => d.kind === "ev_charger");
  let newest = null;
  fill("#op-chargers", chargers.map((d) => {
    const v = pts[d.id] || {}, pw = v.active_power_kw, conn = v.connected;
    if (pw && (!newest || pw.time > newest)) newest = pw.time;
    const state = conn ? t(conn.value >= 0.5 ? "dev.plugged" : "dev.free") : t("quality.none");
    const p = pw ? { text: num(pw.value, 1) + (pw.value < -0.05 ? " " + t("op.v2g") : ""), cls: pw.quality } : "";
    return [d.id, state, p, pw ? tsShort(pw.time) : ""];
  }));
  if (newest) setAsOf(newest);
}

// renderPlan shows the next steps of each charger's plan in site time.
function renderPlan(plan) {
  const ids = Object.keys(plan.chargers || {}).sort();
  const n = Math.min(plan.steps || 0, $("#op-plan").clientWidth < 500 ? 4 : 8);
  const times = Array.from({ length: n }, (_, k) => new Date(new Date(plan.start).getTime() + k * plan.step_minutes * 60e3));
  $("#op-plan thead tr").innerHTML = `<th>${esc(t("col.charger"))}</th>` + times.map((x) => `<th>${esc(hm(x))}</th>`).join("");
  $("#op-plan-note").textContent = plan.schedule_id ? t("op.plan_note", { id: plan.schedule_id, status: tr("status", plan.status), offset: offset(plan.start) }) : t("sched.none");
  fill("#op-plan", ids.map((id) => [id, ...plan.chargers[id].slice(0, n).map((v) => ({ text: num(v, 1) + (v < -0.05 ? " V2G" : ""), cls: v < -0.05 ? "v2g" : "" }))]));
}

function renderSessions(list) {
  fill("#op-sessions", list.map((x) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = t("ovr.cancel"); b.dataset.cancelSession = x.session.device_id;
    b.addEventListener("click", async () => {
      const reason = $("#sess-reason").value.trim();
      if (!reason) { $("#sess-reason").focus(); return; }
      try { await api(`/api/v1/operator/sessions/${encodeURIComponent(x.session.device_id)}`, { method: "DELETE", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }) }); $("#sess-reason").value = ""; } catch (e) { $("#s-msg").textContent = e.message; }
      refreshChargers();
    });
    return [x.session.device_id, ts(x.session.arrival), ts(x.session.departure), x.session.energy_kwh, ts(x.session.reported), { text: t("sess." + x.status, { device: x.session.device_id }), cls: x.status }, b];
  }));
}

async function refreshChargers() {
  const [sps, devs, plan, sessions] = await Promise.all([api("/api/v1/operator/setpoints"), api("/api/v1/devices"), api("/api/v1/operator/plan"), api("/api/v1/operator/sessions")]);
  renderPlan(plan);
  renderSessions(sessions);
  siteState.devices = devs;
  if (!Object.keys(siteState.pts).length) for (const v of await api("/api/v1/telemetry/latest")) mergeValue(v);
  renderChargers();
  fill("#op-setpoints", sps.map((w) => {
    let ack = w.acked ? `${w.acked.by} ${ts(w.acked.at)}` : null;
    if (!ack) {
      ack = document.createElement("button");
      ack.type = "button"; ack.textContent = t("op.ack"); ack.dataset.ack = w.id;
      ack.addEventListener("click", async () => { await post(`/api/v1/operator/setpoints/${w.id}/ack`, {}); refreshChargers(); });
    }
    return [String(w.id), ts(w.time), w.device_id, w.written_kw, w.read_back_kw, { text: tr("wstatus", w.status), cls: w.status }, ack];
  }));
  const sel = $("#s-device"), keep = sel.value;
  sel.replaceChildren(...devs.filter((d) => d.kind === "ev_charger").map((d) => { const o = document.createElement("option"); o.value = o.textContent = d.id; return o; }));
  if (keep) sel.value = keep;
}

$("#session-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await post("/api/v1/operator/sessions", {
      device_id: $("#s-device").value,
      arrival: siteLocal($("#s-arrival").value).toISOString(),
      departure: siteLocal($("#s-departure").value).toISOString(),
      energy_kwh: parseFloat($("#s-energy").value),
    });
    $("#s-msg").textContent = t("sess." + r.status, { device: r.session.device_id });
    $("#s-msg").dataset.status = r.status;
    refreshChargers();
  } catch (e) { $("#s-msg").textContent = e.message; }
});

// ---- planners: replays and what-ifs as jobs ----
let replayTimer = null;
async function refreshReplays() {
  const jobs = await api("/api/v1/replays").catch((e) => { $("#r-msg").textContent = e.message; return []; });
  const ticked = new Set($$("#replays input[data-compare]:checked").map((c) => c.dataset.compare));
  fill("#replays", jobs.map((j) => {
    let status = { text: tr("job", j.status), cls: j.status };
    if (j.status === "running") {
      const pr = document.createElement("progress");
      pr.max = j.total || 1; pr.value = j.done; pr.dataset.job = j.id;
      pr.setAttribute("aria-label", t("plan.progress", { done: j.done, total: j.total }));
      const span = document.createElement("span");
      span.append(pr, ` ${j.done}/${j.total}`);
      status = span;
    } else if (j.status === "failed") status = { text: `${tr("job", j.status)}: ${j.error}`, cls: "failed" };
    let report = "", cmp = "";
    if (j.status === "done") {
      report = document.createElement("a");
      report.href = `/api/v1/replays/${j.id}/report`; report.target = "_blank"; report.rel = "noopener"; report.textContent = t("plan.open"); report.dataset.report = j.id;
      cmp = document.createElement("input");
      cmp.type = "checkbox"; cmp.dataset.compare = j.id; cmp.checked = ticked.has(String(j.id));
      cmp.setAttribute("aria-label", t("plan.compare_n", { id: j.id }));
      cmp.addEventListener("change", compareButton);
    }
    const k = j.kpis || {};
    return [String(j.id), tr("strategy", j.strategy), `${ts(j.from)} – ${ts(j.to)}`, (j.sets || []).join(", "), j.actor, status,
      k.total_cost == null ? "" : `${num(k.total_cost, 2)} ${j.currency}`, k.peak_import_kw == null ? "" : num(k.peak_import_kw, 1), report, cmp];
  }));
  compareButton();
  clearTimeout(replayTimer);
  if (jobs.some((j) => j.status === "running") && view === "planning") replayTimer = setTimeout(refreshReplays, 1000);
}
function compareButton() { $("#r-compare").disabled = $$("#replays input[data-compare]:checked").length < 2; }
$("#r-compare").addEventListener("click", () => {
  const ids = $$("#replays input[data-compare]:checked").map((c) => c.dataset.compare);
  window.open(`/api/v1/replays/compare?ids=${ids.join(",")}`, "_blank", "noopener");
});
$("#replay-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#r-msg").textContent = "";
  try {
    const from = siteLocal($("#r-from").value);
    const to = new Date(from.getTime() + parseFloat($("#r-hours").value) * 3600e3);
    const sets = $("#r-sets").value.split("\n").map((s) => s.trim()).filter(Boolean);
    const j = await post("/api/v1/replays", { strategy: $("#r-strategy").value, from: from.toISOString(), to: to.toISOString(), sets });
    $("#r-msg").textContent = t("plan.started", { id: j.id });
  } catch (e) { $("#r-msg").textContent = e.message; }
  refreshReplays();
});

// ---- audit ----
async function refreshAudit() {
  const [list, v] = await Promise.all([api("/api/v1/audit?limit=300"), api("/api/v1/audit/verify").catch(() => null)]);
  $("#audit-chain").textContent = v ? (v.ok ? t("audit.ok", { n: v.report.chained }) : t("audit.broken", { n: v.report.problems.length })) : "";
  fill("#audit", list.slice().reverse().map((e) => [ts(e.time), e.actor, e.action, e.subject, e.detail]));
}

async function boot() {
  await loadI18n();
  await start();
  setInterval(refresh, 10000);
}
boot();
