"""The simulated cluster's shape, from a small JSON config merged over defaults.

Nodes, storages, bridges, the API version knob, tokens and users with their
ACLs, task durations, the 401 delay.  sim/README.md documents each key.
"""

import copy
import json
import re

DEFAULTS = {
    # The cluster's name; null for a single node outside any cluster (the
    # usual home lab: /cluster/status lists only the node, and a lab knows
    # it by its certificate's fingerprint).
    "cluster": "hl-sim",
    # "8.4" or "9.1": /version, and where behaviour differs by version:
    # resize answers null synchronously on 8.4 (the knob, so
    # clients meet both answers; NOTES.md quirk 9), a UPID on 9.x.
    "version": "9.1",
    "nodes": {
        "pve1": {"bridges": ["vmbr0"], "cpus": 8, "memory_gib": 64},
        "pve2": {"bridges": ["vmbr0"], "cpus": 8, "memory_gib": 64},
    },
    # Storages exist on every node listed in "nodes" (default: all).
    "storages": {
        "local": {"type": "dir", "content": ["iso", "vztmpl", "import",
                                             "snippets", "backup", "images"],
                  "size_gib": 100, "shared": False},
        "local-lvm": {"type": "lvmthin", "content": ["images", "rootdir"],
                      "size_gib": 200, "shared": False},
    },
    "pools": ["hl-demo"],
    # The guests' networks: per bridge, its subnet with the gateway's
    # address (where the apt proxy and the mirror answer; the nodes take
    # the addresses after it) and a DHCP pool for ipconfigN ip=dhcp.
    # The default matches the example lab.
    "networks": {
        "vmbr0": {"cidr": "10.77.0.1/24", "dhcp": "10.77.0.100-10.77.0.199"},
    },
    # API tokens: "user@realm!name" -> secret and privilege separation.
    # The token's own ACLs apply when privsep is 1 (the effective rights
    # are the intersection with the user's, as in PVE).
    "tokens": {"root@pam!hl": {"secret": None, "privsep": 0}},
    "users": {"root@pam": {"password": None}},
    # ACL entries: path, who (user or token id), role; propagate as in PVE.
    "acls": [],
    # Roles of the lab's own, name -> privileges (pveum role add).
    "roles": {},
    "task_ms": 300,          # how long a task takes by default; never 0
    "auth_delay_s": 3,       # PVE delays every 401 by ~3 s; 0 in tests
    "faults": {},            # faults from the start (faults.py KEYS)
}

# The built-in roles, with the privileges each grants (PVE's role table,
# pve-access-control src/PVE/AccessControl.pm, the subset the API uses).
ROLES = {
    "Administrator": ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CDROM",
                      "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
                      "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network",
                      "VM.Config.Options", "VM.Console", "VM.Migrate",
                      "VM.PowerMgmt", "VM.GuestAgent.Audit",
                      "VM.GuestAgent.Unrestricted", "VM.Monitor", "VM.Backup",
                      "VM.Snapshot", "Datastore.Allocate",
                      "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
                      "Datastore.Audit", "Sys.Audit", "Sys.Modify",
                      "Sys.AccessNetwork", "Sys.Console", "Pool.Allocate",
                      "Pool.Audit", "SDN.Use", "SDN.Audit", "Permissions.Modify",
                      "User.Modify", "Sys.PowerMgmt", "Sys.Syslog"],
    "PVEAuditor": ["VM.Audit", "Datastore.Audit", "Sys.Audit", "Pool.Audit",
                   "SDN.Audit", "VM.GuestAgent.Audit"],
    "PVEVMAdmin": ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CDROM",
                   "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
                   "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network",
                   "VM.Config.Options", "VM.Console", "VM.Migrate",
                   "VM.PowerMgmt", "VM.Monitor", "VM.Backup", "VM.Snapshot",
                   "VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"],
    "PVEDatastoreUser": ["Datastore.AllocateSpace", "Datastore.Audit"],
    "NoAccess": [],
}


NODE = {"bridges": ["vmbr0"], "cpus": 8, "memory_gib": 64}


def merge(base, over):
    """Deep-merge over into a copy of base (dicts merge, the rest replaces)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load(path=None):
    """The config: DEFAULTS, with the JSON file at path laid over them."""
    cfg = DEFAULTS
    if path:
        with open(path, encoding="utf-8") as f:
            over = json.load(f)
        cfg = merge(DEFAULTS, over)
        # the nodes a config lists are the cluster's nodes (one node alone
        # is a standalone node), each over the default node's settings
        if isinstance(over.get("nodes"), dict):
            cfg["nodes"] = {n: merge(NODE, v) for n, v in
                            over["nodes"].items()}
    else:
        cfg = copy.deepcopy(DEFAULTS)
    if cfg["task_ms"] <= 0:
        raise ValueError("task_ms must be above 0: PVE tasks take time")
    if cfg["version"] not in ("8.4", "9.1"):
        raise ValueError("version must be 8.4 or 9.1")
    # PVE 8.4 has no VM.GuestAgent.* privileges (9.0 brought them): a role
    # naming one fails as "pveum role add" does there
    # (pve-access-control src/PVE/AccessControl.pm $privgroups, 8.4)
    if cfg["version"] == "8.4":
        for name, privs in cfg.get("roles", {}).items():
            for p in privs:
                if p.startswith("VM.GuestAgent."):
                    raise ValueError("role %s: invalid privilege '%s' "
                                     "(PVE 8.4 has no VM.GuestAgent "
                                     "privileges)" % (name, p))
    if cfg["cluster"] is None and len(cfg["nodes"]) != 1:
        raise ValueError("a node outside any cluster (cluster: null) is "
                         "one node, not %d" % len(cfg["nodes"]))
    for name, st in cfg["storages"].items():
        if st["type"] not in ("dir", "lvmthin", "zfspool"):
            raise ValueError("storage %s: type must be dir, lvmthin or zfspool"
                             % name)
        # a dir storage's path, as storage.cfg gives it: absolute, plain
        # (it is a directory inside each node's filesystem here)
        path = st.get("path")
        if path is not None and (st["type"] != "dir" or
                                 not isinstance(path, str) or
                                 not re.match(r"^(/[A-Za-z0-9._-]+)+$", path)
                                 or "/.." in path or "/./" in path + "/"):
            raise ValueError("storage %s: path must be an absolute, plain "
                             "path, and only a dir storage has one" % name)
    return cfg
