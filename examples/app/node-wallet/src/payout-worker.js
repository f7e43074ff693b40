'use strict';
// payout-worker: sends payouts queued by the API (Redis list payouts:queue)
// to the payment provider, one at a time. Each unit is one round trip to the
// (simulated) provider, UNIT_MS long: sending the next payout, or, with the
// queue empty, polling the provider for status updates.
//
// A job moves atomically from payouts:queue to payouts:processing while it
// is sent, and leaves it only once its result is recorded, so a crash never
// loses a payout (it stays in payouts:processing for an operator to check).

const { runWorker, delay } = require('./lib/worker');
const { createLogger } = require('./lib/log');
const sentry = require('./lib/sentry');
const keys = require('./lib/keys');

const NAME = 'payout-worker';

async function unit({ redis, log, config }) {
  const raw = await redis.command('LMOVE', keys.PAYOUT_QUEUE, keys.PAYOUT_PROCESSING, 'LEFT', 'RIGHT');
  if (raw === null) {
    await delay(config.unitMs); // status poll at the provider
    return 'no payout queued; polled the provider';
  }
  let job;
  try {
    job = JSON.parse(raw);
  } catch (err) {
    log.error(`dropping a malformed job: ${raw.slice(0, 200)}`);
    await redis.command('LREM', keys.PAYOUT_PROCESSING, '1', raw);
    return 'malformed job dropped';
  }
  log.info(`payout ${job.id}: sending ${job.amount} ${job.currency} to ${job.destination}`);
  await delay(config.unitMs); // the provider's API call
  const status = { status: 'paid', paid_at: new Date().toISOString(), amount: job.amount, currency: job.currency };
  await redis.command('HSET', keys.PAYOUT_STATUS, job.id, JSON.stringify(status));
  await redis.command('LREM', keys.PAYOUT_PROCESSING, '1', raw);
  log.info(`payout ${job.id}: paid`);
  return `payout ${job.id} paid`;
}

sentry.init(NAME, { log: createLogger(NAME) });
runWorker(NAME, unit).catch(async (err) => {
  process.stderr.write(`${NAME}: ${err.stack || err}\n`);
  sentry.captureException(err, undefined, { level: 'fatal' });
  await sentry.flush(2000);
  process.exit(1);
});
