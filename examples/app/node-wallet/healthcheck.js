'use strict';
// Container healthchecks of the node image: exit 0 when healthy, else 1
// with the reason on stdout.
//
//   node healthcheck.js http URL    a 2xx answer within 3 s
//   node healthcheck.js heartbeat   /tmp/heartbeat written within 30 s
//                                   (HEARTBEAT_MAX_AGE_SECONDS)

const fs = require('node:fs');
const http = require('node:http');

function done(ok, message) {
  process.stdout.write(`${ok ? '' : 'UNHEALTHY: '}${message}\n`);
  process.exit(ok ? 0 : 1);
}

function checkHttp(url) {
  const req = http.get(url, { timeout: 3000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      if (body.length < 300) body += chunk;
    });
    res.on('end', () => {
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      done(ok, `${url} answered ${res.statusCode} ${body.slice(0, 200).trim()}`);
    });
  });
  req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
  req.on('error', (err) => done(false, `${url}: ${err.message}`));
}

function checkHeartbeat() {
  const file = process.env.HEARTBEAT_FILE || '/tmp/heartbeat';
  const maxAge = Number(process.env.HEARTBEAT_MAX_AGE_SECONDS || 30);
  let stat;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    done(false, `${file} does not exist yet: no unit of work has completed`);
  }
  const age = (Date.now() - stat.mtimeMs) / 1000;
  if (age > maxAge) done(false, `${file} is ${age.toFixed(0)} s old (more than ${maxAge} s): the worker is stuck or cannot reach Redis`);
  done(true, `heartbeat ${age.toFixed(0)} s ago`);
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'http' && arg) checkHttp(arg);
else if (mode === 'heartbeat') checkHeartbeat();
else {
  process.stderr.write('usage: node healthcheck.js http URL | heartbeat\n');
  process.exit(2);
}
