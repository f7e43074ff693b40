'use strict';
// deposit-monitor: watches the (simulated) chain for deposits. Each unit,
// UNIT_MS long, reads the next block: it advances deposits:block_height and
// confirms the oldest deposit waiting in deposits:pending, if any. The
// deposit leaves the list only after its confirmation is recorded (recording
// it twice after a crash is harmless).

const { runWorker, delay } = require('./lib/worker');
const { createLogger } = require('./lib/log');
const sentry = require('./lib/sentry');
const keys = require('./lib/keys');

const NAME = 'deposit-monitor';

async function unit({ redis, log, config }) {
  await delay(config.unitMs); // fetching the block from the node
  const height = await redis.command('INCR', keys.DEPOSIT_HEIGHT);
  const raw = await redis.command('LINDEX', keys.DEPOSIT_PENDING, '0');
  if (raw === null) return `block ${height}: no deposit`;
  let id = raw;
  try {
    id = JSON.parse(raw).id || raw;
  } catch (err) {
    // a bare id
  }
  await redis.command('HSET', keys.DEPOSIT_CONFIRMED, String(id),
    JSON.stringify({ block: height, confirmed_at: new Date().toISOString() }));
  await redis.command('LREM', keys.DEPOSIT_PENDING, '1', raw);
  log.info(`deposit ${id} confirmed in block ${height}`);
  return `block ${height}: deposit ${id} confirmed`;
}

sentry.init(NAME, { log: createLogger(NAME) });
runWorker(NAME, unit).catch(async (err) => {
  process.stderr.write(`${NAME}: ${err.stack || err}\n`);
  sentry.captureException(err, undefined, { level: 'fatal' });
  await sentry.flush(2000);
  process.exit(1);
});
