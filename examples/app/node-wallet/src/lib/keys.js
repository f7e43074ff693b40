'use strict';
// Redis keys shared by the API and the workers.

const PREFIX = 'myproject';

module.exports = {
  WORKERS: ['payout-worker', 'deposit-monitor'],
  heartbeat: (name) => `${PREFIX}:heartbeat:${name}`, // epoch seconds, expires
  units: (name) => `${PREFIX}:units:${name}`, // units of work done
  PAYOUT_QUEUE: 'payouts:queue', // JSON jobs, RPUSH by the API
  PAYOUT_PROCESSING: 'payouts:processing', // the job being sent
  PAYOUT_STATUS: 'payouts:status', // id -> JSON status
  DEPOSIT_PENDING: 'deposits:pending',
  DEPOSIT_CONFIRMED: 'deposits:confirmed',
  DEPOSIT_HEIGHT: 'deposits:block_height',
};
