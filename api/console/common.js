"use strict";
// gridd consoles' shared helpers: plain JavaScript, no build step, loaded before its own
// script by the site console (index.html, console.js) and the district console
// (district.html, district.js). The language (strings from i18n.json, English and
// Simplified Chinese), the colour scheme, and numbers and times in the page's zone.
const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// ---- language ----
let dict = { en: {} }, lang = "en";
const LANGS = ["en", "zh-CN"];
function pickLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (LANGS.includes(q)) { localStorage.setItem("gridd.lang", q); return q; }
  const saved = localStorage.getItem("gridd.lang");
  if (LANGS.includes(saved)) return saved;
  return (navigator.languages || [navigator.language]).some((l) => /^zh/i.test(l)) ? "zh-CN" : "en";
}
// t returns the UI string for key in the current language with {name} filled from args.
function t(key, args) {
  let s = (dict[lang] && dict[lang][key]) ?? dict.en[key];
  if (s === undefined) { console.warn("i18n: no string", key); s = key; }
  return args ? s.replace(/\{(\w+)\}/g, (m, k) => (args[k] === undefined ? m : args[k])) : s;
}
// applyI18n writes every data-i18n* string (the page's <title> included) in the current
// language.
function applyI18n() {
  document.documentElement.lang = lang;
  $$("[data-i18n]").forEach((e) => (e.textContent = t(e.dataset.i18n)));
  $$("[data-i18n-placeholder]").forEach((e) => (e.placeholder = t(e.dataset.i18nPlaceholder)));
  $$("[data-i18n-aria-label]").forEach((e) => e.setAttribute("aria-label", t(e.dataset.i18nAriaLabel)));
  $("#lang").value = lang;
  themeButton();
}
// loadI18n reads i18n.json, picks the language (?lang=, the saved choice, the browser's)
// and applies it.
async function loadI18n() {
  try { dict = await (await fetch("i18n.json")).json(); } catch (e) { console.warn("i18n", e); }
  lang = pickLang();
  applyI18n();
}

// ---- colour scheme: auto (the system's), light or dark ----
function theme() { return localStorage.getItem("gridd.theme") || "auto"; }
function themeButton() {
  const th = theme();
  if (th === "auto") delete document.documentElement.dataset.theme; else document.documentElement.dataset.theme = th;
  $("#theme").textContent = t("theme." + th);
}
// The page's own script may listen to #theme too (the site console redraws its chart):
// this listener, registered first, has switched the scheme by then.
$("#theme").addEventListener("click", () => {
  const order = ["auto", "dark", "light"];
  localStorage.setItem("gridd.theme", order[(order.indexOf(theme()) + 1) % order.length]);
  themeButton();
});

// ---- numbers and times in the page's zone ----
// zone is the IANA time zone every time is shown in: the site's (console.js sets it
// from /api/v1/console) or the district's (district.js, from /api/v1/district).
let zone = "UTC";
// numBlank is what num writes for a value that is not a number: nothing on the site
// console, a dash on the district console (district.js sets it).
let numBlank = "";
const nfCache = {};
// num writes v with d decimals in the current language.
function num(v, d = 1) {
  if (typeof v !== "number" || !isFinite(v)) return numBlank;
  const k = lang + d;
  nfCache[k] ||= new Intl.NumberFormat(lang, { minimumFractionDigits: d, maximumFractionDigits: d });
  return nfCache[k].format(v);
}
const fmtCache = {};
function zoneFmt(kind) {
  const key = kind + "|" + zone;
  if (!fmtCache[key]) {
    const o = { timeZone: zone, hourCycle: "h23" };
    if (kind === "offset") Object.assign(o, { timeZoneName: "longOffset", hour: "2-digit" });
    else Object.assign(o, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    fmtCache[key] = new Intl.DateTimeFormat("en-CA", o);
  }
  return fmtCache[key];
}
// zoneParts returns the wall-clock fields of x in the zone.
function zoneParts(x) {
  const p = Object.fromEntries(zoneFmt("dt").formatToParts(new Date(x)).map((q) => [q.type, q.value]));
  return { y: p.year, mo: p.month, d: p.day, h: p.hour === "24" ? "00" : p.hour, mi: p.minute, s: p.second };
}
// offset returns the zone's UTC offset at x as "+08:00".
function offset(x) {
  const n = zoneFmt("offset").formatToParts(new Date(x)).find((q) => q.type === "timeZoneName");
  const m = n && n.value.match(/GMT([+-]\d{2}):?(\d{2})?/);
  return m ? `${m[1]}:${m[2] || "00"}` : "+00:00";
}
const valid = (x) => x && !String(x).startsWith("0001-");
const hm = (x) => { const p = zoneParts(x); return `${p.h}:${p.mi}`; };
const day = (x) => { const p = zoneParts(x); return lang === "zh-CN" ? `${+p.y}年${+p.mo}月${+p.d}日` : `${p.y}-${p.mo}-${p.d}`; };
// ts writes a date and time in the zone with its offset.
const ts = (x) => (valid(x) ? `${day(x)} ${hm(x)} ${offset(x)}` : "");
