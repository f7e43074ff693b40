'use strict';
// Error reporting to Sentry without the SDK (this service has no npm
// dependencies): events go to Sentry's envelope endpoint over node's own
// http/https modules.
//
//   const sentry = require('./lib/sentry');
//   sentry.init('payout-worker', { log });   // no-op without SENTRY_DSN
//   sentry.captureException(err, { payout: id });
//   sentry.captureMessage('something odd', 'warning');
//   await sentry.flush(2000);                // before process.exit()
//
// Environment: SENTRY_DSN (https://<public_key>@<host>[:port][/<prefix>]/<project_id>),
// SENTRY_ENVIRONMENT (default "production"), APP_VERSION (the release).
//
// With a DSN, init() also reports uncaught exceptions and unhandled promise
// rejections (level fatal), waits up to 2 s for them to be sent, then exits 1
// as node would. An invalid DSN is logged as one line naming SENTRY_DSN and
// the process goes on without Sentry. Nothing here throws into the caller:
// a Sentry that is down, slow or refusing costs a warning line, at most one
// a minute. At most maxInFlight (10) events are on their way at once; more
// are dropped, as are events while Sentry asks us to back off (429), and an
// event identical to the one before it (as the SDK's Dedupe does).
// The DSN's key is never logged.

const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const pkg = require('../../package.json');

const CLIENT_NAME = 'prodkit-node-wallet';
const USER_AGENT = `${CLIENT_NAME}/${pkg.version}`;
const DSN_FORM = 'https://<public_key>@<host>[:port]/<project_id>';
const DEFAULTS = { timeoutMs: 5000, maxInFlight: 10, exitFlushMs: 2000 };
const WARN_INTERVAL_MS = 60000;
const MAX_STRING = 8192;
const MAX_FRAMES = 50;
const MAX_CAUSES = 5;
const LEVELS = new Set(['fatal', 'error', 'warning', 'info', 'debug']);

class DsnError extends Error {}

// Parse a DSN the way Sentry's SDKs do; throws DsnError with a one-line
// message that names SENTRY_DSN and never repeats the DSN (it holds the key).
function parseDsn(dsn) {
  const bad = (why) => new DsnError(`SENTRY_DSN is not a valid DSN: ${why} (expected ${DSN_FORM})`);
  const text = String(dsn === undefined || dsn === null ? '' : dsn).trim();
  if (!text) throw bad('it is empty');
  let url;
  try {
    url = new URL(text);
  } catch (err) {
    throw bad('it is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw bad(`the scheme must be https or http, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (!url.username) throw bad('the public key (before the @) is missing');
  if (!url.hostname) throw bad('the host is missing');
  const parts = url.pathname.replace(/\/+$/, '').split('/');
  const projectId = parts.pop();
  if (!projectId) throw bad('the project id (the last part of the path) is missing');
  if (!/^\d+$/.test(projectId)) throw bad('the project id (the last part of the path) must be a number');
  const prefix = parts.join('/'); // '' or '/some/prefix'
  const secure = url.protocol === 'https:';
  return {
    protocol: secure ? 'https' : 'http',
    publicKey: url.username,
    host: url.host, // with the port, if the DSN names one
    hostname: url.hostname,
    port: url.port ? Number(url.port) : (secure ? 443 : 80),
    pathPrefix: prefix,
    projectId,
    envelopeUrl: `${url.protocol}//${url.host}${prefix}/api/${projectId}/envelope/`,
    // The DSN without a (deprecated) secret key, for the envelope header.
    dsn: `${url.protocol}//${url.username}@${url.host}${prefix}/${projectId}`,
  };
}

// --- events ----------------------------------------------------------------

function truncate(text, max = MAX_STRING) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function safeString(value) {
  try {
    if (typeof value === 'string') return value;
    const json = JSON.stringify(value);
    return json === undefined ? String(value) : json;
  } catch (err) {
    try {
      return String(value);
    } catch (err2) {
      return Object.prototype.toString.call(value);
    }
  }
}

// A JSON-safe copy of extra data (circular references, BigInt and the like
// become strings).
function sanitizeExtra(extra) {
  if (extra === undefined || extra === null) return undefined;
  const source = typeof extra === 'object' && !Array.isArray(extra) ? extra : { value: extra };
  const out = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value instanceof Error) {
      out[key] = truncate(value.stack || `${value.name}: ${value.message}`);
      continue;
    }
    try {
      const json = JSON.stringify(value);
      out[key] = json === undefined ? safeString(value) : JSON.parse(json);
      if (typeof out[key] === 'string') out[key] = truncate(out[key]);
      else if (json.length > MAX_STRING) out[key] = truncate(json);
    } catch (err) {
      out[key] = truncate(safeString(value));
    }
  }
  return Object.keys(out).length ? out : undefined;
}

// "    at fn (/app/src/x.js:10:5)", "    at /app/src/x.js:10:5",
// "    at async Promise.all (index 0)", "    at new Promise (<anonymous>)"
const FRAME_RE = /^\s*at (?:(.+?) \()?(?:(.+?):(\d+):(\d+)|([^()]+))\)?\s*$/;

function inApp(filename) {
  if (!filename || filename.startsWith('node:') || filename.includes('/node_modules/')) return false;
  return filename.startsWith('/') || filename.startsWith('file://');
}

// Sentry's frames run from the outermost call to the one that threw.
function parseStack(stack) {
  const frames = [];
  for (const line of String(stack || '').split('\n')) {
    if (!/^\s*at /.test(line)) continue;
    const m = FRAME_RE.exec(line);
    if (!m) continue;
    const filename = m[2] || m[5] || '<unknown>';
    const frame = { function: m[1] || '?', filename, abs_path: filename, in_app: inApp(filename) };
    if (m[3]) {
      frame.lineno = Number(m[3]);
      frame.colno = Number(m[4]);
    }
    frames.push(frame);
  }
  return frames.reverse().slice(-MAX_FRAMES);
}

function isErrorLike(value) {
  return value instanceof Error
    || (value !== null && typeof value === 'object' && typeof value.message === 'string' && typeof value.stack === 'string');
}

function exceptionValue(value, mechanism) {
  let entry;
  if (isErrorLike(value)) {
    const type = value.name || (value.constructor && value.constructor.name) || 'Error';
    entry = { type: truncate(type, 200), value: truncate(value.message) };
    const frames = parseStack(value.stack);
    if (frames.length) entry.stacktrace = { frames };
  } else {
    entry = { type: 'Error', value: truncate(`non-Error value thrown: ${safeString(value)}`) };
  }
  if (mechanism) entry.mechanism = mechanism;
  return entry;
}

// The exception and its causes (err.cause), the oldest cause first.
function exceptionValues(err, mechanism) {
  const values = [exceptionValue(err, mechanism)];
  const seen = new Set([err]);
  let cause = isErrorLike(err) ? err.cause : undefined;
  while (cause !== undefined && cause !== null && values.length <= MAX_CAUSES && !seen.has(cause)) {
    seen.add(cause);
    values.unshift(exceptionValue(cause, { type: 'chained', handled: true }));
    cause = isErrorLike(cause) ? cause.cause : undefined;
  }
  return values;
}

function normalizeLevel(level, fallback) {
  const name = String(level || fallback).toLowerCase();
  if (name === 'warn') return 'warning';
  if (name === 'critical') return 'fatal';
  return LEVELS.has(name) ? name : fallback;
}

// --- the client ------------------------------------------------------------

let client = null;
let handlersInstalled = false;
let exiting = false;

function fallbackLog(component) {
  const line = (level) => (m) => process.stderr.write(`${new Date().toISOString()} ${level} ${component}: ${m}\n`);
  return { info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
}

class Client {
  constructor(component, dsn, options) {
    this.component = component;
    this.dsn = dsn;
    this.log = options.log;
    this.timeoutMs = options.timeoutMs;
    this.maxInFlight = options.maxInFlight;
    this.release = options.release;
    this.environment = options.environment;
    this.serverName = options.serverName;
    this.transport = dsn.protocol === 'https' ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: this.maxInFlight });
    this.auth = `Sentry sentry_version=7, sentry_key=${dsn.publicKey}, sentry_client=${USER_AGENT}`;
    this.inFlight = new Set();
    this.backoffUntil = 0;
    this.lastFingerprint = null;
    this.lastWarning = 0;
    this.unshownWarnings = 0;
  }

  warn(message) {
    const now = Date.now();
    if (now - this.lastWarning < WARN_INTERVAL_MS) {
      this.unshownWarnings += 1;
      return;
    }
    const more = this.unshownWarnings ? ` (and ${this.unshownWarnings} more problem(s) since the last warning)` : '';
    this.lastWarning = now;
    this.unshownWarnings = 0;
    try {
      this.log.warn(`sentry: ${message}${more}`);
    } catch (err) {
      // a logger that fails must not fail the caller
    }
  }

  event(level) {
    return {
      event_id: crypto.randomUUID().replace(/-/g, ''),
      timestamp: Date.now() / 1000,
      platform: 'node',
      level,
      logger: this.component,
      release: this.release,
      environment: this.environment,
      server_name: this.serverName,
      tags: { service: this.component },
      contexts: {
        runtime: { name: 'node', version: process.version },
        os: { name: os.type(), version: os.release() },
      },
      sdk: { name: CLIENT_NAME, version: pkg.version },
    };
  }

  // The event's id, or null when it was not sent (dropped or a duplicate of
  // the event before; a null fingerprint is never a duplicate).
  send(event, fingerprint) {
    if (fingerprint !== null) {
      if (fingerprint === this.lastFingerprint) return null;
      this.lastFingerprint = fingerprint;
    }
    if (Date.now() < this.backoffUntil) {
      this.warn(`event ${event.event_id} dropped: Sentry asked to back off (429)`);
      return null;
    }
    if (this.inFlight.size >= this.maxInFlight) {
      this.warn(`event ${event.event_id} dropped: ${this.inFlight.size} events already on their way`);
      return null;
    }
    const payload = JSON.stringify(event);
    const body = `${JSON.stringify({ event_id: event.event_id, dsn: this.dsn.dsn, sent_at: new Date().toISOString() })}\n`
      + `${JSON.stringify({ type: 'event', length: Buffer.byteLength(payload) })}\n${payload}\n`;
    const sending = new Promise((resolve) => {
      let timer = null;
      let settled = false;
      const finish = (problem) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (problem) this.warn(`event ${event.event_id} not sent to ${this.dsn.host}: ${problem}`);
        resolve(!problem);
      };
      let req;
      try {
        req = this.transport.request(this.dsn.envelopeUrl, {
          method: 'POST',
          agent: this.agent,
          headers: {
            'Content-Type': 'application/x-sentry-envelope',
            'Content-Length': Buffer.byteLength(body),
            'X-Sentry-Auth': this.auth,
            'User-Agent': USER_AGENT,
          },
        }, (res) => {
          const status = res.statusCode;
          if (status === 429) {
            const after = Number.parseInt(res.headers['retry-after'], 10)
              || Number.parseInt(String(res.headers['x-sentry-rate-limits'] || ''), 10) || 60;
            this.backoffUntil = Date.now() + after * 1000;
          }
          res.on('error', (err) => finish(err.message));
          res.on('aborted', () => finish('the answer was cut off'));
          res.on('end', () => finish(status >= 200 && status < 300 ? null : `Sentry answered HTTP ${status}`));
          res.resume();
        });
      } catch (err) {
        finish(err.message);
        return;
      }
      timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (err) => finish(err.message));
      req.end(body);
    });
    this.inFlight.add(sending);
    sending.then(() => this.inFlight.delete(sending));
    return event.event_id;
  }

  close() {
    this.agent.destroy();
  }
}

// --- the public API --------------------------------------------------------

// Start reporting for `component` when SENTRY_DSN is set. Options (tests):
// dsn, environment, release, serverName, timeoutMs, maxInFlight, log (an
// object with info/warn/error; init logs through it) and captureUncaught
// (default true). Returns {enabled, host, projectId} or {enabled: false,
// error} for an invalid DSN; never throws.
function init(component, options = {}) {
  const log = options.log || fallbackLog(component);
  if (client) {
    client.close();
    client = null;
  }
  const raw = options.dsn !== undefined ? options.dsn : process.env.SENTRY_DSN;
  if (raw === undefined || raw === null || String(raw).trim() === '') return { enabled: false };
  let dsn;
  try {
    dsn = parseDsn(raw);
  } catch (err) {
    const message = err instanceof DsnError ? err.message : 'SENTRY_DSN could not be read';
    try {
      log.error(`${message}; errors are not reported to Sentry`);
    } catch (err2) {
      // never throw into the caller
    }
    return { enabled: false, error: message };
  }
  client = new Client(component, dsn, {
    log,
    timeoutMs: options.timeoutMs || DEFAULTS.timeoutMs,
    maxInFlight: options.maxInFlight || DEFAULTS.maxInFlight,
    release: options.release || process.env.APP_VERSION || pkg.version,
    environment: options.environment || process.env.SENTRY_ENVIRONMENT || 'production',
    serverName: options.serverName || os.hostname(),
  });
  if (options.captureUncaught !== false) installHandlers();
  try {
    log.info(`sentry: reporting to ${dsn.host} (project ${dsn.projectId})`);
  } catch (err) {
    // never throw into the caller
  }
  return { enabled: true, host: dsn.host, projectId: dsn.projectId };
}

function enabled() {
  return client !== null;
}

// Report an exception; extra: an object of extra data; hint (internal):
// level, mechanism, dedupe. The event id, or null when nothing is sent.
function captureException(err, extra, hint = {}) {
  if (!client) return null;
  try {
    const event = client.event(normalizeLevel(hint.level, 'error'));
    event.exception = { values: exceptionValues(err, hint.mechanism) };
    const data = sanitizeExtra(extra);
    if (data) event.extra = data;
    const main = event.exception.values[event.exception.values.length - 1];
    const frames = main.stacktrace ? main.stacktrace.frames : [];
    const fingerprint = hint.dedupe === false ? null : JSON.stringify(['exception', main.type, main.value,
      frames.map((f) => `${f.filename}:${f.lineno}:${f.colno}`)]);
    return client.send(event, fingerprint);
  } catch (e) {
    return null;
  }
}

// Report a message at a level (fatal, error, warning, info, debug; default
// info). The event id, or null when nothing is sent.
function captureMessage(message, level = 'info', extra) {
  if (!client) return null;
  try {
    const event = client.event(normalizeLevel(level, 'info'));
    event.message = truncate(safeString(message));
    const data = sanitizeExtra(extra);
    if (data) event.extra = data;
    return client.send(event, JSON.stringify(['message', event.level, event.message]));
  } catch (e) {
    return null;
  }
}

// Wait until the events on their way are sent (or failed), at most
// timeoutMs: true when all are done. Never rejects.
function flush(timeoutMs = DEFAULTS.exitFlushMs) {
  if (!client || client.inFlight.size === 0) return Promise.resolve(true);
  const pending = [...client.inFlight];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    Promise.all(pending).then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// An uncaught exception or unhandled rejection: print it as node would,
// report it, give the report up to 2 s, exit 1.
function fatal(err, mechanismType) {
  const what = mechanismType === 'onunhandledrejection' ? 'unhandled promise rejection' : 'uncaught exception';
  const text = isErrorLike(err) ? err.stack : safeString(err);
  const component = client ? client.component : 'node';
  try {
    process.stderr.write(`${new Date().toISOString()} ERROR ${component}: ${what}: ${text}\n`);
  } catch (e) {
    // stderr gone: still exit below
  }
  if (exiting) return; // a second one while the first is being sent
  exiting = true;
  captureException(err, undefined, { level: 'fatal', mechanism: { type: mechanismType, handled: false }, dedupe: false });
  flush(DEFAULTS.exitFlushMs).then(() => process.exit(1));
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('uncaughtException', (err) => fatal(err, 'onuncaughtexception'));
  process.on('unhandledRejection', (reason) => fatal(reason, 'onunhandledrejection'));
}

module.exports = {
  DsnError,
  parseDsn,
  parseStack,
  init,
  enabled,
  captureException,
  captureMessage,
  flush,
};
