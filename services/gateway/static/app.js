// newsflow newsroom: the gateway's live stream in a page. Article text is only ever inserted
// with textContent / createTextNode, never as HTML, so a hostile title shows as text.
"use strict";

const MAX_SHOWN = 200;
const $ = (id) => document.getElementById(id);
let source = null;
let paused = false;
let held = [];
let shown = 0;
const seenByTopic = new Map(); // topic id -> arrival times (ms), for articles per minute
const copies = new Map(); // article id -> copies the deduplicator flagged
let deadLetters = []; // [arrival time (ms), error kind]

function showCopies(id) {
  const n = copies.get(id);
  if (!n) return;
  for (const item of document.querySelectorAll(".article")) {
    if (item.dataset.id === id) {
      item.querySelector(".copies").textContent = `· ${n} ${n === 1 ? "copy" : "copies"}`;
    }
  }
}

function drawDeadLetters() {
  const now = Date.now();
  deadLetters = deadLetters.filter(([t]) => now - t < 60000);
  const kinds = new Map();
  for (const [, kind] of deadLetters) kinds.set(kind, (kinds.get(kind) || 0) + 1);
  const detail = [...kinds].map(([k, n]) => `${k} ${n}`).join(", ");
  $("dead-letters").textContent = `${deadLetters.length} in the last minute` + (detail ? ` (${detail})` : "");
}

function token() { return sessionStorage.getItem("newsflow-token") || ""; }

function setStatus(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = kind || "";
}

function streamUrl() {
  const params = new URLSearchParams();
  const topics = $("topics").value.trim();
  const entities = $("entities").value.trim();
  if (topics) params.set("topics", topics.replace(/\s+/g, ""));
  if (entities) params.set("entities", entities.replace(/\s+/g, ""));
  params.set("include", "duplicates,dead_letters");
  params.set("access_token", token());
  return "/v1/stream?" + params.toString();
}

function connect() {
  if (source) source.close();
  if (!token()) { setStatus("enter a token to connect"); return; }
  setStatus("connecting…");
  // EventSource reconnects by itself and sends Last-Event-ID, so the gateway resumes where
  // this page left off.
  source = new EventSource(streamUrl());
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("article", (event) => {
    let article;
    try { article = JSON.parse(event.data); } catch (err) { return; }
    if (paused) { held.push(article); setStatus(`paused · ${held.length} waiting`); return; }
    render(article);
  });
  source.addEventListener("duplicate", (event) => {
    let notice;
    try { notice = JSON.parse(event.data); } catch (err) { return; }
    copies.set(notice.duplicate_of, (copies.get(notice.duplicate_of) || 0) + 1);
    showCopies(notice.duplicate_of);
  });
  source.addEventListener("dead_letter", (event) => {
    let letter;
    try { letter = JSON.parse(event.data); } catch (err) { return; }
    deadLetters.push([Date.now(), letter.error_kind || "unknown"]);
    drawDeadLetters();
  });
  source.addEventListener("error", (event) => {
    if (event.data) {
      // The gateway ended the stream (slow_client, shutdown); EventSource reconnects.
      let reason = "";
      try { reason = JSON.parse(event.data).reason; } catch (err) { reason = "ended"; }
      setStatus(`stream ended (${reason}); reconnecting…`, "error");
    } else if (source.readyState === EventSource.CLOSED) {
      setStatus("refused: check the token and the filters", "error");
    } else {
      setStatus("reconnecting…", "error");
    }
  });
}

/// The text, with every case-insensitive occurrence of `forms` in a <mark>.
function highlighted(text, forms) {
  const fragment = document.createDocumentFragment();
  const words = [...new Set(forms.filter((f) => f && f.length > 1))]
    .sort((a, b) => b.length - a.length)
    .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!words.length) { fragment.appendChild(document.createTextNode(text)); return fragment; }
  const pattern = new RegExp("(" + words.join("|") + ")", "gi");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    fragment.appendChild(document.createTextNode(text.slice(last, match.index)));
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    fragment.appendChild(mark);
    last = match.index + match[0].length;
  }
  fragment.appendChild(document.createTextNode(text.slice(last)));
  return fragment;
}

function render(article) {
  const item = $("article-template").content.firstElementChild.cloneNode(true);
  const topics = Array.isArray(article.topics) ? article.topics : [];
  const forms = (where) => topics.flatMap((t) => (t.evidence || [])
    .filter((e) => !where || e.where === where || e.where === undefined)
    .flatMap((e) => (e.matched && e.matched.length ? e.matched : [e.term])));
  const when = article.published_at || article.ingested_at || "";
  item.querySelector("time").textContent = when ? new Date(when).toLocaleString() : "";
  item.querySelector(".source").textContent = article.source || "";
  item.dataset.id = article.id || "";
  item.querySelector(".title").appendChild(highlighted(article.title || "(no title)", forms()));
  item.querySelector(".lede").appendChild(highlighted(article.lede || "", forms()));
  const chips = item.querySelector(".chips");
  for (const topic of topics) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.dataset.topic = topic.id;
    chip.textContent = topic.label || topic.id;
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = (topic.evidence || []).map((e) => (e.matched && e.matched[0]) || e.term).slice(0, 3).join(", ");
    chip.appendChild(why);
    chips.appendChild(chip);
    count(topic.id);
  }
  const entities = item.querySelector(".entities");
  for (const entity of (article.entities || []).slice(0, 8)) {
    if (!entity.id || !/^Q\d+$/.test(entity.id)) continue;
    const link = document.createElement("a");
    link.href = "https://www.wikidata.org/wiki/" + entity.id;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = entity.name || entity.id;
    entities.appendChild(link);
  }
  const list = $("articles");
  list.insertBefore(item, list.firstChild);
  showCopies(article.id);
  while (list.children.length > MAX_SHOWN) list.removeChild(list.lastChild);
  shown += 1;
  $("count").textContent = String(shown);
}

function count(topic) {
  const times = seenByTopic.get(topic) || [];
  times.push(Date.now());
  seenByTopic.set(topic, times);
}

function drawRates() {
  const now = Date.now();
  const rates = [];
  for (const [topic, times] of seenByTopic) {
    const recent = times.filter((t) => now - t < 60000);
    seenByTopic.set(topic, recent);
    if (recent.length) rates.push([topic, recent.length]);
  }
  rates.sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rates.map((r) => r[1]));
  const box = $("rates");
  box.replaceChildren();
  for (const [topic, n] of rates) {
    const row = document.createElement("div");
    row.className = "rate";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = topic;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(n / max) * 8}rem`;
    const value = document.createElement("span");
    value.textContent = String(n);
    row.append(name, bar, value);
    box.appendChild(row);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("newsflow-token", $("token").value.trim());
    $("token").value = "";
    connect();
  });
  $("apply").addEventListener("click", () => {
    $("articles").replaceChildren();
    shown = 0;
    $("count").textContent = "0";
    connect();
  });
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      held.forEach(render);
      held = [];
      setStatus("live", "live");
    }
  });
  setInterval(() => { drawRates(); drawDeadLetters(); }, 2000);
  connect();
});
