// Order book rebuilt from snapshot + deltas, verified with the server's CRC32 checksum.
// Checksum text (backbone/book.py, keep exact): "a:{price}:{size}|...|b:{price}:{size}", asks best
// (lowest) first then bids best (highest) first, top `depth` levels; prices as canonical text.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(text) {  // text is ASCII
  let c = 0xFFFFFFFF;
  for (let i = 0; i < text.length; i++) c = CRC_TABLE[(c ^ text.charCodeAt(i)) & 0xFF] ^ (c >>> 8);
  return (c ^ 0xFFFFFFFF) >>> 0;
}

// Integer prices travel as JSON numbers, decimal prices as canonical text: both print as is.
const priceText = p => typeof p === "number" ? String(p) : p;

export function checksum(book) {
  const parts = book.asks.map(([p, s]) => `a:${priceText(p)}:${s}`)
    .concat(book.bids.map(([p, s]) => `b:${priceText(p)}:${s}`));
  return crc32(parts.join("|"));
}

/** A book from a `snapshot` message's data; `ok` says whether the checksum matches. */
export function fromSnapshot(data) {
  const book = {depth: data.depth || 10, asks: data.asks || [], bids: data.bids || [],
                checksum: data.checksum, time: data.time};
  book.ok = checksum(book) === data.checksum;
  return book;
}

/** The book after a `delta` (changes: [side, price, size], size 0 removes), checksum verified. */
export function applyDelta(book, data) {
  const sides = {ask: new Map(book.asks.map(([p, s]) => [priceText(p), [p, s]])),
                 bid: new Map(book.bids.map(([p, s]) => [priceText(p), [p, s]]))};
  for (const [side, p, s] of data.changes || []) {
    if (!sides[side]) continue;
    if (s <= 0) sides[side].delete(priceText(p)); else sides[side].set(priceText(p), [p, s]);
  }
  const asks = [...sides.ask.values()].sort((a, b) => Number(a[0]) - Number(b[0])).slice(0, book.depth);
  const bids = [...sides.bid.values()].sort((a, b) => Number(b[0]) - Number(a[0])).slice(0, book.depth);
  const out = {depth: book.depth, asks, bids, checksum: data.checksum, time: data.time || book.time};
  out.ok = checksum(out) === data.checksum;
  return out;
}
