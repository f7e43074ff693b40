'use strict';
// The loop of a background worker: one unit of work at a time, then a
// heartbeat (Redis key with an expiry, a counter, and /tmp/heartbeat for the
// container healthcheck), then a pause of WORKER_INTERVAL_MS.
//
// SIGTERM (or SIGINT) never cuts a unit in half: the current unit finishes,
// then the worker exits 0. A deploy's stop grace period must be longer than
// the longest unit. Events still on their way to Sentry get up to 2 s
// before the exit.

const fs = require('node:fs');
const { loadOrExit } = require('./config');
const { createLogger } = require('./log');
const { RedisClient } = require('./redis');
const sentry = require('./sentry');
const keys = require('./keys');

const HEARTBEAT_FILE = process.env.HEARTBEAT_FILE || '/tmp/heartbeat';

function sleep(ms, state) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    // A stop request ends the pause at once.
    state.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

async function runWorker(name, unit) {
  const config = loadOrExit(name);
  const log = createLogger(name);
  const redis = new RedisClient(config.redisUrl);
  const state = { stopping: false, inUnit: false, unitNo: 0, wake: null };

  const stop = (signal) => {
    if (state.stopping) return;
    state.stopping = true;
    log.info(`${signal} received, finishing current unit`
      + (state.inUnit ? ` (unit ${state.unitNo} in progress)` : ' (none in progress)'));
    if (state.wake) state.wake();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info(`started, release ${config.version}: a unit takes ${config.unitMs} ms, `
    + `${config.workerIntervalMs} ms between units`);
  let failures = 0;
  while (!state.stopping) {
    state.unitNo += 1;
    state.inUnit = true;
    const started = Date.now();
    try {
      const what = await unit({ redis, log, config });
      const now = Math.floor(Date.now() / 1000);
      await Promise.all([
        redis.command('SET', keys.heartbeat(name), String(now), 'EX', String(config.heartbeatTtlSeconds)),
        redis.command('INCR', keys.units(name)),
      ]);
      fs.writeFileSync(HEARTBEAT_FILE, `${now}\n`);
      if (failures) log.info(`unit ${state.unitNo} succeeded after ${failures} failure(s)`);
      failures = 0;
      log.debug(`unit ${state.unitNo} done in ${Date.now() - started} ms: ${what}`);
    } catch (err) {
      failures += 1;
      log.error(`unit ${state.unitNo} failed: ${err.message}`, err);
    }
    state.inUnit = false;
    if (state.stopping) {
      log.info(`unit ${state.unitNo} finished (${Date.now() - started} ms)`);
      break;
    }
    await sleep(config.workerIntervalMs, state);
    state.wake = null;
  }
  await redis.quit();
  log.info('stopped cleanly');
  await sentry.flush(2000);
  process.exit(0);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { runWorker, delay };
