// The heap explorer of `mem3 replay --html` and `mem3 run --html` (see html.rs): one page, no network.
// DATA holds the timeline; each snapshot's segments are base64 LEB128 varints (html.rs, `encode`).
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const $ = (id) => document.getElementById(id);
const W = 1024, ROWS = 64, RH = 8, PX = W * ROWS;
const BG = [255, 255, 255];
const FREE = [0xe4, 0xe6, 0xea];
// Categories: 0 free, 1 used, 2 pinned, then object kinds by tag (tag - 1 + 3).
const CAT = [FREE, [0x3b, 0x6e, 0xa8], [0xc0, 0x39, 0x2b], [0x3b, 0x6e, 0xa8], [0xe0, 0x8e, 0x1b], [0x2e, 0x9b, 0x5f], [0x7d, 0x3c, 0x98], [0x55, 0x55, 0x55]];
const KIND_NAMES = ["free", "used", "pinned", "mixed"];
const units = (n) => {
  const u = [[1 << 30, "GiB"], [1 << 20, "MiB"], [1 << 10, "KiB"]];
  for (const [s, name] of u) if (n >= s) return (+(n / s).toFixed(2)) + " " + name;
  return n + " B";
};
const exact = (n) => n.toLocaleString("en-US") + " B";
const pct = (f) => (f * 100).toFixed(1) + "%";

function decode(snap) {
  if (snap.decoded) return snap.decoded;
  const bin = atob(snap.seg);
  let pos = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = bin.charCodeAt(pos++); v += (b & 127) * mul; mul *= 128; } while (b & 128 && pos <= bin.length);
    return v;
  };
  const start = [], size = [], kind = [], blocks = [], used = [], tag = [];
  let at = 0;
  while (pos < bin.length) {
    const s = varint() * 8, code = varint();
    const k = code & 3;
    let n = 1, u = k === 0 ? 0 : s;
    if (code & 4) { n = varint(); u = varint() * 8; }
    const t = varint();
    start.push(at); size.push(s); kind.push(k); blocks.push(n); used.push(u); tag.push(t);
    at += s;
  }
  snap.decoded = { start, size, kind, blocks, used, tag, n: start.length };
  return snap.decoded;
}

function category(d, i) {
  if (d.kind[i] === 2) return 2;
  if (DATA.tagMeaning === "kind" && d.tag[i] > 0) return Math.min(2 + d.tag[i], CAT.length - 1);
  return 1;
}

let cur = DATA.peak ?? 0;
let view0 = 0, view1 = DATA.capacity;

function findSegment(d, addr) {
  let lo = 0, hi = d.n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (d.start[mid] <= addr) lo = mid; else hi = mid - 1;
  }
  return lo;
}

function drawMap() {
  const canvas = $("map"), ctx = canvas.getContext("2d");
  const d = decode(DATA.snapshots[cur]);
  const span = view1 - view0, bpp = span / PX;
  const used = new Float64Array(PX), cats = new Float64Array(PX * CAT.length), cover = new Float64Array(PX);
  const starts = new Uint8Array(PX);
  let i = Math.max(0, findSegment(d, view0));
  for (; i < d.n && d.start[i] < view1; i++) {
    const a = Math.max(d.start[i], view0), b = Math.min(d.start[i] + d.size[i], view1);
    if (b <= a) continue;
    const p0 = (a - view0) / bpp, p1 = (b - view0) / bpp;
    const fill = d.size[i] ? d.used[i] / d.size[i] : 0, c = category(d, i);
    if (p1 - p0 >= 4 && d.start[i] >= view0) starts[Math.floor(p0)] = 1;
    for (let p = Math.floor(p0); p < Math.min(PX, Math.ceil(p1)); p++) {
      const o = (Math.min(p1, p + 1) - Math.max(p0, p)) * bpp;
      cover[p] += o; used[p] += o * fill; cats[p * CAT.length + c] += o * fill;
    }
  }
  const img = ctx.createImageData(W, ROWS * RH);
  for (let p = 0; p < PX; p++) {
    let rgb = BG;
    if (cover[p] > 0) {
      const occ = used[p] / cover[p];
      let best = 1, bv = -1;
      for (let c = 1; c < CAT.length; c++) if (cats[p * CAT.length + c] > bv) { bv = cats[p * CAT.length + c]; best = c; }
      const full = CAT[best], t = occ > 0 ? Math.max(occ, 0.12) : 0;
      rgb = [0, 1, 2].map((k) => Math.round(FREE[k] + (full[k] - FREE[k]) * t));
      if (starts[p]) rgb = rgb.map((v) => Math.min(255, v + 70));
    }
    const x = p % W, row = Math.floor(p / W);
    for (let y = 0; y < RH - 1; y++) {
      const o = ((row * RH + y) * W + x) * 4;
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
    }
  }
  for (let y = 0; y < ROWS; y++) for (let x = 0; x < W; x++) {
    const o = (((y + 1) * RH - 1) * W + x) * 4;
    img.data[o] = img.data[o + 1] = img.data[o + 2] = img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  // The largest free blocks, outlined.
  const holes = [];
  for (let k = 0; k < d.n; k++) if (d.kind[k] === 0) holes.push(k);
  holes.sort((a, b) => d.size[b] - d.size[a]);
  ctx.strokeStyle = "#d1342f"; ctx.lineWidth = 1.5;
  for (const k of holes.slice(0, 3)) {
    const a = Math.max(d.start[k], view0), b = Math.min(d.start[k] + d.size[k], view1);
    if (b <= a) continue;
    let p = Math.floor((a - view0) / bpp);
    const end = Math.min(PX, Math.ceil((b - view0) / bpp));
    while (p < end) {
      const row = Math.floor(p / W), x = p % W, n = Math.min(end - p, W - x);
      ctx.strokeRect(x + 0.75, row * RH + 0.75, Math.max(n - 1.5, 1), RH - 2.5);
      p += n;
    }
  }
  $("view").textContent = `showing ${units(view0)} to ${units(view1)} (${units(span)}; ${bpp >= 1 ? "1 pixel = " + units(Math.round(bpp)) : "1 byte = " + (1 / bpp).toFixed(1) + " pixels"}), ${DATA.snapshots[cur].exact ? "every block exact" : "largest free blocks exact, the rest folded into runs"}`;
}

function drawPlot() {
  const canvas = $("plot"), ctx = canvas.getContext("2d"), H = canvas.height, PW = canvas.width;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, PW, H);
  const end = Math.max(1, DATA.end), x = (at) => (at / end) * (PW - 2) + 1;
  const S = DATA.samples, cap = DATA.capacity, top = 8, h = H - 24;
  const line = (col, value, dash) => {
    ctx.strokeStyle = col; ctx.setLineDash(dash || []); ctx.beginPath();
    for (let k = 0; k < S.length; k++) {
      const y = top + h - value(S[k]) * h;
      if (k === 0) ctx.moveTo(x(S[k][0]), y); else ctx.lineTo(x(S[k][0]), y);
    }
    ctx.stroke(); ctx.setLineDash([]);
  };
  line("#3b6ea8", (s) => s[1] / cap);
  line("#9aa0a8", (s) => s[2] / cap);
  line("#2e9b5f", (s) => s[3] / cap);
  line("#d1342f", (s) => s[4] / 10000, [4, 3]);
  ctx.fillStyle = "#bbb";
  for (const s of DATA.snapshots) ctx.fillRect(x(s.at) - 0.5, 0, 1, 4);
  const colours = { failure: "#d1342f", collection: "#2e9b5f", compaction: "#e08e1b" };
  for (const e of DATA.events) {
    ctx.fillStyle = colours[e.kind]; const ex = x(e.at);
    if (e.kind === "failure") { ctx.beginPath(); ctx.moveTo(ex, H - 14); ctx.lineTo(ex - 6, H - 2); ctx.lineTo(ex + 6, H - 2); ctx.fill(); }
    else ctx.fillRect(ex - 1, e.kind === "collection" ? H - 14 : H - 8, 2, 6);
  }
  ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5; ctx.beginPath();
  ctx.moveTo(x(DATA.snapshots[cur].at), 0); ctx.lineTo(x(DATA.snapshots[cur].at), H); ctx.stroke(); ctx.lineWidth = 1;
}

function showFigures() {
  const s = DATA.snapshots[cur];
  $("f-at").textContent = `${DATA.moment} ${s.at.toLocaleString("en-US")} of ${DATA.end.toLocaleString("en-US")}` + (s.line ? ` (line ${s.line.toLocaleString("en-US")})` : "") + (cur === DATA.peak ? ", the peak" : "");
  $("f-used").textContent = exact(s.used);
  $("f-free").textContent = exact(s.free);
  $("f-largest").textContent = exact(s.largest);
  $("f-frag").textContent = pct(s.frag);
  $("f-blocks").textContent = `${s.usedBlocks.toLocaleString("en-US")} used, ${s.freeBlocks.toLocaleString("en-US")} free`;
  const here = DATA.events.filter((e) => e.before === cur || e.after === cur);
  $("snap-label").textContent = `snapshot ${cur + 1} of ${DATA.snapshots.length}` + here.map((e) => ` · ${e.before === cur ? "before" : "after"} the ${e.kind}`).join("");
}

function redraw() { showFigures(); drawPlot(); drawMap(); }
function go(k) { cur = Math.max(0, Math.min(DATA.snapshots.length - 1, k)); $("slider").value = cur; redraw(); }
function zoomAt(addr, factor) {
  let span = Math.max(256, Math.min(DATA.capacity, (view1 - view0) * factor));
  let a = addr - (addr - view0) * (span / (view1 - view0));
  a = Math.max(0, Math.min(DATA.capacity - span, a));
  view0 = a; view1 = a + span; drawMap();
}
function addrAt(ev) {
  const r = $("map").getBoundingClientRect();
  const x = Math.floor((ev.clientX - r.left) * (W / r.width)), y = Math.floor((ev.clientY - r.top) * (ROWS * RH / r.height));
  const p = Math.floor(y / RH) * W + x;
  return view0 + (p + 0.5) * (view1 - view0) / PX;
}
function describe(addr) {
  const d = decode(DATA.snapshots[cur]);
  if (addr < 0 || addr >= DATA.capacity) return "";
  const i = findSegment(d, addr);
  const at = `offset ${d.start[i].toLocaleString("en-US")} (0x${d.start[i].toString(16)}), size ${exact(d.size[i])}`;
  if (d.blocks[i] > 1) return `${at}: ${d.blocks[i].toLocaleString("en-US")} blocks folded together, ${exact(d.used[i])} used (${pct(d.used[i] / d.size[i])}); zoom in or pick an exact snapshot for each block`;
  let state = KIND_NAMES[d.kind[i]];
  if (d.kind[i] !== 0 && d.tag[i] > 0) state += DATA.tagMeaning === "kind" ? `, ${DATA.kinds[d.tag[i]] || "object"} object` : `, allocated by the request on line ${d.tag[i].toLocaleString("en-US")}`;
  return `${at}, ${state}`;
}

function setup() {
  document.title = DATA.title;
  $("title").textContent = DATA.title;
  const slider = $("slider");
  slider.max = DATA.snapshots.length - 1; slider.value = cur;
  slider.addEventListener("input", () => go(+slider.value));
  $("prev").onclick = () => go(cur - 1);
  $("next").onclick = () => go(cur + 1);
  $("peak").onclick = () => go(DATA.peak ?? 0);
  $("zoom-in").onclick = () => zoomAt((view0 + view1) / 2, 0.25);
  $("zoom-out").onclick = () => zoomAt((view0 + view1) / 2, 4);
  $("zoom-all").onclick = () => { view0 = 0; view1 = DATA.capacity; drawMap(); };
  const map = $("map");
  map.addEventListener("wheel", (ev) => { ev.preventDefault(); zoomAt(addrAt(ev), ev.deltaY < 0 ? 0.7 : 1 / 0.7); }, { passive: false });
  map.addEventListener("dblclick", (ev) => zoomAt(addrAt(ev), 0.25));
  let drag = null;
  map.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, v0: view0 }; });
  window.addEventListener("mouseup", () => { drag = null; });
  map.addEventListener("mousemove", (ev) => {
    if (drag) {
      const r = map.getBoundingClientRect(), span = view1 - view0;
      const shift = -((ev.clientX - drag.x) * (W / r.width)) * ROWS * (span / PX);
      const a = Math.max(0, Math.min(DATA.capacity - span, drag.v0 + shift));
      if (a !== view0) { view0 = a; view1 = a + span; drawMap(); }
    }
    const tip = $("tip"); tip.textContent = describe(addrAt(ev));
    tip.style.left = ev.pageX + 12 + "px"; tip.style.top = ev.pageY + 12 + "px"; tip.style.display = tip.textContent ? "block" : "none";
  });
  map.addEventListener("mouseleave", () => { $("tip").style.display = "none"; });
  $("plot").addEventListener("click", (ev) => {
    const r = $("plot").getBoundingClientRect(), at = ((ev.clientX - r.left) / r.width) * DATA.end;
    let best = 0;
    DATA.snapshots.forEach((s, k) => { if (Math.abs(s.at - at) < Math.abs(DATA.snapshots[best].at - at)) best = k; });
    go(best);
  });
  const legend = [["used", CAT[1]], ["pinned", CAT[2]]];
  if (DATA.tagMeaning === "kind") for (const [t, name] of Object.entries(DATA.kinds)) legend.push([name, CAT[Math.min(2 + +t, CAT.length - 1)]]);
  legend.push(["free", FREE]);
  $("legend").innerHTML = legend.map(([n, c]) => `<span class="sw" style="background:rgb(${c})"></span>${n}`).join(" ") +
    ` · lighter: partly used · <span class="sw hole"></span>the three largest free blocks · plot: <b style="color:#3b6ea8">used</b> <b style="color:#9aa0a8">free</b> <b style="color:#2e9b5f">largest free</b> <b style="color:#d1342f">fragmentation</b> (0 to 100%), marks: <b style="color:#d1342f">▲ failure</b> <b style="color:#2e9b5f">| collection</b> <b style="color:#e08e1b">| compaction</b>`;
  const ev = $("events");
  const counts = {};
  for (const e of DATA.events) counts[e.kind] = (counts[e.kind] || 0) + 1;
  let html = `<p>${Object.entries(counts).map(([k, n]) => `${n.toLocaleString("en-US")} ${k}${n === 1 ? "" : "s"}`).join(", ") || "no failures, collections or compactions"}${DATA.eventsDropped ? ` (and ${DATA.eventsDropped.toLocaleString("en-US")} more not marked)` : ""}</p>`;
  for (const e of DATA.events.filter((e) => e.before !== null || e.after !== null)) {
    html += `<div>${e.kind} at ${DATA.moment} ${e.at.toLocaleString("en-US")}${e.line ? ` (line ${e.line.toLocaleString("en-US")})` : ""}: ` +
      (e.before !== null ? `<button data-snap="${e.before}">before</button>` : "") +
      (e.after !== null ? ` <button data-snap="${e.after}">after</button>` : "") + "</div>";
  }
  ev.innerHTML = html;
  ev.querySelectorAll("button").forEach((b) => { b.onclick = () => go(+b.dataset.snap); });
  redraw();
}

// For the browser test (`#selftest`): the canvas's drawn pixels, and the figures before and after the
// slider moves, written into the page.
function selftest() {
  const drawn = () => {
    const px = $("map").getContext("2d").getImageData(0, 0, W, ROWS * RH).data;
    let n = 0, usedPx = 0;
    for (let o = 0; o < px.length; o += 4) {
      if (px[o] !== 255 || px[o + 1] !== 255 || px[o + 2] !== 255) n++;
      if (!(px[o] === FREE[0] && px[o + 1] === FREE[1] && px[o + 2] === FREE[2]) && !(px[o] === 255 && px[o + 1] === 255 && px[o + 2] === 255)) usedPx++;
    }
    return [n, usedPx];
  };
  const figures = () => ["f-at", "f-used", "f-free", "f-largest", "f-frag"].map((id) => $(id).textContent).join(" | ");
  const r = { snapshots: DATA.snapshots.length, start: cur };
  [r.pixels, r.usedPixels] = drawn();
  r.before = figures();
  const slider = $("slider");
  let target = cur === 0 ? DATA.snapshots.length - 1 : 0;
  slider.value = target;
  slider.dispatchEvent(new Event("input"));
  r.after = figures();
  r.moved = +slider.value;
  [r.pixelsAfter] = drawn();
  // The first event with snapshots before and after it: the figures and the label on each.
  const e = DATA.events.find((e) => e.before !== null && e.after !== null);
  if (e) {
    const at = (k) => { go(k); return { figures: figures(), blocks: $("f-blocks").textContent, label: $("snap-label").textContent }; };
    r.event = { kind: e.kind, before: at(e.before), after: at(e.after) };
  }
  r.events = DATA.events.length;
  // Back to where it opened (the peak, exact when it can be), zoomed to the first bytes.
  go(r.start);
  zoomAt(0, 1 / 1024);
  r.zoomed = $("view").textContent;
  r.hover = describe(0);
  $("selftest").textContent = JSON.stringify(r);
}

setup();
if (location.hash === "#selftest") selftest();
