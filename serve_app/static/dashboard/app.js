// The dashboard page: wires the API (/api/*), the stream (/ws) and the views together.
// State for tests and debugging: window.dashboard.
import {applyDelta, fromSnapshot} from "./book.js";
import {CandleChart, INTERVAL_S, bucketOf, localSeconds} from "./candles.js";
import {StreamClient} from "./stream.js";
import * as view from "./view.js";

const params = new URLSearchParams(location.search);
const apiKey = params.get("api_key");
const $ = id => document.getElementById(id);

const state = window.dashboard = {
  symbol: null, interval: params.get("interval") in INTERVAL_S ? params.get("interval") : "1m",
  connected: false, reconnects: 0, gaps: 0, closeCode: null,
  trades: [], tradeCount: 0, lastTrade: null,
  book: null, bookSeq: null, bookSnapshots: 0, deltas: 0, mismatches: 0, resyncs: 0, awaitingSnapshot: true,
  whales: [], sectors: null, status: null, api: null, errors: [], candles: {loaded: 0, error: null},
  universe: [], streamed: [], chart: null,
};

async function api(path) {
  const r = await fetch(path, {headers: apiKey ? {"x-api-key": apiKey} : {}});
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const err = new Error(body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`);
    err.code = body && body.error ? body.error.code : String(r.status);
    throw err;
  }
  return body;
}

// ------------------------------------------------------------------ chart
const chart = new CandleChart($("chart"));
state.chart = chart.stats();
let candleRequest = 0;

async function loadCandles(replay = true) {
  const id = ++candleRequest, sym = state.symbol, ivl = state.interval;
  try {
    const body = await api(`/api/candles/${encodeURIComponent(sym)}?interval=${ivl}`);
    if (id !== candleRequest) return;  // a newer request (symbol/interval switch) won
    chart.setHistory(body.candles, ivl);
    state.candles = {loaded: body.candles.length, error: null, interval: ivl};
    if (replay) replayTrades(ivl);
  } catch (e) {
    if (id !== candleRequest) return;
    chart.setHistory([], ivl);  // live trades still draw the forming candle
    if (replay) replayTrades(ivl);
    state.candles = {loaded: 0, error: e.code === "NO_DATA_FOUND" ? "no candles yet" : e.message, interval: ivl};
  }
  chart.fit();
  state.chart = chart.stats();
  view.chartNote($("chart-note"), state.candles, ivl);
}

/** After a switch: the buffered trades newer than the history open the forming candle at once
 * (its volume counts only the buffered prints until the next history refresh). */
function replayTrades(ivl) {
  const last = chart.bars.length ? chart.bars[chart.bars.length - 1].time : -Infinity;
  for (const t of state.trades.slice().reverse()) {
    if (bucketOf(localSeconds(t.time), ivl) > last) chart.addTrade(t);
  }
}

// ------------------------------------------------------------------ stream
const proto = location.protocol === "https:" ? "wss:" : "ws:";
const stream = new StreamClient(`${proto}//${location.host}/ws${apiKey ? "?api_key=" + encodeURIComponent(apiKey) : ""}`,
                                onMessage, s => {
  state.connected = s.connected; state.reconnects = s.reconnects; state.closeCode = s.closeCode;
  dirty.status = true;
});
window.dashboardStream = stream;
stream.subscribe(["status", "whale", "sectors"]);

const dirty = {trades: true, book: true, whales: true, sectors: true, status: true, header: true};

function onMessage(m) {
  if (m.duplicate) return;
  const ch = m.channel;
  if (m.type === "error") {
    state.errors.push({channel: ch, ...m.data});
    state.errors = state.errors.slice(-20);
    dirty.status = true;
    return;
  }
  if (ch === "status") { if (m.data) state.status = m.data; dirty.status = dirty.header = true; return; }
  if (ch === "sectors") { if (m.data) state.sectors = m.data; dirty.sectors = true; return; }
  if (ch === "whale") {
    const alerts = m.type === "snapshot" ? (m.data && m.data.recent || []).slice().reverse() : [m.data];
    state.whales = (m.type === "snapshot" ? alerts : alerts.concat(state.whales)).slice(0, 50);
    dirty.whales = true;
    return;
  }
  if (!ch || ch.slice(ch.indexOf(":") + 1) !== state.symbol) return;  // an old symbol's leftovers
  if (ch.startsWith("book:")) onBook(m, ch);
  else if (ch.startsWith("trade:")) onTrade(m);
}

function onBook(m, ch) {
  if (m.type === "snapshot") {
    state.book = fromSnapshot(m.data);
    state.bookSeq = m.seq;
    state.bookSnapshots++;
    state.awaitingSnapshot = false;
    if (!state.book.ok) { state.mismatches++; resyncBook(ch); }
  } else if (m.type === "delta") {
    if (state.awaitingSnapshot || !state.book) return;
    if (m.gap) { resyncBook(ch); return; }
    state.book = applyDelta(state.book, m.data);
    state.bookSeq = m.seq;
    state.deltas++;
    if (!state.book.ok) { state.mismatches++; resyncBook(ch); }
  }
  dirty.book = true;
}

function resyncBook(ch) {
  state.resyncs++;
  state.awaitingSnapshot = true;
  stream.resync(ch);
}

function onTrade(m) {
  const t = m.type === "snapshot" ? m.data && m.data.last : m.data;
  if (!t) return;
  state.lastTrade = t;
  dirty.header = true;
  if (m.type === "snapshot") return;  // the last print, already counted before
  state.tradeCount++;
  state.trades.unshift(t);
  state.trades.length = Math.min(state.trades.length, 60);
  chart.addTrade(t);
  dirty.trades = true;
}

// ------------------------------------------------------------------ symbol + interval
function selectSymbol(sym) {
  if (sym === state.symbol) return;
  if (state.symbol) stream.unsubscribe([`trade:${state.symbol}`, `book:${state.symbol}`]);
  Object.assign(state, {symbol: sym, trades: [], lastTrade: null, book: null, bookSeq: null,
                        awaitingSnapshot: true});
  chart.clear();
  state.candles = {loaded: 0, error: null, interval: null};
  state.chart = chart.stats();
  params.set("symbol", sym);
  history.replaceState(null, "", `?${params}`);
  stream.subscribe([`trade:${sym}`, `book:${sym}`]);
  Object.keys(dirty).forEach(k => dirty[k] = true);
  loadCandles();
}

function selectInterval(ivl) {
  state.interval = ivl;
  params.set("interval", ivl);
  history.replaceState(null, "", `?${params}`);
  document.querySelectorAll("#intervals button").forEach(b => b.classList.toggle("active", b.dataset.ivl === ivl));
  chart.clear();
  state.candles = {loaded: 0, error: null, interval: null};
  state.chart = chart.stats();
  loadCandles();
}

async function refreshStatus() {
  try {
    const body = await api("/api/status");
    state.api = body.api;
    const up = body.upstream || {};
    state.streamed = Object.keys(up.feeds || {}).sort();
    if (!state.status && up.socket) state.status = view.summarizeUpstream(up);
  } catch (e) {
    state.api = {error: e.message};
  }
  dirty.status = dirty.header = true;
}

async function refreshSectors() {
  try { state.sectors = await api("/api/market/sectors"); } catch (e) { /* NO_DATA_FOUND until jobs.sectors ran */ }
  dirty.sectors = true;
}

// ------------------------------------------------------------------ render loop
function render() {
  if (dirty.header) view.header(state);
  if (dirty.status) view.status($("status"), state, stream);
  if (dirty.book) view.book($("book"), state.book, state);
  if (dirty.trades) view.trades($("trades"), state.trades);
  if (dirty.whales) view.whales($("whales"), state.whales);
  if (dirty.sectors) view.sectors($("sectors"), state.sectors);
  Object.keys(dirty).forEach(k => dirty[k] = false);
  state.chart = chart.stats();
  state.gaps = stream.gaps;
}

async function start() {
  for (const ivl of Object.keys(INTERVAL_S)) {
    const b = document.createElement("button");
    b.textContent = ivl; b.dataset.ivl = ivl;
    b.onclick = () => selectInterval(ivl);
    $("intervals").appendChild(b);
  }
  document.querySelectorAll("#intervals button").forEach(b => b.classList.toggle("active", b.dataset.ivl === state.interval));
  $("symbol").onchange = ev => selectSymbol(ev.target.value);
  try { state.universe = (await api("/dashboard/symbols")).symbols; } catch (e) { state.universe = []; }
  await refreshStatus();
  const wanted = (params.get("symbol") || "").toUpperCase();
  const first = wanted || state.streamed[0] || "005930";
  view.picker($("symbol"), state.universe, state.streamed, first);
  selectSymbol(first);
  refreshSectors();
  setInterval(render, 200);
  setInterval(refreshStatus, 10000);
  setInterval(() => loadCandles(false), 60000);  // closed buckets and gap fills from the database
}
start();
