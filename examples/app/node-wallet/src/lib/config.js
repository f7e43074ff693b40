'use strict';
// Configuration from the environment. A missing required variable stops the
// process at start with a message naming it.

const pkg = require('../../package.json');

class ConfigError extends Error {}

function intEnv(name, fallback, min = 0) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

function load() {
  const redisUrl = process.env.REDIS_URL || '';
  if (!redisUrl) {
    throw new ConfigError('REDIS_URL is required but not set: redis://:password@redis:6379/0');
  }
  return {
    version: process.env.APP_VERSION || pkg.version,
    redisUrl,
    port: intEnv('PORT', 3001, 1),
    internalApiKey: process.env.NODE_INTERNAL_API_KEY || '',
    workerIntervalMs: intEnv('WORKER_INTERVAL_MS', 2000),
    unitMs: intEnv('UNIT_MS', 500),
    shutdownTimeoutMs: intEnv('SHUTDOWN_TIMEOUT_MS', 25000, 1),
    heartbeatTtlSeconds: intEnv('HEARTBEAT_TTL_SECONDS', 30, 1),
  };
}

// load(), or exit 1 with the reason.
function loadOrExit(component) {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${component}: configuration error: ${err.message}\n`);
    process.exit(1);
  }
}

module.exports = { ConfigError, load, loadOrExit };
