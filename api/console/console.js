"use strict";
const $ = (s) => document.querySelector(s);
const fmt = (v) => (typeof v === "number" ? v.toFixed(2) : v);
const ts = (t) => new Date(t).toISOString().replace("T", " ").slice(0, 16);
const colors = ["#3367d6", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb", "#f9ab00", "#5f6368"];

async function get(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

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

async function decide(id, action) {
  const reason = prompt(`Reason to ${action} schedule ${id}:`);
  if (!reason) return;
  const r = await fetch(`/api/v1/schedules/${id}/${action}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "console", reason }),
  });
  const body = await r.json();
  if (!r.ok) alert(body.error);
  refresh();
}

function chart(s) {
  const plan = s.plan && s.plan.plan;
  if (!plan) { $("#chart").textContent = ""; return; }
  const W = 640, H = 220, P = 30, n = s.steps;
  const series = Object.entries(s.setpoints_kw || {});
  series.push(["grid import", plan.grid_import_kw || []]);
  let lo = 0, hi = 0;
  for (const [, v] of series) for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  if (hi === lo) hi = lo + 1;
  const X = (k) => P + (k * (W - 2 * P)) / n, Y = (v) => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  let svg = `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`;
  svg += `<line x1="${P}" x2="${W - P}" y1="${Y(0)}" y2="${Y(0)}" stroke="#999"/>`;
  svg += `<text x="2" y="${Y(hi) + 4}">${hi.toFixed(0)} kW</text><text x="2" y="${Y(lo)}">${lo.toFixed(0)}</text>`;
  series.forEach(([id, v], i) => {
    const pts = v.map((x, k) => `${X(k)},${Y(x)} ${X(k + 1)},${Y(x)}`).join(" ");
    svg += `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="1.5" points="${pts}"><title>${id}</title></polyline>`;
  });
  svg += "</svg>";
  $("#chart").innerHTML = `<h3>Schedule ${s.id} (${s.status}) from ${ts(s.start)}</h3>` + svg +
    `<p>${series.map(([id], i) => `<span style="color:${colors[i % colors.length]}">■ ${id}</span>`).join(" ")}</p>`;
}

async function refresh() {
  try {
    const [site, tel, scheds, writes, audit] = await Promise.all([
      get("/api/v1/site"), get("/api/v1/telemetry/latest"), get("/api/v1/schedules"),
      get("/api/v1/setpoints"), get("/api/v1/audit"),
    ]);
    $("#site").textContent = `${site.name} (${site.timezone}, ${site.steps}×${site.step_minutes} min, auto-approve ${site.auto_approve ? "on" : "off"})`;
    $("#now").textContent = "site time " + ts(site.now);
    fill("#telemetry", tel.map((x) => [x.device_id, x.point, x.value, { text: x.quality, cls: x.quality }, ts(x.time)]));
    fill("#schedules", scheds.slice(0, 20).map((s) => {
      const btns = document.createElement("span");
      if (s.status === "proposed") {
        for (const a of ["approve", "reject"]) {
          const b = document.createElement("button");
          b.textContent = a; b.onclick = () => decide(s.id, a); btns.append(b);
        }
      }
      const view = document.createElement("button");
      view.textContent = "chart"; view.onclick = async () => chart(await get(`/api/v1/schedules/${s.id}`));
      btns.append(view);
      return [s.id, ts(s.created_at), { text: s.status, cls: s.status }, s.objective, s.approver || "", btns];
    }));
    if (scheds.length && !$("#chart").innerHTML) chart(await get(`/api/v1/schedules/${scheds[0].id}`));
    fill("#writes", writes.slice(-30).reverse().map((w) => [ts(w.time), w.schedule_id, w.device_id, w.point, w.requested_kw, w.read_back_kw, { text: w.status, cls: w.status }]));
    fill("#audit", audit.slice(-30).reverse().map((e) => [ts(e.time), e.actor, e.action, e.subject, e.detail]));
  } catch (e) {
    $("#now").textContent = "error: " + e.message;
  }
}
refresh();
setInterval(refresh, 5000);
