'use strict';
// Unit tests of the RESP client against an in-process fake server:
//   node --test test/
const assert = require('node:assert');
const net = require('node:net');
const test = require('node:test');
const { RedisClient, encodeCommand, parseReply, parseRedisUrl } = require('../src/lib/redis');

test('parses a Redis URL, percent-decoding the password', () => {
  assert.deepStrictEqual(parseRedisUrl('redis://:p%40ss%3Aw@redis:6380/2'),
    { host: 'redis', port: 6380, username: '', password: 'p@ss:w', db: 2 });
  assert.throws(() => parseRedisUrl('http://redis'), /redis:\/\//);
});

test('encodes commands and parses every reply type, including partial buffers', () => {
  assert.strictEqual(encodeCommand(['SET', 'k', 'vé']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n');
  const buf = Buffer.from('+OK\r\n:42\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n-ERR bad\r\n$4\r\nab');
  let at = 0;
  const values = [];
  for (;;) {
    const reply = parseReply(buf, at);
    if (!reply) break;
    values.push(reply.value);
    at = reply.offset;
  }
  assert.deepStrictEqual(values.slice(0, 4), ['OK', 42, null, ['a', 1]]);
  assert.strictEqual(values[4].message, 'ERR bad');
  assert.strictEqual(values.length, 5); // the last bulk string is incomplete
});

test('authenticates, selects the database and pipelines commands', async () => {
  const seen = [];
  const server = net.createServer((socket) => {
    socket.on('data', (data) => {
      const text = data.toString();
      for (const cmd of text.split('*').filter(Boolean)) {
        const words = cmd.split('\r\n').filter((w, i) => i > 0 && !w.startsWith('$') && w);
        seen.push(words.join(' '));
        if (words[0] === 'GET') socket.write('$5\r\nhello\r\n');
        else if (words[0] === 'BAD') socket.write('-ERR unknown command\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new RedisClient(`redis://:secret@127.0.0.1:${server.address().port}/3`);
  const [a, b] = await Promise.all([client.command('SET', 'x', '1'), client.command('GET', 'x')]);
  assert.strictEqual(a, 'OK');
  assert.strictEqual(b, 'hello');
  await assert.rejects(client.command('BAD'), /unknown command/);
  assert.deepStrictEqual(seen.slice(0, 4), ['AUTH secret', 'SELECT 3', 'SET x 1', 'GET x']);
  await client.quit();
  server.close();
});

test('a server that is not there fails the command instead of hanging', async () => {
  const client = new RedisClient('redis://127.0.0.1:1/0', { connectTimeoutMs: 500 });
  await assert.rejects(client.command('PING'));
});
