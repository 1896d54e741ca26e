// The /ws client: subscriptions, per-channel seq/epoch, reconnect with backoff and resume.
// Protocol: backbone/stream_protocol.py. On reconnect every channel that has seen an epoch is
// resumed from its last seq (the server replays or answers with a fresh snapshot); others are
// subscribed again.

export class StreamClient {
  constructor(url, onMessage, onState) {
    this.url = url;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.channels = new Set();
    this.pos = new Map();  // channel -> {epoch, seq}
    this.connected = false;
    this.reconnects = 0;
    this.gaps = 0;
    this._delay = 500;
    this._connect();
  }

  _connect() {
    const ws = this.ws = new WebSocket(this.url);
    ws.onopen = () => {
      this.connected = true;
      this._delay = 500;
      const fresh = [];
      for (const ch of this.channels) {
        const p = this.pos.get(ch);
        if (p && p.epoch && p.seq != null) this._send({op: "resume", channel: ch, epoch: p.epoch, from_seq: p.seq});
        else fresh.push(ch);
      }
      if (fresh.length) this._send({op: "subscribe", channels: fresh});
      this.onState(this);
    };
    ws.onmessage = ev => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      this._track(m);
      this.onMessage(m);
    };
    ws.onclose = ev => {
      const wasConnected = this.connected;
      this.connected = false;
      this.closeCode = ev.code;
      if (wasConnected) this.reconnects++;
      this.onState(this);
      if (ev.code === 4401) return;  // wrong API key: retrying cannot help
      setTimeout(() => this._connect(), this._delay);
      this._delay = Math.min(this._delay * 2, 8000);
    };
  }

  _track(m) {
    const ch = m.channel;
    if (!ch || m.seq == null || !this.channels.has(ch)) return;
    const p = this.pos.get(ch);
    // m.gap: a continuity break the page should act on (book -> resync).
    if (m.type !== "snapshot" && p && (p.epoch !== m.epoch || m.seq !== p.seq + 1)) {
      if (m.seq <= p.seq && p.epoch === m.epoch) { m.duplicate = true; return; }
      m.gap = true;
      this.gaps++;
    }
    this.pos.set(ch, {epoch: m.epoch, seq: m.seq});
  }

  _send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  subscribe(channels) {
    const add = channels.filter(ch => !this.channels.has(ch));
    add.forEach(ch => this.channels.add(ch));
    if (add.length) this._send({op: "subscribe", channels: add});
  }

  unsubscribe(channels) {
    const drop = channels.filter(ch => this.channels.has(ch));
    drop.forEach(ch => { this.channels.delete(ch); this.pos.delete(ch); });
    if (drop.length) this._send({op: "unsubscribe", channels: drop});
  }

  /** A fresh snapshot of `channel` (after a checksum mismatch or a gap). */
  resync(channel) {
    this.pos.delete(channel);
    this._send({op: "unsubscribe", channels: [channel]});
    this._send({op: "subscribe", channels: [channel]});
  }
}
