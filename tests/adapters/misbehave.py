#!/usr/bin/env python3
"""misbehave.py MODE - an adapter that breaks the protocol on purpose, for test_adapter.c.

It answers init as a good adapter does (except in init-exit), then each request the way
MODE says:

  ok            ok to everything (the baseline the others are compared with)
  fenced        ok to everything, lock replies with a growing fencing token
  no-token      ok to lock without a token (wrong when the definition says fencing = yes)
  crash         writes a last word to stderr and exits with status 3 mid-request
  garbage       answers with a line that is not JSON
  hang          reads the request and never answers
  init-exit     writes why to stderr and exits with status 1 before answering init
  unknown-type  answers with a type the protocol does not have
  wrong-id      answers with another request's id
  refused-lock  answers a lock with refused, which only buy and book may get
  honest-unknown answers unknown with an error: a result, not a protocol error
  helper        forks a helper process (sleep) into its process group, then as ok
  linger        as ok, but ignores the end of its input and never exits by itself
  own-shop      a whole operation with shop = own: sells every buy in the SQLite shop of
                init itself (stock - 1 and an order), checking nothing
  echo-book     a whole operation that refuses every book, its error the message's fields
                as it read them (and init's workload), for the test to compare
"""
import json
import os
import sys
import time

mode = sys.argv[1]


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    token = 0
    helper = None
    for line in sys.stdin:
        msg = json.loads(line)
        i = msg["id"]
        if msg["type"] == "init":
            if mode == "init-exit":
                print("misbehave: cannot reach redis at 127.0.0.1:1 (refused)",
                      file=sys.stderr, flush=True)
                sys.exit(1)
            if mode == "helper":
                import subprocess  # here: the other modes start faster without it
                helper = subprocess.Popen(["sleep", "600"])
                print("misbehave: helper pid", helper.pid, file=sys.stderr, flush=True)
            if mode == "own-shop":
                import sqlite3  # here, as subprocess above
                shop = sqlite3.connect(msg["shop"]["path"], timeout=10, isolation_level=None)
            workload = msg["workload"]
            say({"type": "init_ok", "id": i, "library": "misbehave " + mode})
            continue
        print("misbehave: got", msg["type"], "id", i, file=sys.stderr, flush=True)
        if mode == "crash":
            print("misbehave: segfault in the lock library, giving up", file=sys.stderr,
                  flush=True)
            os._exit(3)
        elif mode == "garbage":
            sys.stdout.write("lock acquired, probably\n")
            sys.stdout.flush()
        elif mode == "hang":
            time.sleep(3600)
        elif mode == "unknown-type":
            say({"type": "maybe", "id": i})
        elif mode == "wrong-id":
            say({"type": "ok", "id": i + 7})
        elif mode == "refused-lock":
            say({"type": "refused", "id": i, "error": "no"})
        elif mode == "honest-unknown":
            say({"type": "unknown", "id": i, "error": "redis timed out after SET"})
        elif mode == "echo-book":
            fields = " ".join("%s=%s" % (k, msg[k]) for k in
                              ("hotel", "room", "check_in", "check_out", "guest", "think_ms"))
            say({"type": "refused", "id": i,
                 "error": "%s %s workload=%s" % (msg["type"], fields, workload)})
        elif mode == "own-shop" and msg["type"] == "buy":
            shop.execute("UPDATE skus SET stock = stock - 1 WHERE id = ?", (msg["sku"],))
            shop.execute("INSERT INTO orders (sku, buyer, created_ns) VALUES (?, ?, ?)",
                         (msg["sku"], msg["buyer"], time.monotonic_ns()))
            say({"type": "ok", "id": i})
        elif mode == "fenced" and msg["type"] == "lock":
            token += 1
            say({"type": "ok", "id": i, "token": token})
        else:
            say({"type": "ok", "id": i})
    if mode == "linger":
        time.sleep(3600)
    if helper is not None:
        helper.kill()


main()
