// Per-event delay and time to first byte, plain HTTP against TLS, through the same engine.
// The fake llama-server stamps each SSE chunk with its CLOCK_MONOTONIC send time
// (--fake-stamp-events); Node's process.hrtime is the same clock, so receive - send is the delay
// each event took through the engine (and TLS). Rounds alternate plain and TLS.
//   node bench/tls_events.mjs PLAIN_PORT TLS_PORT ROUNDS   (NODE_EXTRA_CA_CERTS=the CA)
import http from "node:http";
import https from "node:https";

const [plainPort, tlsPort, rounds] = process.argv.slice(2).map(Number);
const body = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] });

function streamOnce(secure, port) {
  return new Promise((resolve, reject) => {
    const lib = secure ? https : http;
    const start = process.hrtime.bigint();
    const agent = new lib.Agent({ keepAlive: false });
    const req = lib.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", agent,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        let ttfb = null;
        const delays = [];
        let pending = "";
        res.on("data", (data) => {
          const now = process.hrtime.bigint();
          if (ttfb === null) ttfb = Number(now - start) / 1e6;
          pending += data.toString();
          let end;
          while ((end = pending.indexOf("\n\n")) >= 0) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            const match = event.match(/"fake_sent_ns":(\d+)/);
            if (match) delays.push(Number(now - BigInt(match[1])) / 1e6);
          }
        });
        res.on("end", () => resolve({ ttfb, delays }));
      });
    req.on("error", reject);
    req.end(body);
  });
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

const results = { plain: { ttfb: [], delays: [] }, tls: { ttfb: [], delays: [] } };
for (let round = 0; round < rounds; ++round) {
  for (const [name, secure, port] of [["plain", false, plainPort], ["tls", true, tlsPort]]) {
    const r = await streamOnce(secure, port);
    results[name].ttfb.push(r.ttfb);
    results[name].delays.push(...r.delays);
  }
}
for (const name of ["plain", "tls"]) {
  const r = results[name];
  console.log(`${name.padEnd(5)} ttfb p50 ${quantile(r.ttfb, 0.5).toFixed(3)} ms  p99 ${quantile(r.ttfb, 0.99).toFixed(3)} ms` +
    ` | per-event delay p50 ${quantile(r.delays, 0.5).toFixed(3)} ms  p99 ${quantile(r.delays, 0.99).toFixed(3)} ms` +
    ` (${r.delays.length} events)`);
}
