// Container healthcheck (slim images have no curl): node infra/docker/healthcheck.mjs <port> [path]
// Exits 0 when http://127.0.0.1:<port><path> answers 2xx within 3 s.
const [port, path = '/health'] = process.argv.slice(2);
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
