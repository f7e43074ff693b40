'use strict';
// A small Redis client over `net` speaking RESP2: enough for this service
// (strings, counters, lists, hashes), no dependency.
//
//   const redis = new RedisClient('redis://:password@redis:6379/0');
//   await redis.command('SET', 'key', 'value', 'EX', '30');
//
// Commands are pipelined on one connection, each reply matched to its
// command in order. The connection is opened on first use and again after a
// failure (AUTH and SELECT first). A reply that does not come within
// commandTimeoutMs drops the connection and fails every pending command.

const net = require('node:net');

class RedisError extends Error {}
class ReplyError extends RedisError {}

function parseRedisUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new RedisError(`REDIS_URL is not a URL: ${err.message}`);
  }
  if (parsed.protocol !== 'redis:') {
    throw new RedisError(`REDIS_URL must start with redis:// (got ${parsed.protocol})`);
  }
  const db = parsed.pathname.replace(/^\//, '') || '0';
  if (!/^\d+$/.test(db)) throw new RedisError(`REDIS_URL database must be a number, not ${db}`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: decodeURIComponent(parsed.username || ''),
    password: decodeURIComponent(parsed.password || ''),
    db: Number(db),
  };
}

function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) {
    const value = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(`$${value.length}\r\n`, value, '\r\n');
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

// Parse one reply from buf at offset: {value, offset} or null when the
// buffer does not hold a whole reply yet. Error replies are ReplyError values.
function parseReply(buf, offset = 0) {
  if (offset >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, offset: next };
    case '-':
      return { value: new ReplyError(line), offset: next };
    case ':':
      return { value: Number(line), offset: next };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, offset: next };
      if (buf.length < next + length + 2) return null;
      return { value: buf.toString('utf8', next, next + length), offset: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, offset: next };
      const items = [];
      let at = next;
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buf, at);
        if (item === null) return null;
        items.push(item.value);
        at = item.offset;
      }
      return { value: items, offset: at };
    }
    default:
      throw new RedisError(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

class RedisClient {
  constructor(url, { connectTimeoutMs = 3000, commandTimeoutMs = 3000 } = {}) {
    this.options = parseRedisUrl(url);
    this.connectTimeoutMs = connectTimeoutMs;
    this.commandTimeoutMs = commandTimeoutMs;
    this.socket = null;
    this.ready = null; // promise of a connection that passed AUTH/SELECT
    this.pending = [];
    this.buffer = Buffer.alloc(0);
    this.closing = false;
  }

  command(...args) {
    if (this.closing) return Promise.reject(new RedisError('client is closed'));
    return this.connect().then(() => this.send(args));
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const { host, port } = this.options;
      const socket = net.createConnection({ host, port });
      this.socket = socket;
      this.buffer = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy(new RedisError(`connect to ${host}:${port} timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      socket.setNoDelay(true);
      // Events of a socket that was already replaced are ignored.
      socket.on('data', (chunk) => {
        if (this.socket === socket) this.onData(chunk);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        if (this.socket === socket) this.drop(err);
        reject(err);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.socket === socket) this.drop(new RedisError('connection closed'));
        reject(new RedisError(`connection to ${host}:${port} closed`));
      });
      socket.on('connect', () => {
        clearTimeout(timer);
        const handshake = [];
        const { username, password, db } = this.options;
        if (password) handshake.push(this.send(username ? ['AUTH', username, password] : ['AUTH', password]));
        if (db) handshake.push(this.send(['SELECT', db]));
        Promise.all(handshake).then(() => resolve(), (err) => {
          socket.destroy();
          reject(err);
        });
      });
    });
    // A failed connection is forgotten: the next command tries again.
    this.ready.catch(() => {});
    return this.ready;
  }

  send(args) {
    return new Promise((resolve, reject) => {
      const socket = this.socket;
      if (!socket || socket.destroyed) {
        reject(new RedisError('not connected'));
        return;
      }
      const entry = { resolve, reject, timer: null };
      entry.timer = setTimeout(() => {
        socket.destroy(new RedisError(`${args[0]} got no reply within ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      this.pending.push(entry);
      socket.write(encodeCommand(args));
    });
  }

  onData(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      let reply;
      try {
        reply = parseReply(this.buffer, offset);
      } catch (err) {
        this.socket.destroy(err);
        return;
      }
      if (reply === null) break;
      offset = reply.offset;
      const entry = this.pending.shift();
      if (!entry) continue;
      clearTimeout(entry.timer);
      if (reply.value instanceof ReplyError) entry.reject(reply.value);
      else entry.resolve(reply.value);
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  drop(err) {
    this.ready = null;
    this.socket = null;
    const pending = this.pending;
    this.pending = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  }

  async quit() {
    this.closing = true;
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    try {
      await this.send(['QUIT']);
    } catch (err) {
      // closing anyway
    }
    socket.destroy();
  }
}

module.exports = { RedisClient, RedisError, ReplyError, encodeCommand, parseReply, parseRedisUrl };
