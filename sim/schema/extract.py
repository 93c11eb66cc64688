#!/usr/bin/python3
"""Cut the methods the simulator serves out of Proxmox VE's API schema.

usage: extract.py APIDATA_JSON OUTPUT_JSON

APIDATA_JSON is ../shared/pve-api/apidata.json (pve-docs api-viewer/apidata.js
without its JavaScript wrapper). OUTPUT_JSON (sim/schema/pve-api-subset.json)
gets a JSON array, one object per served method, sorted by path then method:

    {"path": "/nodes/{node}/qemu", "method": "POST", "name": "create_vm",
     "allowtoken": 1, "protected": 1, "proxyto": "node",
     "permissions": {...}, "parameters": {...}, "returns": {...}}

Schemas are kept whole except for the human text (description,
verbose_description, format_description, typetext, title), which
validation never reads. Exit status: 0 written, 1 a listed method is missing
from the input, 2 usage or I/O error.
"""

import hashlib
import json
import os
import sys

# The (method, path) pairs the simulator serves; sim/schema/README.md
# repeats this list.
SERVED = [
    ("GET", "/version"),
    ("GET", "/cluster/status"),
    ("GET", "/cluster/nextid"),
    ("GET", "/cluster/resources"),
    ("GET", "/nodes"),
    ("GET", "/nodes/{node}/status"),
    ("GET", "/nodes/{node}/storage"),
    ("GET", "/nodes/{node}/storage/{storage}/status"),
    ("GET", "/nodes/{node}/storage/{storage}/content"),
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"),
    ("POST", "/nodes/{node}/storage/{storage}/upload"),
    ("POST", "/nodes/{node}/storage/{storage}/download-url"),
    ("GET", "/storage/{storage}"),
    ("GET", "/nodes/{node}/network"),
    ("POST", "/nodes/{node}/vzdump"),
    ("GET", "/nodes/{node}/vzdump/extractconfig"),
    ("GET", "/nodes/{node}/qemu"),
    ("POST", "/nodes/{node}/qemu"),
    ("GET", "/nodes/{node}/qemu/{vmid}/config"),
    ("POST", "/nodes/{node}/qemu/{vmid}/config"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/config"),
    ("GET", "/nodes/{node}/qemu/{vmid}/pending"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/resize"),
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"),
    ("POST", "/nodes/{node}/qemu/{vmid}/template"),
    ("DELETE", "/nodes/{node}/qemu/{vmid}"),
    ("GET", "/nodes/{node}/qemu/{vmid}/status/current"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot"),
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/ping"),
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-osinfo"),
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/file-read"),
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/exec"),
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status"),
    ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit"),
    ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump"),
    ("GET", "/nodes/{node}/tasks"),
    ("GET", "/nodes/{node}/tasks/{upid}/status"),
    ("GET", "/nodes/{node}/tasks/{upid}/log"),
    ("DELETE", "/nodes/{node}/tasks/{upid}"),
    ("POST", "/access/ticket"),
    ("GET", "/access/permissions"),
]

# Method keys copied into each entry (when present upstream).
METHOD_KEYS = ("name", "allowtoken", "protected", "proxyto", "permissions",
               "parameters", "returns")

# Human text that validation never reads.
DROPPED = frozenset(("description", "verbose_description",
                     "format_description", "typetext", "title"))


def index_methods(nodes, index):
    """Map (method, path) to its method object, walking the whole tree."""
    for node in nodes:
        for method, info in (node.get("info") or {}).items():
            index[(method, node["path"])] = info
        index_methods(node.get("children") or [], index)
    return index


def strip_text(value):
    """A copy of a schema without its human-readable text."""
    if isinstance(value, dict):
        # Only text goes: a property *named* description is a schema.
        return {k: strip_text(v) for k, v in value.items()
                if not (k in DROPPED and isinstance(v, str))}
    if isinstance(value, list):
        return [strip_text(v) for v in value]
    return value


def make_entry(method, path, info):
    """One subset entry: path, method and the kept method keys."""
    entry = {"path": path, "method": method}
    for key in METHOD_KEYS:
        if key in info:
            entry[key] = strip_text(info[key])
    return entry


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: extract.py APIDATA_JSON OUTPUT_JSON\n")
        return 2
    src, dst = argv[1], argv[2]
    try:
        with open(src, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.stderr.write("extract.py: cannot read '%s': %s\n" % (src, e))
        return 2
    index = index_methods(json.loads(raw), {})

    missing = [m + " " + p for m, p in SERVED if (m, p) not in index]
    if missing:
        sys.stderr.write("extract.py: not in '%s': %s\n"
                         % (src, ", ".join(missing)))
        return 1

    entries = [make_entry(m, p, index[(m, p)]) for m, p in SERVED]
    entries.sort(key=lambda e: (e["path"], e["method"]))
    text = json.dumps(entries, indent=1, sort_keys=True) + "\n"
    tmp = dst + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, dst)
    except OSError as e:
        sys.stderr.write("extract.py: cannot write '%s': %s\n" % (dst, e))
        return 2
    sys.stderr.write("extract.py: %d methods from %s (sha256 %s)\n"
                     % (len(entries), src, hashlib.sha256(raw).hexdigest()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
