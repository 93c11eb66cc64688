"""Fault injection, and the admin endpoint outside /api2 that sets it.

Faults are what real clusters do to clients (NOTES.md section 5): 5xx at a
rate, lock "got timeout", slow tasks, a late agent, nextid collisions, dropped
connections, 595 proxy errors, a node offline, a storage full, a bridge
missing, the Nth call of a kind failing.  The admin endpoint also seeds
stopped VMs and shows the request log (never a token).

  GET  /sim/faults           the current faults
  PUT  /sim/faults           replace them (JSON body, keys below)
  POST /sim/seed             {"count": N, "node": "pve1", "first": 1000}
  GET  /sim/requests         the request log: method, path, parameter
                             names, whether a token was sent, status
"""

import json
import random
import threading

from .errors import ApiError

KEYS = {
    "error_rate": 0.0,          # share of API calls answered 500
    "drop_rate": 0.0,           # share of connections closed unanswered
    "proxy_rate": 0.0,          # share answered 595 (proxy to node failed)
    "lock_timeout_rate": 0.0,   # share of config writes failing "got timeout"
    "task_ms": None,            # every task's duration (slow tasks)
    "latency_ms": 0,            # added to every API request (a far cluster)
    "agent_late_ms": 0,         # the agent answers only this long after
                                #   its VM started
    "nextid_collisions": 0,     # next N create/clone calls: "already exists"
    "fail": [],                 # [{"method", "path", "nth", "status",
                                #   "message"}]; with "body": that raw
                                #   text answered instead (a malformed
                                #   reply, status default 200)
    "nodes_offline": [],        # node names
    "storages_full": [],        # "node/storage"
    "bridges_missing": [],      # "node/bridge"
    "seed": 1,
}


class Raw:
    """An injected reply sent as it is: status and raw body text."""

    def __init__(self, status, body):
        self.status = status
        self.body = body


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.set({})

    def set(self, spec):
        unknown = set(spec) - set(KEYS)
        if unknown:
            raise ApiError(400, "unknown fault keys: %s"
                           % ", ".join(sorted(unknown)))
        with self.lock:
            self.spec = dict(KEYS, **spec)
            self.rand = random.Random(self.spec["seed"])
            self.counts = {}

    def get(self, key):
        with self.lock:
            return self.spec[key]

    def before(self, method, path):
        """Before a request: None, "drop", or an ApiError to answer."""
        with self.lock:
            s = self.spec
            if not path.startswith("/api2/"):
                return None
            sub = path[len("/api2/json"):]
            key = (method, sub)
            if any(f.get("method", method) == method and f["path"] == sub
                   for f in s["fail"]):
                # the Nth call of this method and path, whichever entry
                self.counts[key] = self.counts.get(key, 0) + 1
            for f in s["fail"]:
                if f.get("method", method) == method and f["path"] == sub:
                    if self.counts[key] == f.get("nth", 1):
                        if "body" in f:     # a malformed reply
                            return Raw(f.get("status", 200), f["body"])
                        return ApiError(f.get("status", 500),
                                        f.get("message", "injected failure"))
            r = self.rand.random()
            if r < s["drop_rate"]:
                return "drop"
            r -= s["drop_rate"]
            if r < s["proxy_rate"]:
                return ApiError(595, "Errors during connection "
                                "establishment, proxy handshake")
            r -= s["proxy_rate"]
            if r < s["error_rate"]:
                return ApiError(500, "injected server error")
            return None

    def lock_timeout(self, vmid):
        """An injected file-lock timeout for a config write, or None."""
        with self.lock:
            if self.rand.random() < self.spec["lock_timeout_rate"]:
                return ApiError(500, "can't lock file '/var/lock/qemu-server/"
                                "lock-%s.conf' - got timeout" % vmid)
        return None

    def take_collision(self):
        with self.lock:
            if self.spec["nextid_collisions"] > 0:
                self.spec["nextid_collisions"] -= 1
                return True
        return False


def _admin_auth(handler, sim):
    who = sim.auth.from_token(handler.headers.get("Authorization") or "")
    if who is None:
        raise ApiError(401, "authentication failure")


def admin(handler, sim, method, url):
    """The /sim/ endpoints: the simulator's own controls."""
    try:
        _admin_auth(handler, sim)
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}") if length else {}
        if (method, url.path) == ("GET", "/sim/faults"):
            return handler.answer(200, {"data": sim.faults.spec})
        if (method, url.path) == ("PUT", "/sim/faults"):
            sim.faults.set(body)
            return handler.answer(200, {"data": sim.faults.spec})
        if (method, url.path) == ("POST", "/sim/seed"):
            return handler.answer(200, {"data": sim.seed(**body)})
        if (method, url.path) == ("GET", "/sim/requests"):
            return handler.answer(200, {"data": list(sim.requests)})
        raise ApiError(501, "Method '%s %s' not implemented"
                       % (method, url.path))
    except (ValueError, TypeError) as e:
        handler.answer_error(ApiError(400, "bad admin request: %s" % e))
    except ApiError as e:
        handler.answer_error(e)
