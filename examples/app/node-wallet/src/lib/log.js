'use strict';
// One line per event on stdout: "<time> <LEVEL> <component>: <message>".
// LOG_LEVEL: debug, info (default), warn, error.
//
// error(message[, err]) lines also go to Sentry when it is on (lib/sentry.js):
// as an exception with its stack trace when err is given, else as a message.

const sentry = require('./sentry');

const LEVELS = { debug: 10, info: 20, warn: 30, warning: 30, error: 40 };

function threshold() {
  const name = (process.env.LOG_LEVEL || 'info').toLowerCase();
  return LEVELS[name] || LEVELS.info;
}

function createLogger(component) {
  const min = threshold();
  const write = (level, message) => {
    if (LEVELS[level] < min) return;
    process.stdout.write(`${new Date().toISOString()} ${level.toUpperCase()} ${component}: ${message}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m, err) => {
      write('error', m);
      if (err !== undefined) sentry.captureException(err, { log_message: m });
      else sentry.captureMessage(m, 'error');
    },
  };
}

module.exports = { createLogger };
