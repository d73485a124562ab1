#!/usr/bin/env python3
"""python-setnx - a single-node Redis lock behind oversell's adapter protocol.

Written from locks/adapters/PROTOCOL.md alone, with Python's standard library only, to
show that the protocol is enough to put a lock under oversell's faults: SET lock:<key>
<token> NX PX <ttl> on the first Redis of init, released with a Lua compare-and-delete so
that only the holder deletes. A lock that finds the key taken retries retry_count times,
after retry_delay plus a random extra of up to retry_jitter milliseconds, drawn from a
generator seeded with init's seed (so a run is repeatable); the token is random from the
OS (secrets), never from the seed, so that two clients never share one.

It is as safe as the built-in setnx, and fails where setnx fails: a holder stopped longer
than its TTL (pause = process) finds at its release that the lock expired under it, and
answers that release `busy`.

Redis is spoken in RESP over a plain socket: a command is an array of bulk strings, and a
reply is one of five kinds (+simple, -error, :integer, $bulk, *array). Each command waits
at most COMMAND_TIMEOUT for its reply: an answer that does not come may still have been
carried out, and is reported as `unknown`, never as `fail`.

Logs go to stderr (the harness keeps it); stdout carries replies only, one JSON line each.
"""
import json
import os
import random
import secrets
import socket
import sys
import time

LIBRARY = "python-setnx 1"
COMMAND_TIMEOUT = 1.0  # seconds a Redis command may take before its outcome is unknown

# KEYS[1] the lock key, ARGV[1] our token: delete only while it is still ours.
RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
           "return redis.call('del', KEYS[1]) else return 0 end")


def log(*words):
    print("python-setnx[%d]:" % os.getpid(), *words, file=sys.stderr, flush=True)


class RedisError(Exception):
    """Redis answered with an error (-ERR ...): the command was refused."""


class Redis:
    """One connection, RESP by hand. Raises OSError when the link fails."""

    def __init__(self, host, port, username=None, password=None):
        self.addr = (host, port)
        self.login = [a for a in (username, password) if a is not None]
        self.sock = None
        self.buf = b""

    def connect(self):
        self.close()
        self.sock = socket.create_connection(self.addr, timeout=COMMAND_TIMEOUT)
        self.sock.settimeout(COMMAND_TIMEOUT)
        if self.login:
            # A server of the user's: log in on every (re)connect, as a client library does.
            # A refusal raises RedisError with the server's words, never the password.
            self.send("AUTH", *self.login)
            self.reply()

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError("not RESP: %r" % line[:40])


class Lock:
    def __init__(self, msg):
        node = msg["redis"][0]
        params = msg.get("params", {})
        self.ttl = int(params.get("ttl", 5000))
        self.retry_count = int(params.get("retry_count", 3))
        self.retry_delay = float(params.get("retry_delay", 200))
        self.retry_jitter = float(params.get("retry_jitter", 200))
        self.rng = random.Random(msg.get("seed", 0))
        # Every key under init's key_prefix ("" on the harness's own servers): on a
        # server of the user's the run finds and deletes its keys by it.
        self.prefix = msg.get("key_prefix", "")
        self.redis = Redis(node["host"], int(node["port"]), node.get("username"),
                           node.get("password"))
        self.redis.connect()
        self.tokens = {}  # key -> token of the locks held now

    def command(self, *args):
        """Send and read one reply. (outcome, value): outcome is "ok", "fail" (never
        sent, or refused by Redis) or "unknown" (sent, no answer)."""
        try:
            if self.redis.sock is None:
                self.redis.connect()
        except OSError as e:
            return "fail", "connect %s:%d: %s" % (self.redis.addr + (e,))
        except RedisError as e:
            self.redis.close()
            return "fail", "AUTH refused by %s:%d: %s" % (self.redis.addr + (e,))
        try:
            self.redis.send(*args)
        except OSError as e:
            # A send that failed part-way may have reached the server: not certain.
            self.redis.close()
            return "unknown", "send: %s" % e
        try:
            return "ok", self.redis.reply()
        except RedisError as e:
            return "fail", str(e)
        except (OSError, ValueError) as e:
            self.redis.close()
            return "unknown", "no reply: %s" % e

    def lock(self, key, ttl):
        token = secrets.token_hex(16)
        for attempt in range(1, self.retry_count + 2):
            outcome, value = self.command("SET", self.prefix + "lock:" + key, token, "NX", "PX",
                                          ttl)
            if outcome != "ok":
                return {"type": outcome, "error": value, "attempts": attempt}
            if value == "OK":
                self.tokens[key] = token
                return {"type": "ok", "attempts": attempt}
            if attempt <= self.retry_count:
                wait = self.retry_delay + self.rng.uniform(0, self.retry_jitter)
                time.sleep(wait / 1000.0)
        return {"type": "busy", "error": "lock:%s is held by another" % key,
                "attempts": self.retry_count + 1}

    def unlock(self, key):
        token = self.tokens.pop(key, None)
        if token is None:
            return {"type": "busy", "error": "not held by this client"}
        outcome, value = self.command("EVAL", RELEASE, 1, self.prefix + "lock:" + key, token)
        if outcome != "ok":
            return {"type": outcome, "error": value}
        if value == 1:
            return {"type": "ok"}
        return {"type": "busy", "error": "lock expired before release"}

    def release_all(self):
        for key in list(self.tokens):
            self.unlock(key)
        self.redis.close()


def answer(msg_id, reply):
    reply["id"] = msg_id
    sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    lock = None
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            log("not JSON from the harness:", line[:80].rstrip())
            return 2
        kind, msg_id = msg.get("type"), msg.get("id")
        if kind == "init":
            try:
                lock = Lock(msg)
            except (OSError, RedisError, KeyError, IndexError, ValueError) as e:
                log("init failed:", e)
                answer(msg_id, {"type": "fail", "error": "init: %s" % e})
                continue
            log("client", msg.get("client"), "on %s:%d" % lock.redis.addr,
                "ttl", lock.ttl)
            answer(msg_id, {"type": "init_ok", "library": LIBRARY})
        elif lock is None:
            answer(msg_id, {"type": "fail", "error": "no init yet"})
        elif kind == "lock":
            answer(msg_id, lock.lock(msg["key"], int(msg.get("ttl_ms", lock.ttl))))
        elif kind == "unlock":
            answer(msg_id, lock.unlock(msg["key"]))
        else:
            answer(msg_id, {"type": "fail", "error": "a lock adapter does not %s" % kind})
    # End of input: release what we hold and go.
    if lock is not None:
        lock.release_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
