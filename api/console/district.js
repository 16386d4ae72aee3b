"use strict";
// gridd district console: the coordinator's view of a district, served by
// `gridd coordinate --listen` and `gridd demo --sites N --listen`. Plain JavaScript,
// no build step, the site console's styles, strings (i18n.json) and conventions:
// every UI string from i18n.json in English and Simplified Chinese, every time in the
// district's time zone with its offset. It polls GET /api/v1/district. common.js,
// loaded first, has the helpers it shares with the site console.
const POLL_MS = 5000;

// ---- numbers and times in the district's zone (zone, num, ts, hm, day, offset: common.js) ----
numBlank = "–";
const hms = (x) => { const p = zoneParts(x); return `${p.h}:${p.mi}:${p.s}`; };
// tsShort omits the date on the district's current day.
let nowAt = Date.now();
const tsShort = (x) => (valid(x) ? (day(x) === day(nowAt) ? `${hms(x)} ${offset(x)}` : `${day(x)} ${hms(x)} ${offset(x)}`) : "");
const niceStep = (span, n) => { const r = span / n, p = Math.pow(10, Math.floor(Math.log10(r))); return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= r) || p * 10; };

// fill writes rows into a table; each cell is labelled with its column for phones.
function fill(sel, rows) {
  const labels = $$(sel + " thead th").map((th) => th.textContent.trim());
  $(sel + " tbody").replaceChildren(...rows.map((r) => {
    const row = document.createElement("tr");
    if (r.id) row.dataset.site = r.id;
    r.cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (labels[i]) td.dataset.label = labels[i];
      if (c instanceof Node) td.append(c);
      else if (c && typeof c === "object") { td.textContent = c.text; if (c.cls) td.className = c.cls; if (c.key) td.dataset.key = c.key; }
      else td.textContent = c ?? "";
      row.append(td);
    });
    return row;
  }));
}

// ---- state ----
let state = null;

async function poll() {
  try {
    const r = await fetch("/api/v1/district?brief=true", { credentials: "same-origin", cache: "no-store" });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.error) || `/api/v1/district: ${r.status}`);
    state = body;
    $("#d-error").textContent = "";
    render();
  } catch (e) {
    $("#d-error").textContent = t("district.unreachable", { err: e.message });
    $("#asof").dataset.state = "stale";
  }
}

function render() {
  const s = state;
  if (!s) return;
  zone = s.time_zone || "UTC";
  nowAt = new Date(s.now).getTime();
  $("#district").textContent = t("district.name", { id: s.district });
  $("#now").textContent = t("district.time", { t: `${day(s.now)} ${hms(s.now)} ${offset(s.now)}` });
  if (s.as_of) {
    const age = (nowAt - new Date(s.as_of).getTime()) / 1000;
    $("#asof").textContent = t("district.as_of", { t: tsShort(s.as_of), cycle: s.cycle });
    $("#asof").dataset.state = age > 2 * s.cycle_seconds + 60 ? "stale" : "fresh";
    $("#asof").dataset.time = s.as_of;
  } else {
    $("#asof").textContent = t("district.no_cycle");
    $("#asof").dataset.state = "none";
  }
  renderSummary(s);
  renderSites(s);
  renderNodes(s);
  renderRounds(s);
  document.body.dataset.rendered = `district:${lang}:${s.cycle}`;
}

function renderSummary(s) {
  const r = s.last;
  $("#d-cycle").textContent = r ? t("district.cycle", { n: s.cycle }) : "";
  const facts = [];
  const answered = s.sites.filter((x) => x.status === "answered").length;
  facts.push(["district.f.sites", t("district.f.sites_v", { n: answered, of: s.sites.length, ex: s.sites.filter((x) => x.excluded).length })]);
  if (r) {
    facts.push(["district.f.horizon", t("district.f.horizon_v", { from: ts(r.start), steps: r.steps, min: s.step_minutes })]);
    facts.push(["district.f.rounds", t("district.f.rounds_v", { n: r.rounds.length, max: s.max_rounds })]);
    facts.push(["district.f.cost", num(r.cost, 2)]);
    facts.push(["district.f.lower", num(r.lower_bound, 2)]);
    facts.push(["district.f.gap", r.gap_pct == null ? t("district.gap_unknown") : t("district.f.gap_v", { gap: num(r.gap_pct, 2), target: num(s.gap_target_pct, 2) })]);
    facts.push(["district.f.converged", t(r.converged ? "district.yes" : "district.no")]);
    facts.push(["district.f.duration", t("district.f.duration_v", { s: num(r.duration_ms / 1000, 1) })]);
  } else {
    facts.push(["district.f.state", t("district.waiting")]);
  }
  $("#d-summary").replaceChildren(...facts.map(([k, v]) => {
    const div = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = t(k); dd.textContent = v; dd.dataset.key = k;
    div.append(dt, dd);
    return div;
  }));
}

function renderSites(s) {
  $("#d-sites-count").textContent = t("district.sites_count", { n: s.sites.length });
  fill("#d-sites", s.sites.map((x) => {
    const status = document.createElement("span");
    const label = document.createElement("span");
    label.className = "dstatus-" + x.status;
    label.textContent = t("dstatus." + x.status);
    status.append(label);
    if (x.exclusion) {
      const why = document.createElement("small");
      why.className = "why";
      why.textContent = `${t("devent." + x.exclusion.kind)}: ${x.exclusion.detail}`;
      status.append(document.createElement("br"), why);
    }
    for (const e of x.events || []) {
      if (x.exclusion && e.kind === x.exclusion.kind && e.detail === x.exclusion.detail) continue;
      const w = document.createElement("small");
      w.className = "why";
      w.textContent = `${t("devent." + e.kind)}: ${e.detail}`;
      status.append(document.createElement("br"), w);
    }
    let link = t("district.no_console");
    if (x.console_url) {
      link = document.createElement("a");
      link.href = x.console_url;
      link.rel = "noopener noreferrer";
      link.className = "drill";
      link.textContent = t("district.open_console");
      link.setAttribute("aria-label", t("district.open_console_of", { id: x.id }));
    }
    const peak = x.peak_plan_kw == null ? "–" : t("district.peak_v", { plan: num(x.peak_plan_kw, 1), cap: num(x.cap_at_peak_kw, 1), at: hm(x.peak_at) });
    const energy = x.plan_kwh == null ? "–" : `${num(x.plan_kwh, 0)} / ${num(x.cap_kwh, 0)}`;
    const head = x.min_headroom_kw == null ? "–" : t("district.headroom_v", { kw: num(x.min_headroom_kw, 1), n: x.steps_at_cap });
    return { id: x.id, cells: [{ text: x.id, cls: "site-id" }, status, x.last_seen ? tsShort(x.last_seen) : t("district.never"), { text: peak, key: "peak" }, { text: energy, key: "energy" }, head, link] };
  }));
}

function renderLegend() {
  const item = (cls, key) => `<span><i class="${cls}"></i>${esc(t(key))}</span>`;
  $("#d-legend").innerHTML = item("lg-limit", "district.legend.limit") + item("lg-cap", "district.legend.caps") + item("lg-plan", "district.legend.plans") + item("lg-price", "district.legend.price");
}

function renderNodes(s) {
  renderLegend();
  const wrap = $("#d-nodes");
  const W = Math.max(320, Math.min(1400, wrap.clientWidth || 900));
  wrap.replaceChildren(...s.nodes.map((n) => {
    const box = document.createElement("div");
    box.className = "node-box";
    box.dataset.node = n.id;
    const h = document.createElement("h3");
    h.textContent = n.parent ? t("district.node_parent", { id: n.id, parent: n.parent }) : n.id;
    const p = document.createElement("p");
    p.className = "node-peak";
    if (n.peak_loading_pct != null) {
      p.textContent = t("district.node_peak", { pct: num(n.peak_loading_pct, 1), at: hm(n.peak_at), cap: num(n.cap_loading_pct, 1), n: n.site_ids.length });
      p.dataset.pct = String(n.peak_loading_pct);
      if (n.peak_loading_pct > 100 + 1e-6) p.classList.add("over");
    } else p.textContent = t("district.node_no_cycle", { n: n.site_ids.length });
    const chart = document.createElement("div");
    chart.className = "node-chart";
    chart.innerHTML = loadingSVG(n, s, W) + priceSVG(n, s, W);
    box.append(h, p, chart);
    return box;
  }));
}

// xAxis draws the time ticks of a horizon of steps from start.
function xAxis(s, start, steps, X, y, W) {
  let out = "";
  const every = Math.max(1, Math.ceil(steps / Math.max(2, Math.floor(W / 90))));
  const step = s.step_minutes * 60e3, t0 = new Date(start).getTime();
  for (let k = 0; k <= steps; k += every) {
    const anchor = k === 0 ? "start" : k === steps ? "end" : "middle";
    out += `<text class="tick-x" data-time="${new Date(t0 + k * step).toISOString()}" x="${X(k)}" y="${y}" text-anchor="${anchor}">${esc(hm(t0 + k * step))}</text>`;
  }
  return out;
}

// loadingSVG draws a node's limit, Σ caps and Σ plans per step (step lines), with
// the highest loading marked. The SVG carries its scale (data-lo, data-hi, data-top,
// data-bottom) and each line its values, so a test can read the drawing back.
function loadingSVG(n, s, W) {
  const T = n.limit_kw.length, small = W < 600;
  const L = small ? 44 : 56, R = 12, top = 12, H = small ? 200 : 240, bot = 38;
  const vals = n.limit_kw.concat(n.cap_kw || [], n.plan_kw || []);
  const step = niceStep(Math.max(1, Math.max(...vals) - Math.min(0, ...vals)), 5);
  const lo = Math.floor(Math.min(0, ...vals) / step) * step, hi = Math.ceil(Math.max(1, ...vals) * 1.02 / step) * step;
  const X = (k) => L + (k * (W - L - R)) / T, Y = (v) => top + ((hi - v) * (H - top - bot)) / (hi - lo);
  const line = (v) => v.map((x, k) => `${X(k).toFixed(2)},${Y(x).toFixed(2)} ${X(k + 1).toFixed(2)},${Y(x).toFixed(2)}`).join(" ");
  const start = (s.last && s.last.start) || s.now;
  const aria = n.peak_loading_pct != null ? t("district.chart_aria", { id: n.id, pct: num(n.peak_loading_pct, 1) }) : t("district.chart_aria_empty", { id: n.id });
  let svg = `<svg class="loading" data-node="${esc(n.id)}" data-lo="${lo}" data-hi="${hi}" data-top="${top}" data-bottom="${H - bot}" data-left="${L}" data-right="${W - R}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(aria)}">`;
  for (let v = lo; v <= hi + 1e-9; v += step) svg += `<line class="${Math.abs(v) < 1e-9 ? "zero" : "gridline"}" x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}"/><text x="${L - 4}" y="${Y(v) + 4}" text-anchor="end">${num(v, 0)}</text>`;
  svg += `<text x="4" y="${top + 2}" dominant-baseline="hanging">kW</text>`;
  svg += xAxis(s, start, T, X, H - bot + 14, W);
  svg += `<text class="axis-x" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${esc(t("district.time_axis", { offset: offset(start), day: day(start) }))}</text>`;
  svg += `<polyline class="limit" data-series="limit" data-kw="${n.limit_kw.join(",")}" points="${line(n.limit_kw)}"/>`;
  if (n.cap_kw) svg += `<polyline class="caps" data-series="caps" data-kw="${n.cap_kw.join(",")}" points="${line(n.cap_kw)}"/>`;
  if (n.plan_kw) svg += `<polyline class="plans" data-series="plans" data-kw="${n.plan_kw.join(",")}" points="${line(n.plan_kw)}"/>`;
  if (n.peak_step != null && n.plan_kw) {
    const k = n.peak_step, x = (X(k) + X(k + 1)) / 2, y = Y(n.plan_kw[k]);
    svg += `<circle class="peak" cx="${x}" cy="${y}" r="4"/><text class="peak-label" x="${Math.min(x, W - R - 40)}" y="${Math.max(top + 10, y - 8)}" text-anchor="middle">${esc(num(n.peak_loading_pct, 0))} %</text>`;
  }
  return svg + "</svg>";
}

// priceSVG draws the coordination price of a node's limit per step as bars.
function priceSVG(n, s, W) {
  const pr = n.price_per_kwh;
  if (!pr) return "";
  const T = pr.length, small = W < 600, L = small ? 44 : 56, R = 12, top = 8, H = 90, bot = 22;
  const max = Math.max(...pr), hi = max > 1e-9 ? max : 1;
  const X = (k) => L + (k * (W - L - R)) / T, Y = (v) => top + ((hi - v) * (H - top - bot)) / hi;
  const priced = pr.filter((v) => v > 1e-9).length;
  let svg = `<svg class="prices" data-node="${esc(n.id)}" data-priced="${priced}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(t("district.price_aria", { id: n.id, n: priced, max: num(max, 4) }))}">`;
  svg += `<line class="zero" x1="${L}" x2="${W - R}" y1="${Y(0)}" y2="${Y(0)}"/>${max > 1e-9 ? `<text x="${L - 4}" y="${Y(hi) + 8}" text-anchor="end">${num(hi, 3)}</text>` : ""}<text x="${L - 4}" y="${Y(0)}" text-anchor="end">0</text>`;
  pr.forEach((v, k) => { if (v > 1e-9) svg += `<rect class="price" data-step="${k}" data-v="${v}" x="${X(k)}" y="${Y(v)}" width="${Math.max(1, X(k + 1) - X(k) - 1)}" height="${Y(0) - Y(v)}"/>`; });
  svg += `<text x="${L}" y="${H - 6}">${esc(t("district.price_axis", { n: priced, steps: T }))}</text>`;
  return svg + "</svg>";
}

function renderRounds(s) {
  const r = s.last;
  const gap = (v) => (v == null ? "–" : num(v, 2));
  fill("#d-rounds", r ? r.rounds.map((x) => ({ cells: [String(x.round), num(x.residual_kw, 2), gap(x.lower_bound), gap(x.upper_bound), gap(x.gap_pct), String(x.answered), String(x.excluded), num(x.duration_ms, 0)] })) : []);
  $("#d-gap").textContent = r ? (r.gap_pct == null ? t("district.gap_unknown") : t("district.final_gap", { gap: num(r.gap_pct, 2), target: num(s.gap_target_pct, 2) })) : "";
  $("#d-gap").dataset.gap = r && r.gap_pct != null ? String(r.gap_pct) : "";
}

$("#lang").addEventListener("change", () => {
  lang = $("#lang").value;
  localStorage.setItem("gridd.lang", lang);
  delete document.body.dataset.rendered;
  applyI18n();
  render();
});
let lastWidth = 0;
window.addEventListener("resize", () => {
  const w = $("#d-nodes").clientWidth;
  if (state && Math.abs(w - lastWidth) > 20) { lastWidth = w; renderNodes(state); }
});

async function boot() {
  await loadI18n();
  await poll();
  setInterval(poll, POLL_MS);
}
boot();
