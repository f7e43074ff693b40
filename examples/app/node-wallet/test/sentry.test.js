'use strict';
// Unit tests of the Sentry reporter (src/lib/sentry.js) against a capture
// server on 127.0.0.1; no Sentry, no Redis, no network:
//   node --test test/sentry.test.js
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');
const pkg = require('../package.json');
const sentry = require('../src/lib/sentry');
const { createLogger } = require('../src/lib/log');

const SENTRY_JS = path.join(__dirname, '..', 'src', 'lib', 'sentry.js');
const LOG_JS = path.join(__dirname, '..', 'src', 'lib', 'log.js');
const KEY = 'f00dcafe0123456789abcdef01234567';

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A logger that records lines instead of printing them.
function recordingLog() {
  const lines = [];
  const add = (level) => (m) => lines.push(`${level} ${m}`);
  return { lines, info: add('INFO'), warn: add('WARN'), error: add('ERROR') };
}

// An HTTP server on 127.0.0.1 that records every request. respond: false
// holds requests without answering (a slow Sentry).
async function captureServer({ respond = true, status = 200, headers = {} } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (!respond) return;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end('{"id":"ok"}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    requests,
    dsn: (projectPath = '/42') => `http://${KEY}@127.0.0.1:${port}${projectPath}`,
    async waitFor(count, ms = 3000) {
      const until = Date.now() + ms;
      while (requests.length < count && Date.now() < until) await delay(10);
      return requests.length >= count;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function parseEnvelope(body) {
  const lines = body.split('\n');
  assert.strictEqual(lines.length, 4, 'envelope: header, item header, event, then a final newline');
  assert.strictEqual(lines[3], '');
  return { header: JSON.parse(lines[0]), item: JSON.parse(lines[1]), event: JSON.parse(lines[2]), rawEvent: lines[2] };
}

function withEnv(vars, fn) {
  const saved = {};
  for (const [name, value] of Object.entries(vars)) {
    saved[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return Promise.resolve()
    .then(fn)
    .finally(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
}

// Run a script in a child node with the given environment: {code, signal,
// stdout, stderr, ms}; killed after 15 s.
function runNode(script, env) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

test.afterEach(() => {
  sentry.init('off', { dsn: '' }); // back to no client between tests
});

test('parses DSNs as the SDKs do: https, http, port, path prefix', () => {
  const d = sentry.parseDsn(`https://${KEY}@o123.ingest.sentry.io/4505`);
  assert.strictEqual(d.protocol, 'https');
  assert.strictEqual(d.publicKey, KEY);
  assert.strictEqual(d.host, 'o123.ingest.sentry.io');
  assert.strictEqual(d.port, 443);
  assert.strictEqual(d.pathPrefix, '');
  assert.strictEqual(d.projectId, '4505');
  assert.strictEqual(d.envelopeUrl, 'https://o123.ingest.sentry.io/api/4505/envelope/');
  assert.strictEqual(d.dsn, `https://${KEY}@o123.ingest.sentry.io/4505`);

  const p = sentry.parseDsn(`http://${KEY}@sentry.internal:9000/7`);
  assert.strictEqual(p.protocol, 'http');
  assert.strictEqual(p.host, 'sentry.internal:9000');
  assert.strictEqual(p.hostname, 'sentry.internal');
  assert.strictEqual(p.port, 9000);
  assert.strictEqual(p.envelopeUrl, 'http://sentry.internal:9000/api/7/envelope/');

  const q = sentry.parseDsn(`  https://${KEY}:oldsecret@example.com/tools/sentry/12/  `);
  assert.strictEqual(q.pathPrefix, '/tools/sentry');
  assert.strictEqual(q.projectId, '12');
  assert.strictEqual(q.envelopeUrl, 'https://example.com/tools/sentry/api/12/envelope/');
  assert.strictEqual(q.dsn, `https://${KEY}@example.com/tools/sentry/12`, 'the deprecated secret is dropped');
});

test('rejects invalid DSNs with one line naming SENTRY_DSN, never the key', () => {
  const cases = {
    '': /it is empty/,
    'not a dsn': /not a URL/,
    [`ftp://${KEY}@example.com/1`]: /scheme must be https or http, not ftp/,
    'https://example.com/1': /public key .* is missing/,
    [`https://${KEY}@example.com`]: /project id .* is missing/,
    [`https://${KEY}@example.com/`]: /project id .* is missing/,
    [`https://${KEY}@example.com/project`]: /project id .* must be a number/,
    [`https://${KEY}@example.com/1/api`]: /project id .* must be a number/,
  };
  for (const [dsn, reason] of Object.entries(cases)) {
    assert.throws(() => sentry.parseDsn(dsn), (err) => {
      assert.ok(err instanceof sentry.DsnError, dsn);
      assert.match(err.message, /^SENTRY_DSN is not a valid DSN: /);
      assert.match(err.message, reason);
      assert.match(err.message, /expected https:\/\/<public_key>@<host>\[:port\]\/<project_id>/);
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.ok(!err.message.includes(KEY), 'the key is not repeated');
      return true;
    }, dsn);
  }
});

test('an invalid SENTRY_DSN is logged once and init goes on without Sentry', async () => {
  const log = recordingLog();
  await withEnv({ SENTRY_DSN: `https://${KEY}@example.com/not-a-number` }, () => {
    const status = sentry.init('wallet-test', { log, captureUncaught: false });
    assert.strictEqual(status.enabled, false);
    assert.match(status.error, /^SENTRY_DSN is not a valid DSN/);
  });
  assert.strictEqual(log.lines.length, 1);
  assert.match(log.lines[0], /^ERROR SENTRY_DSN is not a valid DSN: .*; errors are not reported to Sentry$/);
  assert.ok(!log.lines[0].includes(KEY));
  assert.strictEqual(sentry.enabled(), false);
  assert.strictEqual(sentry.captureMessage('nothing'), null);
});

test('without SENTRY_DSN init is a no-op and no request is made', async () => {
  const srv = await captureServer();
  try {
    const log = recordingLog();
    await withEnv({ SENTRY_DSN: undefined }, async () => {
      assert.deepStrictEqual(sentry.init('wallet-test', { log, captureUncaught: false }), { enabled: false });
      assert.deepStrictEqual(log.lines, [], 'nothing logged when off');
      assert.strictEqual(sentry.enabled(), false);
      assert.strictEqual(sentry.captureException(new Error('x')), null);
      assert.strictEqual(sentry.captureMessage('y', 'error'), null);
      createLogger('wallet-test').error('an error line while Sentry is off');
      assert.strictEqual(await sentry.flush(100), true);
    });
    await withEnv({ SENTRY_DSN: '   ' }, () => {
      assert.deepStrictEqual(sentry.init('wallet-test', { log, captureUncaught: false }), { enabled: false });
    });
    await delay(100);
    assert.strictEqual(srv.requests.length, 0);
  } finally {
    await srv.close();
  }
});

test('captureException posts a well-formed envelope to the envelope endpoint', async () => {
  const srv = await captureServer();
  try {
    const log = recordingLog();
    await withEnv({ SENTRY_DSN: srv.dsn('/sentry/42'), APP_VERSION: '9.9', SENTRY_ENVIRONMENT: undefined }, async () => {
      const status = sentry.init('wallet-test', { log, captureUncaught: false });
      assert.deepStrictEqual(status, { enabled: true, host: `127.0.0.1:${srv.port}`, projectId: '42' });
      assert.deepStrictEqual(log.lines, [`INFO sentry: reporting to 127.0.0.1:${srv.port} (project 42)`]);

      const root = new Error('connection reset');
      const err = new TypeError('payout amount is not a number');
      err.cause = root;
      const circular = { name: 'loop' };
      circular.self = circular;
      const before = Date.now() / 1000;
      const id = sentry.captureException(err, { payout: 'p-1', attempt: 2, circular });
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.strictEqual(await sentry.flush(2000), true);

      assert.strictEqual(srv.requests.length, 1);
      const req = srv.requests[0];
      assert.strictEqual(req.method, 'POST');
      assert.strictEqual(req.url, '/sentry/api/42/envelope/');
      assert.strictEqual(req.headers['x-sentry-auth'],
        `Sentry sentry_version=7, sentry_key=${KEY}, sentry_client=prodkit-node-wallet/${pkg.version}`);
      assert.strictEqual(req.headers['content-type'], 'application/x-sentry-envelope');

      const { header, item, event, rawEvent } = parseEnvelope(req.body);
      assert.strictEqual(header.event_id, id);
      assert.strictEqual(header.dsn, srv.dsn('/sentry/42'));
      assert.ok(Math.abs(Date.parse(header.sent_at) / 1000 - before) < 5, 'sent_at is now');
      assert.strictEqual(item.type, 'event');
      assert.strictEqual(item.length, Buffer.byteLength(rawEvent));

      assert.strictEqual(event.event_id, id);
      assert.strictEqual(typeof event.timestamp, 'number');
      assert.ok(event.timestamp >= before - 1 && event.timestamp < before + 5);
      assert.strictEqual(event.platform, 'node');
      assert.strictEqual(event.level, 'error');
      assert.strictEqual(event.logger, 'wallet-test');
      assert.strictEqual(event.release, '9.9');
      assert.strictEqual(event.environment, 'production');
      assert.strictEqual(event.server_name, os.hostname());
      assert.deepStrictEqual(event.tags, { service: 'wallet-test' });
      assert.strictEqual(event.message, undefined);
      assert.strictEqual(event.extra.payout, 'p-1');
      assert.strictEqual(event.extra.attempt, 2);
      assert.strictEqual(typeof event.extra.circular, 'string');

      const values = event.exception.values;
      assert.strictEqual(values.length, 2, 'the cause, then the exception');
      assert.strictEqual(values[0].type, 'Error');
      assert.strictEqual(values[0].value, 'connection reset');
      const main = values[1];
      assert.strictEqual(main.type, 'TypeError');
      assert.strictEqual(main.value, 'payout amount is not a number');
      const frames = main.stacktrace.frames;
      assert.ok(frames.length > 0);
      const top = frames[frames.length - 1]; // Sentry: the frame that threw comes last
      assert.strictEqual(top.filename, __filename);
      assert.strictEqual(top.in_app, true);
      assert.ok(Number.isInteger(top.lineno) && Number.isInteger(top.colno));
      assert.ok(frames.some((f) => f.filename.startsWith('node:') && f.in_app === false));
    });
  } finally {
    await srv.close();
  }
});

test('captureMessage sends the message, level and SENTRY_ENVIRONMENT', async () => {
  const srv = await captureServer();
  try {
    await withEnv({ SENTRY_DSN: srv.dsn('/3'), SENTRY_ENVIRONMENT: 'staging' }, async () => {
      sentry.init('payout-worker', { log: recordingLog(), captureUncaught: false });
      const id = sentry.captureMessage('provider answers slowly', 'warn');
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.strictEqual(await sentry.flush(2000), true);
    });
    assert.strictEqual(srv.requests.length, 1);
    assert.strictEqual(srv.requests[0].url, '/api/3/envelope/');
    const { event } = parseEnvelope(srv.requests[0].body);
    assert.strictEqual(event.message, 'provider answers slowly');
    assert.strictEqual(event.level, 'warning');
    assert.strictEqual(event.environment, 'staging');
    assert.strictEqual(event.logger, 'payout-worker');
    assert.deepStrictEqual(event.tags, { service: 'payout-worker' });
    assert.strictEqual(event.exception, undefined);
  } finally {
    await srv.close();
  }
});

test('error log lines are reported (with their exception when given), other levels not', async () => {
  const srv = await captureServer();
  try {
    sentry.init('deposit-monitor', { dsn: srv.dsn('/5'), log: recordingLog(), captureUncaught: false });
    const log = createLogger('deposit-monitor');
    log.info('an info line');
    log.warn('a warning line');
    log.error('block 12 could not be read');
    log.error('unit 3 failed: redis is down', new Error('redis is down'));
    assert.strictEqual(await sentry.flush(2000), true);
    assert.strictEqual(srv.requests.length, 2);
    const events = srv.requests.map((r) => parseEnvelope(r.body).event);
    const message = events.find((e) => e.message);
    const exception = events.find((e) => e.exception);
    assert.strictEqual(message.message, 'block 12 could not be read');
    assert.strictEqual(message.level, 'error');
    assert.strictEqual(exception.exception.values[0].value, 'redis is down');
    assert.strictEqual(exception.extra.log_message, 'unit 3 failed: redis is down');
  } finally {
    await srv.close();
  }
});

test('an event identical to the one before is not sent again', async () => {
  const srv = await captureServer();
  try {
    sentry.init('wallet-test', { dsn: srv.dsn('/5'), log: recordingLog(), captureUncaught: false });
    assert.ok(sentry.captureMessage('same line', 'error'));
    assert.strictEqual(sentry.captureMessage('same line', 'error'), null);
    assert.ok(sentry.captureMessage('another line', 'error'));
    assert.ok(sentry.captureMessage('same line', 'error'), 'only consecutive duplicates are dropped');
    assert.strictEqual(await sentry.flush(2000), true);
    assert.strictEqual(srv.requests.length, 3);
  } finally {
    await srv.close();
  }
});

test('a Sentry that is down costs a warning, never an exception', async () => {
  const srv = await captureServer();
  const dsn = srv.dsn('/9');
  await srv.close(); // nothing listens on the port any more
  const log = recordingLog();
  sentry.init('wallet-test', { dsn, log, timeoutMs: 1000, captureUncaught: false });
  const started = Date.now();
  assert.match(sentry.captureMessage('one', 'error'), /^[0-9a-f]{32}$/);
  assert.ok(sentry.captureException(new Error('two')));
  assert.strictEqual(await sentry.flush(3000), true);
  assert.ok(Date.now() - started < 2000);
  const warnings = log.lines.filter((l) => l.startsWith('WARN'));
  assert.strictEqual(warnings.length, 1, 'at most one warning a minute');
  assert.match(warnings[0], /^WARN sentry: event [0-9a-f]{32} not sent to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  assert.ok(log.lines.every((l) => !l.includes(KEY)));
});

test('a slow Sentry is given up after the timeout; flush waits, but not past its own timeout', async () => {
  const srv = await captureServer({ respond: false });
  try {
    const log = recordingLog();
    sentry.init('wallet-test', { dsn: srv.dsn('/9'), log, timeoutMs: 400, captureUncaught: false });
    const started = Date.now();
    assert.ok(sentry.captureMessage('into the void', 'error'));
    assert.strictEqual(await sentry.flush(100), false, 'still on its way after 100 ms');
    assert.ok(Date.now() - started < 1000);
    assert.strictEqual(await sentry.flush(5000), true, 'the send gave up after 400 ms');
    assert.ok(Date.now() - started < 2000);
    assert.strictEqual(srv.requests.length, 1);
    assert.match(log.lines.find((l) => l.startsWith('WARN')), /no answer within 400 ms/);
  } finally {
    await srv.close();
  }
});

test('at most maxInFlight events are on their way at once', async () => {
  const srv = await captureServer({ respond: false });
  try {
    sentry.init('wallet-test', { dsn: srv.dsn('/9'), log: recordingLog(), timeoutMs: 500, maxInFlight: 2, captureUncaught: false });
    const ids = [1, 2, 3, 4, 5].map((n) => sentry.captureMessage(`message ${n}`, 'error'));
    assert.strictEqual(ids.filter(Boolean).length, 2);
    assert.deepStrictEqual(ids.slice(2), [null, null, null]);
    assert.ok(await srv.waitFor(2));
    assert.strictEqual(await sentry.flush(3000), true);
    assert.strictEqual(srv.requests.length, 2);
    assert.ok(sentry.captureMessage('message 6', 'error'), 'room again once they are done');
    await sentry.flush(3000);
  } finally {
    await srv.close();
  }
});

test('a 429 answer makes the reporter back off for Retry-After seconds', async () => {
  const srv = await captureServer({ status: 429, headers: { 'Retry-After': '60' } });
  try {
    const log = recordingLog();
    sentry.init('wallet-test', { dsn: srv.dsn('/9'), log, captureUncaught: false });
    assert.ok(sentry.captureMessage('first', 'error'));
    await sentry.flush(2000);
    assert.strictEqual(sentry.captureMessage('second', 'error'), null);
    await delay(50);
    assert.strictEqual(srv.requests.length, 1);
    assert.match(log.lines.join('\n'), /Sentry answered HTTP 429/);
  } finally {
    await srv.close();
  }
});

// --- end to end: a process that dies -----------------------------------------

function fixture(body) {
  return `
    const { createLogger } = require(${JSON.stringify(LOG_JS)});
    const sentry = require(${JSON.stringify(SENTRY_JS)});
    sentry.init('e2e-fixture', { log: createLogger('e2e-fixture') });
    setInterval(() => {}, 1000); // alive like a server: only the handler ends it
    ${body}
  `;
}

test('end to end: an uncaught exception is reported before the process exits 1', async () => {
  const srv = await captureServer();
  try {
    const result = await runNode(fixture(`
      setTimeout(function explode() { throw new RangeError('kaboom from the fixture'); }, 20);
    `), { SENTRY_DSN: srv.dsn('/7'), APP_VERSION: '1.2.3' });
    // The capture server recorded the request before the child exited.
    assert.strictEqual(srv.requests.length, 1, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.strictEqual(result.code, 1);
    assert.ok(result.ms < 5000);
    assert.match(result.stdout, new RegExp(`INFO e2e-fixture: sentry: reporting to 127\\.0\\.0\\.1:${srv.port} \\(project 7\\)`));
    assert.ok(!result.stdout.includes(KEY) && !result.stderr.includes(KEY), 'the key is never logged');
    assert.match(result.stderr, /ERROR e2e-fixture: uncaught exception: RangeError: kaboom from the fixture/);

    const req = srv.requests[0];
    assert.strictEqual(req.url, '/api/7/envelope/');
    const { event } = parseEnvelope(req.body);
    assert.strictEqual(event.level, 'fatal');
    assert.strictEqual(event.release, '1.2.3');
    assert.strictEqual(event.logger, 'e2e-fixture');
    const [value] = event.exception.values;
    assert.strictEqual(value.type, 'RangeError');
    assert.strictEqual(value.value, 'kaboom from the fixture');
    assert.deepStrictEqual(value.mechanism, { type: 'onuncaughtexception', handled: false });
    assert.ok(value.stacktrace.frames[value.stacktrace.frames.length - 1].function.includes('explode'));
  } finally {
    await srv.close();
  }
});

test('end to end: an unhandled rejection is reported before the process exits 1', async () => {
  const srv = await captureServer();
  try {
    const result = await runNode(fixture(`
      Promise.reject(new Error('rejected in the fixture'));
    `), { SENTRY_DSN: srv.dsn('/7') });
    assert.strictEqual(result.code, 1, result.stderr);
    assert.strictEqual(srv.requests.length, 1);
    assert.match(result.stderr, /unhandled promise rejection: Error: rejected in the fixture/);
    const { event } = parseEnvelope(srv.requests[0].body);
    assert.strictEqual(event.exception.values[0].value, 'rejected in the fixture');
    assert.deepStrictEqual(event.exception.values[0].mechanism, { type: 'onunhandledrejection', handled: false });
  } finally {
    await srv.close();
  }
});

test('end to end: with a Sentry that never answers the process still exits 1 within ~2 s', async () => {
  const srv = await captureServer({ respond: false });
  try {
    const result = await runNode(fixture(`
      setTimeout(() => { throw new Error('nobody listens'); }, 20);
    `), { SENTRY_DSN: srv.dsn('/7') });
    assert.strictEqual(result.code, 1, result.stderr);
    assert.strictEqual(srv.requests.length, 1);
    assert.ok(result.ms >= 1900 && result.ms < 5000, `exited after ${result.ms} ms`);
  } finally {
    await srv.close();
  }
});

test('end to end: an invalid SENTRY_DSN is one log line and the process carries on', async () => {
  const result = await runNode(fixture(`
    setTimeout(() => { console.log('still running'); process.exit(0); }, 20);
  `), { SENTRY_DSN: `https://${KEY}@sentry.example.com/prefix/` });
  assert.strictEqual(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.strictEqual(lines.length, 2, result.stdout);
  assert.match(lines[0], /ERROR e2e-fixture: SENTRY_DSN is not a valid DSN: the project id .* must be a number/);
  assert.strictEqual(lines[1], 'still running');
  assert.ok(!result.stdout.includes(KEY));
});

test('without SENTRY_DSN an uncaught exception behaves as node does (exit 1, no handler)', async () => {
  const result = await runNode(fixture(`
    setTimeout(() => { throw new Error('plain crash'); }, 20);
  `), {});
  assert.strictEqual(result.code, 1);
  assert.strictEqual(result.stdout, '');
  assert.match(result.stderr, /Error: plain crash/);
});
