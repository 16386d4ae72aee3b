"use strict";
// gridd console: plain JavaScript, no build step. Talks to /api/v1 with the session
// cookie set by POST /api/v1/login.
const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
const num = (v, d = 1) => (typeof v === "number" && isFinite(v) ? v.toFixed(d) : "");
// Every time is shown in the site's time zone with its UTC offset ("2026-12-07 16:00
// +08:00"); info.timezone comes from /api/v1/console.
let info = { timezone: "UTC" };
const fmtCache = {};
function zoneFmt(kind) {
  const key = kind + "|" + info.timezone;
  if (!fmtCache[key]) {
    const o = { timeZone: info.timezone, hourCycle: "h23" };
    if (kind === "offset") Object.assign(o, { timeZoneName: "longOffset", hour: "2-digit" });
    else Object.assign(o, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    fmtCache[key] = new Intl.DateTimeFormat("en-CA", o);
  }
  return fmtCache[key];
}
// siteParts returns the wall-clock fields of t in the site's zone.
function siteParts(t) {
  const p = Object.fromEntries(zoneFmt("dt").formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return { y: p.year, mo: p.month, d: p.day, h: p.hour === "24" ? "00" : p.hour, mi: p.minute };
}
// offset returns the site's UTC offset at t as "+08:00".
function offset(t) {
  const n = zoneFmt("offset").formatToParts(new Date(t)).find((x) => x.type === "timeZoneName");
  const m = n && n.value.match(/GMT([+-]\d{2}):?(\d{2})?/);
  return m ? `${m[1]}:${m[2] || "00"}` : "+00:00";
}
const hm = (t) => { const p = siteParts(t); return `${p.h}:${p.mi}`; };
const ts = (t) => { if (!t || String(t).startsWith("0001-")) return ""; const p = siteParts(t); return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi} ${offset(t)}`; };
// siteLocal converts a datetime-local value ("2026-12-07T16:00"), read as the site's
// wall-clock time, to a Date.
function siteLocal(v) {
  const [d, h] = v.split("T"), [y, mo, da] = d.split("-").map(Number), [hh, mi] = h.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, hh, mi);
  let t = wall;
  for (let i = 0; i < 2; i++) {
    const p = siteParts(t);
    t -= Date.UTC(+p.y, +p.mo - 1, +p.d, +p.h, +p.mi) - wall;
  }
  return new Date(t);
}
const colors = ["#3367d6", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb", "#f9ab00", "#5f6368", "#a142f4", "#24c1e0", "#ff8bcb", "#7cb342"];
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

let me = null, siteInfo = null, current = null, view = "site";

async function api(path, opts = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...opts });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401 && path !== "/api/v1/login") { showLogin(); throw new Error("not logged in"); }
  if (!r.ok) throw new Error((body && body.error) || path + ": " + r.status);
  return body;
}
const post = (path, data, method = "POST") =>
  api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(data || {}) });

function fill(sel, rows) {
  const tb = $(sel + " tbody");
  tb.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c);
      else if (c && typeof c === "object") { td.textContent = c.text; if (c.cls) td.className = c.cls; }
      else { td.textContent = c ?? ""; if (typeof c === "number") td.className = "num"; }
      tr.append(td);
    }
    return tr;
  }));
}

function showLogin() {
  $("#app").hidden = true; $("#login").hidden = false; $("#logout").hidden = true; $("#whoami").textContent = "";
}

async function start() {
  try { me = await api("/api/v1/me"); } catch (e) { showLogin(); return; }
  info = await api("/api/v1/console");
  $("#now").textContent = "site time " + ts(info.now);
  $("#login").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  $("#whoami").textContent = `${me.name} (${me.role})`;
  const operator = me.role === "operator";
  $$("nav button").forEach((b) => (b.hidden = operator ? b.dataset.view !== "chargers" : b.dataset.view === "chargers" && me.role !== "admin"));
  if (operator || me.role === "admin") startStream();
  if (operator) {
    $("#site").textContent = "charging operator";
    $$("nav button").find((b) => b.dataset.view === "chargers").click();
    return;
  }
  const canDecide = me.role === "admin" || me.role === "dispatcher";
  const canPin = canDecide || me.role === "planner";
  $$(".dispatcher-only").forEach((e) => (e.hidden = !canDecide));
  $$(".planner-only").forEach((e) => (e.hidden = !canPin));
  siteInfo = await api("/api/v1/site");
  $("#site").textContent = siteInfo.name;
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

$$("nav button").forEach((b) => b.addEventListener("click", () => {
  view = b.dataset.view;
  $$("nav button").forEach((x) => x.classList.toggle("active", x === b));
  $$(".view").forEach((v) => (v.hidden = v.id !== "view-" + view));
  refresh();
}));

async function refresh() {
  if (!me) return;
  if (view === "chargers") { try { await refreshChargers(); } catch (e) { console.log(e); } return; }
  try {
    const safety = await api("/api/v1/safety");
    const ks = safety.kill_switch;
    $("#killswitch").textContent = ks.engaged ? "AUTOMATION PAUSED" : "";
    $("#killswitch").classList.toggle("on", ks.engaged);
    if (view === "site") await refreshSite(safety);
    if (view === "schedules") await refreshSchedules();
    if (view === "audit") await refreshAudit();
    info = await api("/api/v1/console");
    $("#now").textContent = "site time " + ts(info.now);
  } catch (e) { console.log(e); }
}

async function refreshSite(safety) {
  const [devices, tel] = await Promise.all([api("/api/v1/devices"), api("/api/v1/telemetry/latest")]);
  const pts = {};
  for (const s of tel) (pts[s.device_id] ||= {})[s.point] = s;
  const env = Object.fromEntries(safety.devices.map((d) => [d.device_id, d]));
  const kids = {};
  for (const n of siteInfo.nodes) (kids[n.Parent] ||= []).push(n);
  const node = (n) => {
    const meter = devices.find((d) => d.kind === "meter" && d.node === n.ID);
    const p = meter && pts[meter.id] && pts[meter.id].active_power_kw;
    let flow = "";
    if (p) flow = `<span class="flow ${p.value >= 0 ? "in" : "out"}">${p.value >= 0 ? "▼" : "▲"} ${num(Math.abs(p.value))} kW ${n.Parent ? (p.value >= 0 ? "into feeder" : "out of feeder") : (p.value >= 0 ? "import" : "export")}</span>`;
    const devs = devices.filter((d) => d.node === n.ID && d.kind !== "meter").map((d) => {
      const v = pts[d.id] || {}, e = env[d.id];
      const pw = v.active_power_kw, soc = v.soc_pct, conn = v.connected;
      const q = pw ? pw.quality : "no data";
      let state = d.kind === "bess" && soc ? `SoC ${num(soc.value, 0)}%` : d.kind === "ev_charger" && conn ? (conn.value >= 0.5 ? "plugged in" : "free") : "";
      return `<li class="dev-row" data-device="${esc(d.id)}"><span class="dev"><b>${esc(d.id)}</b><span>${esc(d.kind)}</span>` +
        `<span class="num">${pw ? num(pw.value) + " kW" : ""}</span><span>${esc(state)} <span class="${esc(q)}">${esc(q)}</span>` +
        `${e ? ` <span class="${esc(e.comms)}">comms ${esc(e.comms)}</span>` : ""}</span></span></li>`;
    }).join("");
    const sub = (kids[n.ID] || []).map(node).join("");
    return `<li><span class="node">${esc(n.ID)}</span> <small>limit ${num(n.LimitKW, 0)} kW</small> ${flow}<ul>${devs}${sub}</ul></li>`;
  };
  $("#tree").innerHTML = `<ul class="tree">${(kids[""] || []).map(node).join("")}</ul>`;
  const ks = safety.kill_switch;
  $("#ks-text").textContent = ks.engaged ? `Kill switch engaged by ${ks.by} since ${ts(ks.since)}: ${ks.reason}` : "Automation running.";
  fill("#overrides", safety.overrides.map((o) => [o.id, o.device_id, o.value_kw, ts(o.until), o.actor, o.reason]));
}

$("#pause").addEventListener("click", () => ksAction("pause"));
$("#resume").addEventListener("click", () => ksAction("resume"));
async function ksAction(what) {
  const reason = $("#ks-reason").value.trim();
  if (!reason) { $("#ks-text").textContent = "A reason is required."; return; }
  try { await post("/api/v1/safety/" + what, { reason }); $("#ks-reason").value = ""; } catch (e) { $("#ks-text").textContent = e.message; }
  refresh();
}

async function refreshSchedules() {
  const list = await api("/api/v1/schedules");
  fill("#schedules", list.slice(0, 50).map((s) => {
    const b = document.createElement("button");
    b.textContent = "open"; b.dataset.open = s.id;
    b.addEventListener("click", () => openSchedule(s.id));
    return [s.id, ts(s.created_at), { text: s.status, cls: s.status }, s.objective.toFixed(2), s.approver || "", b];
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
  current = s;
  $("#detail").hidden = false;
  $("#d-id").textContent = s.id;
  $("#d-status").textContent = s.status; $("#d-status").className = s.status; $("#d-status").dataset.status = s.status;
  $("#d-msg").textContent = "";
  chart(s, prev);
  $("#reasons").replaceChildren(...ex.reasons.filter((r) => r.step === 0).map((r) => { const li = document.createElement("li"); li.textContent = `${ts(r.time)} ${r.text}`; return li; }));
  $("#cost-prev").textContent = ex.previous ? `vs schedule ${ex.previous}` : "(no previous schedule)";
  fill("#cost", ex.cost.map((c) => [c.term, c.this.toFixed(2), c.previous == null ? "" : c.previous.toFixed(2), c.change == null ? "" : (c.change >= 0 ? "+" : "") + c.change.toFixed(2)]));
  fill("#diff", (ex.diff || []).map((d) => [d.device_id, d.max_change_kw.toFixed(1), d.max_change_kw > 0 ? ts(d.at) : ""]));
  const binding = ex.steps.flatMap((st) => st.binding || []);
  $("#binding").replaceChildren(...(binding.length ? binding.slice(0, 20) : ["none"]).map((b) => { const li = document.createElement("li"); li.textContent = b; return li; }));
  const sel = $("#pin-device");
  sel.replaceChildren(...Object.keys(s.setpoints_kw || {}).filter((d) => !d.startsWith("pv")).map((d) => { const o = document.createElement("option"); o.value = o.textContent = d; return o; }));
  updateButtons();
}

function updateButtons() {
  const hasReason = $("#reason").value.trim() !== "";
  const proposed = current && current.status === "proposed";
  $("#approve").disabled = !(hasReason && proposed);
  $("#reject").disabled = !(hasReason && proposed);
  $("#pin").disabled = !(hasReason && $("#pin-kw").value !== "");
}
$("#reason").addEventListener("input", updateButtons);
$("#pin-kw").addEventListener("input", updateButtons);

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
  const reason = $("#reason").value.trim();
  const hours = parseFloat($("#pin-hours").value || "1");
  const until = new Date(new Date(info.now).getTime() + hours * 3600e3).toISOString();
  try {
    const s = await post("/api/v1/pins", { device_id: $("#pin-device").value, power_kw: parseFloat($("#pin-kw").value), until, reason });
    $("#reason").value = "";
    await refreshSchedules();
    await openSchedule(s.id);
  } catch (e) { $("#d-msg").textContent = e.message; }
});

// chart draws the plan: stacked power per asset (positive up, negative down), the grid
// import of this plan (solid) and of the previous plan (dashed), battery SoC lines
// (dotted, % of the battery's maximum) and the import price (right axis).
function chart(s, prev) {
  const doc = s.plan, plan = doc && doc.plan, scn = doc && doc.scenario;
  if (!plan) { $("#chart").textContent = "no plan stored"; return; }
  const W = 940, H = 300, P = 60, n = s.steps;
  const assets = plan.assets || [];
  const up = new Array(n).fill(0), down = new Array(n).fill(0);
  const layers = [];
  assets.forEach((a, i) => {
    const lo = [], hi = [];
    for (let k = 0; k < n; k++) {
      const v = a.power_kw[k] || 0;
      if (v >= 0) { lo.push(up[k]); up[k] += v; hi.push(up[k]); } else { hi.push(down[k]); down[k] += v; lo.push(down[k]); }
    }
    layers.push({ id: a.id, color: colors[i % colors.length], lo, hi });
  });
  const grid = (p) => (p.grid_import_kw || []).map((v, k) => v - ((p.grid_export_kw || [])[k] || 0));
  const lines = [grid(plan)];
  let prevLine = null;
  if (prev && prev.plan && prev.plan.plan) {
    const off = Math.round((new Date(s.start) - new Date(prev.start)) / (s.step_minutes * 60e3));
    const g = grid(prev.plan.plan);
    prevLine = Array.from({ length: n }, (_, k) => g[k + off]);
    lines.push(prevLine.filter((v) => v !== undefined));
  }
  let lo = Math.min(0, ...down, ...lines.flat()), hi = Math.max(1, ...up, ...lines.flat());
  const X = (k) => P + (k * (W - 2 * P)) / n, Y = (v) => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  const price = (scn && scn.grid && scn.grid.import_price) || [];
  const pmax = Math.max(0.01, ...price), YP = (v) => H - P - (v * (H - 2 * P)) / pmax;
  let svg = `<svg id="plan-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="schedule ${s.id} power chart">`;
  svg += `<line x1="${P}" y1="${Y(0)}" x2="${W - P}" y2="${Y(0)}" stroke="#999"/>`;
  for (const L of layers) {
    let d = "";
    for (let k = 0; k < n; k++) d += `${k ? "L" : "M"}${X(k)},${Y(L.hi[k])}L${X(k + 1)},${Y(L.hi[k])}`;
    for (let k = n - 1; k >= 0; k--) d += `L${X(k + 1)},${Y(L.lo[k])}L${X(k)},${Y(L.lo[k])}`;
    svg += `<path class="layer" data-asset="${esc(L.id)}" d="${d}Z" fill="${L.color}" fill-opacity=".55" stroke="none"><title>${esc(L.id)}</title></path>`;
  }
  const path = (vals, y) => vals.map((v, k) => (v === undefined ? "" : `${k && vals[k - 1] !== undefined ? "L" : "M"}${X(k + 0.5)},${y(v)}`)).join("");
  svg += `<path class="grid-line" d="${path(lines[0], Y)}" fill="none" stroke="#111" stroke-width="1.5"/>`;
  if (prevLine) svg += `<path class="prev-line" d="${path(prevLine, Y)}" fill="none" stroke="#777" stroke-dasharray="4 3"/>`;
  if (price.length) svg += `<path class="price-line" d="${path(price, YP)}" fill="none" stroke="#d93025" stroke-width="1.2"/>`;
  for (const a of assets.filter((a) => a.soc_kwh)) {
    const b = ((scn && scn.batteries) || []).find((x) => x.id === a.id);
    const max = (b && b.max_soc_kwh) || Math.max(...a.soc_kwh) || 1;
    svg += `<path class="soc-line" data-asset="${esc(a.id)}" d="${path(a.soc_kwh.slice(0, n).map((v) => (v / max) * 100), (v) => H - P - (v * (H - 2 * P)) / 100)}" fill="none" stroke="#1e8e3e" stroke-dasharray="1 2" stroke-width="2"/>`;
  }
  for (let k = 0; k <= n; k += Math.max(1, Math.round(n / 8))) {
    const at = new Date(new Date(s.start).getTime() + k * s.step_minutes * 60e3);
    svg += `<text class="tick-x" data-time="${at.toISOString()}" x="${X(k)}" y="${H - P + 14}" text-anchor="middle">${hm(at)}</text>`;
  }
  svg += `<text class="axis-x" x="${W / 2}" y="${H - P + 30}" text-anchor="middle">site time (UTC${offset(s.start)})</text>`;
  svg += `<text x="4" y="${Y(hi) + 4}">${hi.toFixed(0)} kW</text><text x="4" y="${Y(lo)}">${lo.toFixed(0)} kW</text>`;
  svg += `<text x="${W - P + 4}" y="${YP(pmax) + 4}" fill="#d93025">${pmax.toFixed(2)}/kWh</text>`;
  svg += "</svg>";
  $("#chart").innerHTML = svg;
  $("#legend").innerHTML = layers.map((L) => `<span><i style="background:${L.color}"></i>${esc(L.id)}</span>`).join("") +
    `<span><i style="background:#111"></i>grid import (this plan)</span>` + (prevLine ? `<span><i style="background:#777"></i>grid import (previous plan)</span>` : "") +
    `<span><i style="background:#d93025"></i>import price</span><span><i style="background:#1e8e3e"></i>battery SoC %</span>`;
}

let stream = null;
function startStream() {
  if (stream) stream.close();
  stream = new EventSource("/api/v1/operator/stream");
  stream.addEventListener("open", () => { $("#stream-state").textContent = "live"; $("#stream-state").dataset.state = "live"; });
  stream.addEventListener("error", () => { $("#stream-state").textContent = "reconnecting…"; $("#stream-state").dataset.state = "reconnecting"; });
  stream.addEventListener("setpoint", () => { if (view === "chargers") refreshChargers(); });
}

async function refreshChargers() {
  const [sps, devs] = await Promise.all([api("/api/v1/operator/setpoints"), api("/api/v1/devices")]);
  fill("#op-setpoints", sps.map((w) => {
    let ack = w.acked ? `${w.acked.by} ${ts(w.acked.at)}` : null;
    if (!ack) {
      ack = document.createElement("button");
      ack.textContent = "acknowledge"; ack.dataset.ack = w.id;
      ack.addEventListener("click", async () => { await post(`/api/v1/operator/setpoints/${w.id}/ack`, {}); refreshChargers(); });
    }
    return [w.id, ts(w.time), w.device_id, w.written_kw, w.read_back_kw, { text: w.status, cls: w.status }, ack];
  }));
  const sel = $("#s-device"), keep = sel.value;
  sel.replaceChildren(...devs.filter((d) => d.kind === "ev_charger").map((d) => { const o = document.createElement("option"); o.value = o.textContent = d.id; return o; }));
  if (keep) sel.value = keep;
}

$("#session-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await post("/api/v1/operator/sessions", {
      device_id: $("#s-device").value,
      arrival: siteLocal($("#s-arrival").value).toISOString(),
      departure: siteLocal($("#s-departure").value).toISOString(),
      energy_kwh: parseFloat($("#s-energy").value),
    });
    $("#s-msg").textContent = "Reported; the next cycle plans with it.";
  } catch (e) { $("#s-msg").textContent = e.message; }
});

async function refreshAudit() {
  const [list, v] = await Promise.all([api("/api/v1/audit?limit=300"), api("/api/v1/audit/verify").catch(() => null)]);
  $("#audit-chain").textContent = v ? (v.ok ? `hash chain intact (${v.report.chained} events)` : `HASH CHAIN BROKEN: ${v.report.problems.length} problems`) : "";
  fill("#audit", list.slice().reverse().map((e) => [ts(e.time), e.actor, e.action, e.subject, e.detail]));
}

start();
setInterval(refresh, 10000);
