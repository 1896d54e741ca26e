// The candle chart (TradingView lightweight-charts, vendored from npm): history from /api/candles,
// filled candles (`is_filled`) drawn hollow grey, the forming candle updated live from trades.
// Times are shown in the market's local time: each ISO time is shifted by its own UTC offset.

export const INTERVAL_S = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400};
const UP = "#d32f2f", DOWN = "#1565c0", FILLED = "#9e9e9e";

/** ISO-8601 ("2026-11-20T09:01:00+09:00" or a date "2026-11-20") -> local wall-clock seconds. */
export function localSeconds(iso) {
  if (iso.length === 10) return Date.parse(iso + "T00:00:00Z") / 1000;
  const m = /([+-])(\d\d):?(\d\d)$/.exec(iso);
  const offset = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
  return Date.parse(iso) / 1000 + offset;
}

export function bucketOf(seconds, interval) {
  const step = INTERVAL_S[interval];
  return Math.floor(seconds / step) * step;
}

function bar(c) {
  const t = localSeconds(c.time);
  const b = {time: t, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close),
             volume: Number(c.volume), filled: !!c.is_filled};
  return b;
}

function styled(b) {
  const out = {time: b.time, open: b.open, high: b.high, low: b.low, close: b.close};
  if (b.filled) Object.assign(out, {color: "rgba(0,0,0,0)", borderColor: FILLED, wickColor: FILLED});
  return out;
}

function volumeBar(b) {
  return {time: b.time, value: b.volume, color: b.filled ? "rgba(158,158,158,0.35)"
    : (b.close >= b.open ? "rgba(211,47,47,0.35)" : "rgba(21,101,192,0.35)")};
}

export class CandleChart {
  constructor(el) {
    this.el = el;
    this.bars = [];
    this.lib = window.LightweightCharts;
    if (!this.lib) {
      el.innerHTML = '<div class="empty">chart library missing: run <code>make deps-dashboard</code></div>';
      return;
    }
    this.chart = this.lib.createChart(el, {
      autoSize: true,
      layout: {background: {color: "#ffffff"}, textColor: "#37474f", fontSize: 11},
      grid: {vertLines: {color: "#f0f2f5"}, horzLines: {color: "#f0f2f5"}},
      rightPriceScale: {borderColor: "#dfe3e8"},
      timeScale: {borderColor: "#dfe3e8", timeVisible: true, secondsVisible: false},
      crosshair: {mode: 0},
    });
    this.series = this.chart.addCandlestickSeries({upColor: UP, downColor: DOWN, borderUpColor: UP,
      borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, priceLineVisible: true});
    this.volume = this.chart.addHistogramSeries({priceScaleId: "vol", priceFormat: {type: "volume"},
      lastValueVisible: false, priceLineVisible: false});
    this.chart.priceScale("vol").applyOptions({scaleMargins: {top: 0.8, bottom: 0}});
    this.chart.priceScale("right").applyOptions({scaleMargins: {top: 0.06, bottom: 0.24}});
  }

  get ready() { return !!this.chart; }

  /** Replace the history (from /api/candles); keeps a live candle newer than the history. */
  setHistory(candles, interval) {
    this.interval = interval;
    const live = this.bars.length && this.bars[this.bars.length - 1].live ? this.bars[this.bars.length - 1] : null;
    this.bars = candles.map(bar).sort((a, b) => a.time - b.time);
    if (live && (!this.bars.length || live.time > this.bars[this.bars.length - 1].time)) this.bars.push(live);
    if (!this.chart) return;
    this.series.setData(this.bars.map(styled));
    this.volume.setData(this.bars.map(volumeBar));
  }

  clear() {
    this.bars = [];
    if (this.chart) { this.series.setData([]); this.volume.setData([]); }
  }

  fit() { if (this.chart) this.chart.timeScale().fitContent(); }

  /** One trade into the forming candle (a new bucket opens a new candle). */
  addTrade(trade) {
    if (!this.interval || trade.price == null) return;
    const price = Number(trade.price), size = Number(trade.size || 0);
    const t = bucketOf(localSeconds(trade.time), this.interval);
    let last = this.bars[this.bars.length - 1];
    if (last && t < last.time) return;  // older than what the chart shows
    if (!last || t > last.time) {
      last = {time: t, open: price, high: price, low: price, close: price, volume: 0, filled: false};
      this.bars.push(last);
    } else if (last.filled) {  // a trade turns a filled bucket into a real one
      Object.assign(last, {open: price, high: price, low: price, close: price, volume: 0, filled: false});
    }
    last.live = true;
    last.high = Math.max(last.high, price);
    last.low = Math.min(last.low, price);
    last.close = price;
    last.volume += size;
    if (this.chart) { this.series.update(styled(last)); this.volume.update(volumeBar(last)); }
  }

  stats() {
    return {bars: this.bars.length, filled: this.bars.filter(b => b.filled).length,
            live: this.bars.filter(b => b.live).length, last: this.bars[this.bars.length - 1] || null};
  }
}
