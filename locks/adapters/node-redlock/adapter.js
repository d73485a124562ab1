#!/usr/bin/env node
// adapter.js - the npm packages `redlock` (5.0.0-beta.2) and `ioredis` (5) behind oversell's
// adapter protocol (../PROTOCOL.md), so the lock most Node shops would pick up runs under
// the same faults and the same invariants as the built-in `redlock`.
//
//   adapter.js --mode acquire   redlock.acquire([key], ttl) on lock, lock.release() on unlock
//   adapter.js --mode using     redlock.using([key], ttl, {automaticExtensionThreshold},
//                               routine): the routine waits for unlock while redlock
//                               extends the lease in the background
//
// One process per harness client; JSON lines in on stdin, out on stdout, logs on stderr.
// Nothing here decides safety: the harness checks the shop's rows. What the adapter owes it
// is an honest reply (README.md has the mapping): `ok` only when redlock said so, `busy`
// when redlock could not get or keep a majority, `unknown` when a command went out and no
// answer came back, `fail` when nothing was sent or the server refused it.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

// Stdout carries protocol lines and nothing else. Keep the real writer for replies and send
// everything else that would reach stdout (console.log in a dependency, a stray debug
// print) to stderr, where the harness keeps it as the adapter's log.
const protocolWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
console.log = console.info = console.debug = console.error;

const EXIT_BUDGET_MS = 1500; // PROTOCOL.md gives 2 s from end of stdin to exit; keep a margin
// How long init waits for a node's first connection that neither comes up nor is refused:
// the nodes of a run are up at init (faults come after its start), so only a starved
// machine or a stopped server makes it wait; the harness gives init 30 s.
const INIT_CONNECT_MS = 5000;

function log(msg) {
  process.stderr.write(`node-redlock[${process.pid}]: ${msg}\n`);
}

function usage(msg) {
  process.stderr.write(`adapter.js: ${msg}\nusage: adapter.js --mode acquire|using\n`);
  process.exit(2);
}

function parseMode(argv) {
  let mode = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mode' && i + 1 < argv.length) mode = argv[++i];
    else if (argv[i].startsWith('--mode=')) mode = argv[i].slice(7);
    else usage(`unknown argument '${argv[i]}'`);
  }
  if (mode !== 'acquire' && mode !== 'using') usage('--mode acquire or --mode using is required');
  return mode;
}

const mode = parseMode(process.argv.slice(2));

// The two libraries, loaded here so that a missing node_modules becomes a `fail` reply to
// init that says how to install them, instead of a crash with a stack trace.
let Redis = null;
let Redlock = null;
let ExecutionError = null;
let ResourceLockedError = null;
let loadError = null;
try {
  Redis = require('ioredis');
  const redlock = require('redlock');
  Redlock = redlock.default;
  ExecutionError = redlock.ExecutionError;
  ResourceLockedError = redlock.ResourceLockedError;
} catch (e) {
  loadError = `cannot load redlock/ioredis (${e.code || e.message}): run \`npm ci\` in ${__dirname}` +
    ' (setup.sh does)';
}

// The version of an installed package, from its own package.json. redlock's `exports` field
// does not export package.json, so walk up from the resolved entry point instead. redlock's
// file spells its version "v5.0.0-beta.2"; the report wants the bare semver.
function packageVersion(name) {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === name) return String(pkg.version).replace(/^v/, '');
    }
    const up = path.dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}

function reply(msg) {
  protocolWrite(JSON.stringify(msg) + '\n');
}

// ---- state ----------------------------------------------------------------------------

let clients = [];       // one ioredis client per Redis endpoint of init, in init's order
let nodeIndex = null;   // client -> its index, to name nodes in errors
let redlock = null;
let params = null;      // init's params with our defaults filled in
const held = new Map(); // key -> stack of holds (a re-entry that redlock grants pushes one)
const inflight = new Set(); // promises of requests not yet answered
let shuttingDown = false;

// ---- classifying what happened --------------------------------------------------------

// Where one node's vote against came from. redlock folds every per-node error into a vote
// against; ioredis's messages say whether the command ever reached the socket:
//  - locked: the script ran and found the key held by another value (ResourceLockedError);
//  - refused: the server answered with an error (ReplyError): certainly not applied;
//  - unsent: the connection was not ready and, with the offline queue off, the command was
//    rejected before it was written ("Stream isn't writeable ..."), or the client had ended;
//  - lost: it was written and no answer came (our commandTimeout, or the connection dropped
//    with it in flight, which maxRetriesPerRequest = 0 turns into a rejection at once).
function voteKind(error) {
  if (ResourceLockedError && error instanceof ResourceLockedError) return 'locked';
  if (error && error.name === 'ReplyError') return 'refused';
  const m = String(error && error.message);
  if (m.startsWith("Stream isn't writeable") || m === 'Connection is closed.') return 'unsent';
  return 'lost';
}

// The last attempt's votes, by kind. Its stats promise resolves once every node has voted,
// which our commandTimeout bounds; the race is only a guard against waiting for ever.
async function lastVotes(err) {
  const counts = { for: 0, locked: 0, refused: 0, unsent: 0, lost: 0, nodes: clients.length };
  const notes = [];
  const attempts = (err && err.attempts) || [];
  if (attempts.length === 0) return { counts, notes, attempts: 0 };
  const stats = await Promise.race([
    attempts[attempts.length - 1],
    new Promise((resolve) => setTimeout(resolve, params.node_timeout + 100, null)),
  ]);
  if (!stats) {
    counts.lost = clients.length; // nothing known about any node's answer
    return { counts, notes: ['votes still outstanding'], attempts: attempts.length };
  }
  counts.for = stats.votesFor.size;
  for (const [client, error] of stats.votesAgainst) {
    const kind = voteKind(error);
    counts[kind]++;
    if (kind !== 'locked') notes.push(`node ${nodeIndex.get(client)}: ${error.message}`);
  }
  counts.lost += clients.length - stats.votesFor.size - stats.votesAgainst.size;
  return { counts, notes, attempts: attempts.length };
}

function describe(v, what) {
  const c = v.counts;
  let s = `${what} after ${v.attempts} attempt(s), last one: ${c.for} for, ${c.locked} held by another`;
  if (c.refused) s += `, ${c.refused} refused`;
  if (c.unsent) s += `, ${c.unsent} not sent`;
  if (c.lost) s += `, ${c.lost} without answer`;
  if (v.notes.length) s += ` (${v.notes.join('; ')})`;
  return s;
}

// A failed acquire: redlock gave up after its retries and has already released whatever it
// got on a minority. The lock is not held, whatever the mix of votes: busy.
async function lockFailure(id, err) {
  if (!(err instanceof ExecutionError)) {
    // Thrown before anything was sent: a duration redlock rejects, or `using` refusing a
    // threshold too close to the ttl.
    return { type: 'fail', id, error: String(err && err.message) };
  }
  const v = await lastVotes(err);
  return { type: 'busy', id, error: describe(v, 'no quorum'), attempts: v.attempts };
}

// A failed release. redlock counts a node "for" only where the key still held our value and
// was deleted, so a majority that found it gone or held by another means the lease was no
// longer ours: busy, the safety signal. Short of that, whether it is still ours somewhere
// depends on nodes that did not answer: unknown if a command went out unanswered, fail if
// none did (not sent, or refused).
async function unlockFailure(id, err) {
  if (!(err instanceof ExecutionError)) {
    return { type: 'fail', id, error: String(err && err.message) };
  }
  const v = await lastVotes(err);
  const quorum = Math.floor(clients.length / 2) + 1;
  if (v.counts.locked >= quorum) {
    return { type: 'busy', id, error: describe(v, 'no longer ours: release found it expired or taken') };
  }
  if (v.counts.lost > 0) return { type: 'unknown', id, error: describe(v, 'release not confirmed') };
  return { type: 'fail', id, error: describe(v, 'release not done') };
}

// ---- init -----------------------------------------------------------------------------

function num(p, name, def) {
  const v = p && p[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : def;
}

// Resolves true when the client is ready; false when the node refused the connection (no
// server on that port: it is down) or at the deadline. Any other failure of the first
// attempt is not the end: ioredis reconnects (retryStrategy), and on a machine busy
// starting a run's thirty-odd adapters at once a first try can time out while the node is
// up. The last look, at the deadline, is at the status itself: a ready event queued behind
// the timer on a starved event loop still counts.
function firstConnect(client, ms) {
  return new Promise((resolve) => {
    if (client.status === 'ready') return resolve(true);
    const done = (ok) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onError = (e) => {
      if (e && e.code === 'ECONNREFUSED') done(false);
    };
    const timer = setTimeout(() => done(client.status === 'ready'), ms);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

async function init(msg) {
  if (redlock) return { type: 'fail', id: msg.id, error: 'init sent twice' };
  if (loadError) return { type: 'fail', id: msg.id, error: loadError };
  if (!Array.isArray(msg.redis) || msg.redis.length === 0) {
    return { type: 'fail', id: msg.id, error: 'init: no Redis endpoints' };
  }
  const p = msg.params || {};
  params = {
    ttl: num(p, 'ttl', 5000),
    drift_factor: num(p, 'drift_factor', 0.01),
    retry_count: num(p, 'retry_count', 3),
    retry_delay: num(p, 'retry_delay', 200),
    retry_jitter: num(p, 'retry_jitter', 200),
    extension_threshold: num(p, 'extension_threshold', 500),
    node_timeout: num(p, 'node_timeout', 50),
  };
  // redlock.using refuses every call whose ttl is not 100 ms above the threshold. Refused
  // here, it ends the run as an error; refused per lock, it would be a run of `fail`
  // replies in which nothing is sold and therefore nothing oversold.
  if (mode === 'using' && params.extension_threshold > params.ttl - 100) {
    return {
      type: 'fail', id: msg.id,
      error: `using: extension_threshold ${params.extension_threshold} must be at least 100 ms ` +
        `below ttl ${params.ttl} (redlock refuses it)`,
    };
  }
  clients = msg.redis.map((ep, i) => {
    const c = new Redis({
      host: ep.host,
      port: ep.port,
      // On a server of the user's the run's keys all start with init's key_prefix, which
      // ioredis puts before every key of every command (EVAL's and EVALSHA's KEYS
      // included, which is how redlock writes); the login, when there is one, comes with
      // the endpoint. Both are "" / absent on the harness's own servers.
      keyPrefix: typeof msg.key_prefix === 'string' ? msg.key_prefix : '',
      username: typeof ep.username === 'string' ? ep.username : undefined,
      password: typeof ep.password === 'string' ? ep.password : undefined,
      lazyConnect: false,
      // A node that is down answers at once instead of holding the request: a command is
      // written only on a ready connection, else rejected before it is sent. With the
      // default offline queue a killed node would keep every acquire waiting for its vote
      // until it came back, and the adapter would hang past the harness's timeout.
      enableOfflineQueue: false,
      // A command in flight when its connection drops is rejected at once (sent, no
      // answer) and never re-sent after the reconnect: a SET that lands late would grant
      // a lock nobody is waiting for any more.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // No command timeout yet: the first connection's ready check (an INFO) waits for
      // its answer. With a run's thirty-odd adapters starting at once, a busy machine
      // answers it in more than 50 ms, and init would find no node reachable. The
      // per-node timeout is set once every node has answered (below).
      connectTimeout: Math.max(params.node_timeout, 1000),
      // Keep reconnecting, quickly and for ever: a node killed and restarted in the
      // middle of a run is back within milliseconds, and the next acquire should see it.
      retryStrategy: (times) => Math.min(times * 10, 100),
      reconnectOnError: null,
    });
    // ioredis emits an error on every failed reconnect; log each change of state once.
    let last = '';
    c.on('error', (e) => {
      if (e.message !== last) log(`node ${i} (${ep.host}:${ep.port}): ${e.message}`);
      last = e.message;
    });
    c.on('ready', () => {
      if (last) log(`node ${i} (${ep.host}:${ep.port}): ready`);
      last = '';
    });
    return c;
  });
  nodeIndex = new Map(clients.map((c, i) => [c, i]));
  const ready = await Promise.all(clients.map((c) => firstConnect(c, INIT_CONNECT_MS)));
  const up = ready.filter(Boolean).length;
  if (up === 0) {
    return { type: 'fail', id: msg.id, error: `init: none of ${clients.length} Redis nodes reachable` };
  }
  if (up < clients.length) log(`init: ${up} of ${clients.length} nodes reachable`);
  // Per-node command timeout, the built-in redlock's node_timeout: a node that keeps the
  // connection but never answers (a paused server, a link that discards) counts as a
  // vote against after this long, not never. ioredis reads it at every command.
  for (const c of clients) c.options.commandTimeout = params.node_timeout;
  redlock = new Redlock(clients, {
    driftFactor: params.drift_factor,
    retryCount: Math.round(params.retry_count),
    retryDelay: params.retry_delay,
    retryJitter: params.retry_jitter,
    automaticExtensionThreshold: params.extension_threshold,
  });
  log(`init: mode ${mode}, ${clients.length} nodes, ${JSON.stringify(params)}`);
  return {
    type: 'init_ok',
    id: msg.id,
    library: `redlock ${packageVersion('redlock')} + ioredis ${packageVersion('ioredis')}`,
  };
}

// ---- lock and unlock ------------------------------------------------------------------

function ttlOf(msg) {
  const t = typeof msg.ttl_ms === 'number' ? msg.ttl_ms : params.ttl;
  return Math.max(1, Math.round(t)); // redlock takes whole milliseconds only
}

function push(key, hold) {
  if (!held.has(key)) held.set(key, []);
  held.get(key).push(hold);
}

function pop(key) {
  const stack = held.get(key);
  const hold = stack.pop();
  if (stack.length === 0) held.delete(key);
  return hold;
}

async function lockAcquire(msg) {
  try {
    const lock = await redlock.acquire([msg.key], ttlOf(msg));
    push(msg.key, { lock });
    return { type: 'ok', id: msg.id, attempts: lock.attempts.length };
  } catch (e) {
    return lockFailure(msg.id, e);
  }
}

async function unlockAcquire(hold, id) {
  try {
    await hold.lock.release();
    return { type: 'ok', id };
  } catch (e) {
    return unlockFailure(id, e);
  }
}

// `using` resolves only when the routine returns and the release is done, so the lock
// reply is sent from inside the routine, and the hold keeps what unlock needs: the way to
// end the routine, the signal redlock aborts when an extension fails, and the promise of
// the whole call.
function lockUsing(msg) {
  return new Promise((answer) => {
    const hold = {};
    let entered = false;
    hold.done = redlock
      .using([msg.key], ttlOf(msg), { automaticExtensionThreshold: params.extension_threshold },
        (signal) => {
          entered = true;
          hold.signal = signal;
          signal.addEventListener('abort', () => {
            log(`${msg.key}: extension failed: ${signal.error && signal.error.message}`);
          });
          const routineDone = new Promise((resolve) => { hold.finish = resolve; });
          push(msg.key, hold);
          answer({ type: 'ok', id: msg.id });
          return routineDone;
        })
      .then(() => null, (e) => e);
    hold.done.then((e) => {
      if (!entered) answer(lockFailure(msg.id, e));
    });
  });
}

async function unlockUsing(hold, id) {
  hold.finish();
  const err = await hold.done;
  if (hold.signal.aborted) {
    const why = hold.signal.error ? hold.signal.error.message : 'aborted';
    return { type: 'busy', id, error: `no longer ours: an extension failed (${why})` };
  }
  return err ? unlockFailure(id, err) : { type: 'ok', id };
}

// ---- requests -------------------------------------------------------------------------

async function handle(msg) {
  const id = msg.id;
  switch (msg.type) {
    case 'init':
      return init(msg);
    case 'lock':
    case 'unlock':
      if (!redlock) return { type: 'fail', id, error: `${msg.type} before init` };
      if (typeof msg.key !== 'string' || msg.key === '') {
        return { type: 'fail', id, error: `${msg.type}: no key` };
      }
      if (msg.type === 'lock') return mode === 'acquire' ? lockAcquire(msg) : lockUsing(msg);
      if (!held.has(msg.key)) return { type: 'fail', id, error: `unlock: ${msg.key} is not held here` };
      return mode === 'acquire' ? unlockAcquire(pop(msg.key), id) : unlockUsing(pop(msg.key), id);
    case 'buy':
    case 'book':
      return { type: 'fail', id, error: `${msg.type}: this adapter only locks (operation = lock)` };
    default:
      return { type: 'fail', id, error: `unknown request type '${msg.type}'` };
  }
}

function onLine(line) {
  if (line.trim() === '') return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    log(`not JSON: ${line.slice(0, 200)}`);
    reply({ type: 'fail', id: null, error: `not a JSON line: ${e.message}` });
    return;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    reply({ type: 'fail', id: null, error: 'not a JSON object' });
    return;
  }
  const p = handle(msg)
    .catch((e) => ({ type: 'fail', id: msg.id, error: `adapter: ${e && e.stack ? e.stack : e}` }))
    .then(reply);
  inflight.add(p);
  p.finally(() => inflight.delete(p));
}

// ---- shutdown -------------------------------------------------------------------------

function within(ms, promise) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms))]);
}

// End of stdin (the harness is done with us) or SIGTERM: let requests in flight finish, so a
// lock granted meanwhile is released too, release every hold, quit the connections, exit.
// All of it within EXIT_BUDGET_MS: what is not released by then expires with its TTL.
async function shutdown(status, why) {
  if (shuttingDown) return;
  shuttingDown = true;
  const t0 = Date.now();
  const hard = setTimeout(() => {
    log(`exit: ${why}, budget of ${EXIT_BUDGET_MS} ms spent, ${held.size} key(s) left to their TTL`);
    process.exit(status);
  }, EXIT_BUDGET_MS);
  const left = () => Math.max(0, EXIT_BUDGET_MS - 100 - (Date.now() - t0));
  await within(left(), Promise.allSettled([...inflight]));
  const releases = [];
  for (const key of [...held.keys()]) {
    while (held.has(key)) {
      const hold = pop(key);
      if (mode === 'acquire') {
        releases.push(redlock.release(hold.lock, { retryCount: 0 }));
      } else {
        hold.finish();
        releases.push(hold.done);
      }
    }
  }
  await within(left(), Promise.allSettled(releases));
  await within(left(), Promise.allSettled(clients.map((c) => c.quit())));
  for (const c of clients) c.disconnect();
  clearTimeout(hard);
  log(`exit: ${why}, ${releases.length} hold(s) released in ${Date.now() - t0} ms`);
  process.exit(status);
}

// A reader gone from stdout is the harness gone: nothing to answer any more.
process.stdout.on('error', () => shutdown(0, 'stdout closed'));
process.on('SIGTERM', () => shutdown(143, 'SIGTERM'));

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', onLine);
rl.on('close', () => shutdown(0, 'end of input'));
