"""The simulator as a whole: config, state, schema, auth, tasks, faults."""

import collections
import os
import time

from . import auth, faults, schema, state, tasks, tls

SUBSET = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "schema", "pve-api-subset.json")


class Sim:
    def __init__(self, cfg, state_dir):
        self.cfg = cfg
        self.state_dir = state_dir
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        self.state = state.State(os.path.join(state_dir, "state.json"))
        self.certs, self.ca_file = tls.ensure(os.path.join(state_dir, "tls"),
                                              list(cfg["nodes"]))
        self.schema = schema.Schema(SUBSET)
        self.faults = faults.Faults()
        self.faults.set(cfg.get("faults", {}))     # faults from the start
        self.tasks = tasks.Tasks(cfg["task_ms"] / 1000.0)
        secrets = {tid: t.get("secret") or self.state.secret("token:" + tid,
                                                             _uuid)
                   for tid, t in cfg["tokens"].items()}
        passwords = {u: p.get("password") or self.state.secret("password:" + u)
                     for u, p in cfg["users"].items()}
        self.auth = auth.Auth(cfg, self.state.secret("ticket-key").encode(),
                              secrets, passwords)
        self.auth.pool_of = lambda vmid: (self.state.vm(vmid) or {}).get(
            "pool")
        self.requests = collections.deque(maxlen=10000)
        self.net = None         # guestnet.Net, when guests can run here
        self.guests = None      # guests.Guests
        self.started = time.time()

    def log_request(self, entry):
        self.requests.append(entry)

    def task_seconds(self):
        ms = self.faults.get("task_ms")
        return (ms if ms else self.cfg["task_ms"]) / 1000.0

    def node_online(self, node):
        return node in self.cfg["nodes"] and \
            node not in self.faults.get("nodes_offline")

    def token(self, tokenid="root@pam!hl"):
        """The full API token value for .hl/sim.env."""
        return "%s=%s" % (tokenid, self.auth.token_secrets[tokenid])

    def seed(self, count=1, node="pve1", first=1000, storage="local-lvm",
             vms=None):
        """Stopped VMs with lazy disks (nothing allocated), for benchmarks:
        count of them from vmid first, or the listed vms ({vmid, name,
        node, tags, cores, memory})."""
        from .api_qemu import seed_vms
        if vms is not None:
            return seed_vms(self, 0, node, 0, storage, vms)
        return seed_vms(self, int(count), node, int(first), storage)


def _uuid():
    import uuid
    return str(uuid.uuid4())
