"""The simulator's durable state: VMs, volumes, secrets; one JSON file.

Everything the API changes lives here and is written (atomically) after each
change, so a restarted simulator has the same cluster.  One lock guards it;
handlers hold it for their whole read-modify-write, as PVE's config file
locks do.
"""

import json
import os
import secrets
import threading

from .files import write_private


class State:
    def __init__(self, path):
        self.path = path
        self.lock = threading.RLock()
        self.data = {"vms": {}, "volumes": {}, "secrets": {}}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.data.update(json.load(f))

    def save(self):
        with self.lock:
            write_private(self.path, json.dumps(self.data, indent=1,
                                                sort_keys=True))

    def secret(self, name, make=lambda: secrets.token_hex(16)):
        """A secret kept across restarts (token secrets, the ticket key)."""
        with self.lock:
            s = self.data["secrets"].get(name)
            if s is None:
                s = self.data["secrets"][name] = make()
                self.save()
            return s

    # --- VMs -----------------------------------------------------------

    @property
    def vms(self):
        return self.data["vms"]

    def vm(self, vmid):
        return self.data["vms"].get(str(vmid))

    # --- volumes -------------------------------------------------------

    def volumes(self, where):
        """The volumes of a storage: where is "node/storage" or "shared/storage"."""
        return self.data["volumes"].setdefault(where, {})
