// wuxi-tsc live view: draws the net once from /api/geometry, then applies compact frames
// (live: WebSocket /ws; replay: /api/frames/<i>). No build step, no external assets.
"use strict";

// State read by the browser tests (tests/test_twin.py).
const T = (window.twin = {
  ready: false, mode: null, drawnLanes: 0, frames: 0, frameIndex: -1, nFrames: 0,
  lastTime: null, signalStates: [], ended: false, alerts: 0,
});

const VEHICLE_SPACE_M = 7.5;
const QUEUE_COLOURS = ["#2e7d4f", "#c9b12a", "#e07b22", "#d62a2a", "#b01a9e"];
const QUEUE_LIMITS = [0.1, 0.3, 0.6, 0.8];
const NO_DATA = "#4a5160";
const SIGNAL_COLOURS = { G: "#19d219", g: "#8fe08f", y: "#ffd400", Y: "#ffd400", u: "#ff8c00", r: "#e02020", s: "#e02020", o: "#808080", O: "#808080" };
const KPIS = [
  ["running", "running", "veh"], ["arrived", "arrived", "veh"], ["backlog", "backlog", "veh"],
  ["mean_delay", "mean delay so far", "s/veh"], ["teleports", "teleports", ""],
];

const canvas = document.getElementById("map");
const ctx = canvas.getContext("2d");
const $ = (id) => document.getElementById(id);

let G = null;          // geometry
let info = {};
let frame = null;      // latest frame
let kpiHistory = [];
let alertLog = [];     // raised alerts (newest last)
let monitoredPos = null; // lane index -> position in frame arrays
let laneById = new Map(); // lane id -> lane index
let stopBars = [];     // per signal: [{lane, links:[k...], x0,y0,x1,y1}]
const view = { scale: 1, tx: 0, ty: 0 };
let dirty = true;
let lastMessage = performance.now();

// ------------------------------------------------------------------ geometry and view
function prepare(geometry) {
  G = geometry;
  monitoredPos = new Int32Array(G.lanes.id.length).fill(-1);
  G.monitored.forEach((li, k) => (monitoredPos[li] = k));
  laneById = new Map(G.lanes.id.map((id, i) => [id, i]));
  stopBars = G.signals.map((sig) => {
    const byLane = new Map();
    sig.links.forEach((li, k) => {
      if (li < 0) return;
      if (!byLane.has(li)) byLane.set(li, []);
      byLane.get(li).push(k);
    });
    const bars = [];
    for (const [li, links] of byLane) {
      const s = G.lanes.shape[li];
      const n = s.length;
      if (n < 4) continue;
      const x1 = s[n - 2], y1 = s[n - 1], x0 = s[n - 4], y0 = s[n - 3];
      const len = Math.hypot(x1 - x0, y1 - y0) || 1;
      const dx = (x1 - x0) / len, dy = (y1 - y0) / len;
      const cx = x1 - dx * 1.0, cy = y1 - dy * 1.0;
      bars.push({ lane: li, links, x0: cx - dy * 1.6, y0: cy + dx * 1.6, x1: cx + dy * 1.6, y1: cy - dx * 1.6 });
    }
    return bars;
  });
}

function fit() {
  const r = canvas.getBoundingClientRect();
  const [x0, y0, x1, y1] = G.bounds;
  const pad = 20;
  view.scale = Math.min((r.width - 2 * pad) / Math.max(x1 - x0, 1), (r.height - 2 * pad) / Math.max(y1 - y0, 1));
  view.tx = r.width / 2 - ((x0 + x1) / 2) * view.scale;
  view.ty = r.height / 2 + ((y0 + y1) / 2) * view.scale;
  dirty = true;
}

function toScreen(x, y) { return [x * view.scale + view.tx, -y * view.scale + view.ty]; }

function resize() {
  const r = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(r.width * dpr));
  canvas.height = Math.max(1, Math.round(r.height * dpr));
  dirty = true;
}

// ------------------------------------------------------------------ drawing
function queueBucket(li) {
  if (!frame) return -1;
  const k = monitoredPos[li];
  if (k < 0) return -1;
  const h = frame.halting[k];
  if (h < 0) return -1;
  const fill = (h * VEHICLE_SPACE_M) / Math.max(G.lanes.length[li], 1);
  let b = 0;
  while (b < QUEUE_LIMITS.length && fill >= QUEUE_LIMITS[b]) b++;
  return b;
}

function signalChar(state, links) {
  let best = "r";
  const rank = { G: 5, g: 4, y: 3, Y: 3, u: 2, o: 1, O: 1 };
  for (const k of links) {
    const c = state[k] || "r";
    if ((rank[c] || 0) > (rank[best] || 0)) best = c;
  }
  return best;
}

function draw() {
  dirty = false;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#1d2029";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!G) return;
  ctx.setTransform(view.scale * dpr, 0, 0, -view.scale * dpr, view.tx * dpr, view.ty * dpr);
  const px = 1 / view.scale; // one screen pixel in metres
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = Math.max(2.6, 1.5 * px);
  // one path per colour: a few strokes, however large the net
  const buckets = new Map();
  const n = G.lanes.id.length;
  for (let li = 0; li < n; li++) {
    const b = queueBucket(li);
    if (!buckets.has(b)) buckets.set(b, []);
    buckets.get(b).push(li);
  }
  let drawn = 0;
  for (const [b, lanes] of [...buckets.entries()].sort((a, c) => a[0] - c[0])) {
    ctx.strokeStyle = b < 0 ? NO_DATA : QUEUE_COLOURS[b];
    ctx.beginPath();
    for (const li of lanes) {
      const s = G.lanes.shape[li];
      if (s.length < 4) continue;
      ctx.moveTo(s[0], s[1]);
      for (let i = 2; i < s.length; i += 2) ctx.lineTo(s[i], s[i + 1]);
      drawn++;
    }
    ctx.stroke();
  }
  T.drawnLanes = drawn;
  // signals: a stop bar per incoming lane, coloured by its links' state
  if (frame) {
    ctx.lineCap = "butt";
    ctx.lineWidth = Math.max(1.6, 2.5 * px);
    const small = view.scale < 0.35; // city scale: one dot per signal instead
    G.signals.forEach((sig, i) => {
      const state = frame.signals[i] || "";
      if (small) {
        ctx.fillStyle = SIGNAL_COLOURS[signalChar(state, [...state].map((_, k) => k))] || "#e02020";
        ctx.beginPath();
        ctx.arc(sig.x, sig.y, 2.5 * px, 0, 2 * Math.PI);
        ctx.fill();
        return;
      }
      for (const bar of stopBars[i]) {
        ctx.strokeStyle = SIGNAL_COLOURS[signalChar(state, bar.links)] || "#e02020";
        ctx.beginPath();
        ctx.moveTo(bar.x0, bar.y0);
        ctx.lineTo(bar.x1, bar.y1);
        ctx.stroke();
      }
    });
    // active alerts: the lane highlighted, a ring at the junction
    for (const a of frame.active) {
      const colour = a.severity === "critical" ? "#ff3b3b" : a.severity === "warning" ? "#ffb020" : "#5aa0ff";
      const li = a.lane && laneById.has(a.lane) ? laneById.get(a.lane) : -1;
      if (li >= 0) {
        const s = G.lanes.shape[li];
        ctx.strokeStyle = colour;
        ctx.globalAlpha = 0.55;
        ctx.lineWidth = Math.max(6, 6 * px);
        ctx.beginPath();
        ctx.moveTo(s[0], s[1]);
        for (let i = 2; i < s.length; i += 2) ctx.lineTo(s[i], s[i + 1]);
        ctx.stroke();
        ctx.globalAlpha = 1;
      }
      const p = junctionXY(a.junction);
      if (p) {
        ctx.strokeStyle = colour;
        ctx.lineWidth = 3 * px;
        ctx.beginPath();
        ctx.arc(p[0], p[1], 14 * px, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
  }
}

function junctionXY(id) {
  if (!id || !G) return null;
  const j = G.junctions[id];
  if (j) return [j[0], j[1]];
  const s = G.signals.find((x) => x.id === id);
  return s ? [s.x, s.y] : null;
}

function loop() {
  if (dirty) draw();
  if (T.mode === "live" && !T.ended && performance.now() - lastMessage > 5000) {
    setStatus(`no data for ${Math.round((performance.now() - lastMessage) / 1000)} s (feed stalled?)`, true);
  }
  requestAnimationFrame(loop);
}

// ------------------------------------------------------------------ panels
function setStatus(text, bad) {
  const el = $("status");
  el.textContent = text;
  el.className = bad ? "status bad" : "status";
}

function buildKpis() {
  const box = $("kpis");
  box.innerHTML = "";
  for (const [key, label, unit] of KPIS) {
    const row = document.createElement("div");
    row.className = "kpi";
    row.innerHTML = `<span class="n">${label}</span><span class="v" id="kpi-${key}">-</span><canvas id="chart-${key}"></canvas>`;
    row.querySelector(".v").dataset.unit = unit;
    box.appendChild(row);
  }
}

function drawKpis(upTo) {
  const hist = upTo === undefined ? kpiHistory : kpiHistory.slice(0, upTo + 1);
  const last = hist[hist.length - 1];
  for (const [key] of KPIS) {
    const v = $(`kpi-${key}`);
    v.textContent = last ? `${last[key]} ${v.dataset.unit}` : "-";
    const c = $(`chart-${key}`);
    const r = c.getBoundingClientRect();
    c.width = Math.max(1, Math.round(r.width));
    c.height = Math.max(1, Math.round(r.height));
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (hist.length < 2) continue;
    const t0 = hist[0].time, t1 = Math.max(hist[hist.length - 1].time, t0 + 1);
    let hi = 0;
    for (const k of hist) hi = Math.max(hi, k[key]);
    hi = hi || 1;
    g.strokeStyle = "#7fc1ff";
    g.lineWidth = 1.5;
    g.beginPath();
    hist.forEach((k, i) => {
      const x = ((k.time - t0) / (t1 - t0)) * (c.width - 2) + 1;
      const y = c.height - 2 - (k[key] / hi) * (c.height - 4);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
}

function showHeader() {
  const k = frame && frame.kpis;
  $("time").textContent = frame ? frame.time.toFixed(0) : "-";
  if (!k) return;
  const rate = k.decision_rate === null ? "SUMO runs the signals" : `${k.decision_rate} decisions/s (every ${info.delta_time} s sim)`;
  $("rate").textContent = `${rate} | ${k.sim_speed}x real time`;
}

function showAlerts(upToTime) {
  const list = $("alerts");
  const shown = upToTime === undefined ? alertLog : alertLog.filter((a) => a.time <= upToTime + 1e-6);
  list.innerHTML = "";
  for (const a of shown.slice(-500).reverse()) {
    const li = document.createElement("li");
    li.className = a.severity;
    li.dataset.kind = a.kind;
    li.dataset.junction = a.junction || "";
    li.dataset.severity = a.severity;
    li.innerHTML = `<span class="t"></span><span class="k"></span><b class="j"></b><span class="r"></span>`;
    li.querySelector(".t").textContent = `t=${Math.round(a.time)} s`;
    li.querySelector(".k").textContent = `${a.kind} (${a.severity})`;
    li.querySelector(".j").textContent = a.junction || "network";
    li.querySelector(".r").textContent = a.reason;
    li.onclick = () => centre(a.junction);
    list.appendChild(li);
  }
  $("alert-count").textContent = `(${shown.length})`;
  T.alerts = shown.length;
}

function centre(id) {
  const p = junctionXY(id);
  if (!p) return;
  const r = canvas.getBoundingClientRect();
  view.scale = Math.max(view.scale, 1.5);
  view.tx = r.width / 2 - p[0] * view.scale;
  view.ty = r.height / 2 + p[1] * view.scale;
  dirty = true;
}

function applyFrame(f) {
  frame = f;
  T.frames++;
  T.lastTime = f.time;
  T.frameIndex = f.index;
  const sig = f.signals.join("|");
  if (T.signalStates[T.signalStates.length - 1] !== sig) {
    T.signalStates.push(sig);
    if (T.signalStates.length > 500) T.signalStates.shift();
  }
  showHeader();
  dirty = true;
}

// ------------------------------------------------------------------ sources
function connectLive() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => setStatus("live");
  ws.onmessage = (ev) => {
    lastMessage = performance.now();
    const m = JSON.parse(ev.data);
    if (m.type === "hello") {
      kpiHistory = m.history;
      alertLog = m.alerts;
      showAlerts();
      drawKpis();
    } else if (m.type === "frame") {
      kpiHistory.push(m.frame.kpis);
      alertLog.push(...m.alerts);
      applyFrame(m.frame);
      if (m.alerts.length) showAlerts();
      drawKpis();
    } else if (m.type === "end") {
      T.ended = true;
      setStatus("episode finished");
    }
  };
  ws.onclose = () => {
    if (T.ended) return;
    setStatus("disconnected; retrying", true);
    setTimeout(connectLive, 2000);
  };
}

let playing = false;
async function loadFrame(i) {
  const r = await fetch(`/api/frames/${i}`);
  if (!r.ok) return;
  applyFrame(await r.json());
  $("slider").value = String(i);
  drawKpis(i);
  showAlerts(frame.time);
  if (i >= T.nFrames - 1) T.ended = true;
}

async function play() {
  playing = !playing;
  $("play").textContent = playing ? "pause" : "play";
  if (playing && Number($("slider").value) >= T.nFrames - 1) await loadFrame(0);
  while (playing) {
    const t0 = performance.now();
    const i = Number($("slider").value) + 1;
    if (i >= T.nFrames) { playing = false; $("play").textContent = "play"; break; }
    await loadFrame(i);
    const wait = 1000 / Number($("speed").value) - (performance.now() - t0);
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
}

async function startReplay() {
  $("replay").hidden = false;
  T.nFrames = info.times.length;
  const s = $("slider");
  s.max = String(T.nFrames - 1);
  s.oninput = () => loadFrame(Number(s.value));
  $("play").onclick = play;
  kpiHistory = await (await fetch("/api/kpis")).json();
  alertLog = await (await fetch("/api/alerts")).json();
  setStatus(`replay: ${T.nFrames} frames`);
  await loadFrame(0);
}

// ------------------------------------------------------------------ pan and zoom
let drag = null;
canvas.addEventListener("mousedown", (e) => (drag = { x: e.clientX, y: e.clientY }));
window.addEventListener("mouseup", () => (drag = null));
window.addEventListener("mousemove", (e) => {
  if (!drag) return;
  view.tx += e.clientX - drag.x;
  view.ty += e.clientY - drag.y;
  drag = { x: e.clientX, y: e.clientY };
  dirty = true;
});
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  const r = canvas.getBoundingClientRect();
  const mx = e.clientX - r.left, my = e.clientY - r.top;
  const f = Math.exp(-e.deltaY * 0.0015);
  view.tx = mx - (mx - view.tx) * f;
  view.ty = my - (my - view.ty) * f;
  view.scale *= f;
  dirty = true;
}, { passive: false });
canvas.addEventListener("dblclick", fit);
window.addEventListener("resize", () => { resize(); drawKpis(); });

// ------------------------------------------------------------------ start
async function main() {
  buildKpis();
  resize();
  info = await (await fetch("/api/info")).json();
  T.mode = info.mode;
  $("mode").textContent = info.mode;
  $("run").textContent = `${info.controller} on ${info.scenario}, seed ${info.seed}`;
  prepare(await (await fetch("/api/geometry")).json());
  fit();
  draw();
  T.ready = true;
  requestAnimationFrame(loop);
  if (info.mode === "live") connectLive();
  else await startReplay();
}

main().catch((err) => setStatus(`error: ${err}`, true));
