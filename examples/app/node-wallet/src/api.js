'use strict';
// node-api: the wallet service's internal HTTP API (Django and nginx call it).
//
//   GET  /health            200 {"status":"ok","redis":"ok","version":...} or 503
//   GET  /v1/status         the workers' last heartbeats and unit counts
//   POST /v1/payouts        queue a payout {amount, currency, destination} -> 202 {id}
//   GET  /v1/payouts/:id    a payout's status
//
// With NODE_INTERNAL_API_KEY set, every endpoint but /health needs the
// header X-Internal-Api-Key. SIGTERM: stop accepting connections, finish the
// requests in flight, exit 0. With SENTRY_DSN, errors go to Sentry
// (lib/sentry.js).

const crypto = require('node:crypto');
const http = require('node:http');
const { loadOrExit } = require('./lib/config');
const { createLogger } = require('./lib/log');
const { RedisClient } = require('./lib/redis');
const sentry = require('./lib/sentry');
const keys = require('./lib/keys');

const NAME = 'node-api';
const MAX_BODY = 16 * 1024;

const config = loadOrExit(NAME);
const log = createLogger(NAME);
sentry.init(NAME, { log });
const redis = new RedisClient(config.redisUrl, { commandTimeoutMs: 2000 });
let shuttingDown = false;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function send(res, status, body) {
  const payload = JSON.stringify(body);
  if (shuttingDown) res.setHeader('Connection', 'close');
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
  });
  res.end(payload);
}

function authorize(req) {
  if (!config.internalApiKey) return;
  const given = Buffer.from(String(req.headers['x-internal-api-key'] || ''));
  const expected = Buffer.from(config.internalApiKey);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new HttpError(401, 'missing or wrong X-Internal-Api-Key');
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch (err) {
        reject(new HttpError(400, 'body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

async function health() {
  try {
    const pong = await redis.command('PING');
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    return [200, { status: 'ok', redis: 'ok', version: config.version }];
  } catch (err) {
    return [503, { status: 'error', redis: err.message, version: config.version }];
  }
}

async function status() {
  const now = Date.now() / 1000;
  const workers = {};
  for (const name of keys.WORKERS) {
    const [beat, units] = await Promise.all([
      redis.command('GET', keys.heartbeat(name)),
      redis.command('GET', keys.units(name)),
    ]);
    const last = beat === null ? null : Number(beat);
    workers[name] = {
      last_heartbeat: last,
      age_seconds: last === null ? null : Math.round(now - last),
      alive: last !== null && now - last < config.heartbeatTtlSeconds,
      units: Number(units || 0),
    };
  }
  const queued = await redis.command('LLEN', keys.PAYOUT_QUEUE);
  return [200, { version: config.version, workers, payouts_queued: queued }];
}

async function createPayout(req) {
  const body = await readJson(req);
  const amount = Number(body.amount);
  if (!Number.isFinite(amount) || amount <= 0) throw new HttpError(400, 'amount must be a positive number');
  const currency = String(body.currency || 'EUR').toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw new HttpError(400, 'currency must be three letters');
  const destination = String(body.destination || '');
  if (!destination || destination.length > 64) throw new HttpError(400, 'destination must be 1 to 64 characters');
  const job = { id: crypto.randomUUID(), amount: amount.toFixed(2), currency, destination, queued_at: new Date().toISOString() };
  await redis.command('HSET', keys.PAYOUT_STATUS, job.id, JSON.stringify({ status: 'queued' }));
  await redis.command('RPUSH', keys.PAYOUT_QUEUE, JSON.stringify(job));
  log.info(`payout ${job.id} queued: ${job.amount} ${currency}`);
  return [202, { id: job.id, status: 'queued' }];
}

async function payoutStatus(id) {
  const raw = await redis.command('HGET', keys.PAYOUT_STATUS, id);
  if (raw === null) throw new HttpError(404, `no payout ${id}`);
  return [200, { id, ...JSON.parse(raw) }];
}

async function route(req) {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (path === '/health') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'GET only');
    return health();
  }
  if (!path.startsWith('/v1/')) throw new HttpError(404, `no route for ${path}`);
  authorize(req);
  if (path === '/v1/status' && req.method === 'GET') return status();
  if (path === '/v1/payouts' && req.method === 'POST') return createPayout(req);
  const match = /^\/v1\/payouts\/([0-9a-f-]{36})$/.exec(path);
  if (match && req.method === 'GET') return payoutStatus(match[1]);
  throw new HttpError(404, `no route for ${req.method} ${path}`);
}

const server = http.createServer((req, res) => {
  const started = Date.now();
  route(req)
    .catch((err) => {
      if (err instanceof HttpError) return [err.status, { error: err.message }];
      log.error(`${req.method} ${req.url}: ${err.stack || err}`, err);
      return [500, { error: 'internal error' }];
    })
    .then(([code, body]) => {
      send(res, code, body);
      const line = `${req.method} ${req.url} ${code} ${Date.now() - started} ms`;
      if (req.url === '/health' && code === 200) log.debug(line);
      else log.info(line);
    });
});
server.keepAliveTimeout = 65000; // longer than a proxy's idle keepalive
server.headersTimeout = 66000;
server.requestTimeout = 30000;

function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info(`${signal} received: no new connections, finishing requests in flight`);
  const timer = setTimeout(() => {
    log.error(`requests still running after ${config.shutdownTimeoutMs} ms; exiting anyway`);
    sentry.flush(2000).then(() => process.exit(1));
  }, config.shutdownTimeoutMs);
  timer.unref();
  server.close(async () => {
    await redis.quit();
    log.info('stopped cleanly');
    await sentry.flush(2000);
    process.exit(0);
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(config.port, '0.0.0.0', () => {
  log.info(`listening on :${config.port}, release ${config.version}`
    + (config.internalApiKey ? ', X-Internal-Api-Key required on /v1' : ''));
});
