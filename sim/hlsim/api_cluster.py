"""Cluster, nodes, network, access and task endpoints.

pve-manager PVE/API2/Cluster.pm (status, nextid, resources), Nodes.pm,
Network.pm, Tasks.pm; pve-access-control PVE/API2/AccessControl.pm.
"""

import time

from . import vmconfig
from .errors import ApiError, fail, param_error
from .routes import route
from .server import Envelope
from .tasks import parse_upid

VERSIONS = {"8.4": ("8.4.1", "8.4", "2a5fa54a8503f96d"),
            "9.1": ("9.1.2", "9.1", "f2c3a4b5c6d7e8f9")}


def node_or_fail(sim, node):
    """PVE answers 595 when the node to proxy to is offline."""
    if node not in sim.cfg["nodes"]:
        raise fail("hostname lookup '%s' failed - failed to get address "
                   "info for: %s: Name or service not known" % (node, node))
    if not sim.node_online(node):
        raise ApiError(595, "Errors during connection establishment, proxy "
                       "handshake")


@route("GET", "/version")
def version(sim, req):
    v, release, repoid = VERSIONS[sim.cfg["version"]]
    return {"version": v, "release": release, "repoid": repoid}


@route("GET", "/cluster/status")
def cluster_status(sim, req):
    nodes = list(sim.cfg["nodes"])
    out = []
    # a node outside any cluster lists only itself, with nodeid 0
    # (pve-cluster PVE/API2/ClusterConfig.pm, status without corosync)
    if sim.cfg["cluster"] is not None:
        out.append({"type": "cluster", "id": "cluster",
                    "name": sim.cfg["cluster"], "nodes": len(nodes),
                    "quorate": 1, "version": len(nodes)})
    for i, n in enumerate(nodes, 1):
        out.append({"type": "node", "id": "node/" + n, "name": n,
                    "nodeid": i if sim.cfg["cluster"] is not None else 0,
                    "ip": "127.0.0.1", "local": int(i == 1),
                    "online": int(sim.node_online(n)), "level": ""})
    return out


@route("GET", "/cluster/nextid")
def nextid(sim, req):
    with sim.state.lock:
        if req.get("vmid") is not None:
            vmid = req["vmid"]
            if sim.state.vm(vmid) is not None:
                raise param_error({"vmid": "VM %d already exists" % vmid})
            return str(vmid)
        vmid = 100
        while sim.state.vm(vmid) is not None:
            vmid += 1
        return str(vmid)


def _vm_resource(vmid, vm):
    conf = vm["config"]
    mem = vmconfig.memory_bytes(conf)
    item = {"id": "qemu/%s" % vmid, "type": "qemu", "vmid": int(vmid),
            "name": conf.get("name", "VM %s" % vmid), "node": vm["node"],
            "status": vm["status"], "template": int(conf.get("template", 0)),
            "maxmem": mem, "mem": mem // 4 if vm["status"] == "running" else 0,
            "maxcpu": int(conf.get("cores", 1)) * int(conf.get("sockets", 1)),
            "cpu": 0, "maxdisk": vm.get("maxdisk", 0), "disk": 0,
            "uptime": int(time.time() - vm["started"])
            if vm["status"] == "running" else 0,
            "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0}
    if conf.get("lock"):
        item["lock"] = conf["lock"]
    if conf.get("tags"):
        item["tags"] = conf["tags"]
    if vm.get("pool"):
        item["pool"] = vm["pool"]
    return item


@route("GET", "/cluster/resources")
def resources(sim, req):
    from .api_storage import storage_status
    want = req.get("type")
    out = []
    with sim.state.lock:
        if want in (None, "vm"):
            for vmid, vm in sorted(sim.state.vms.items(),
                                   key=lambda kv: int(kv[0])):
                # what the token may not audit, it does not see
                if "VM.Audit" in sim.auth.privs(req.who, "/vms/" + vmid):
                    out.append(_vm_resource(vmid, vm))
        if want in (None, "node"):
            for n in sim.cfg["nodes"]:
                out.append(dict(_node_entry(sim, n), id="node/" + n,
                                type="node"))
        if want in (None, "storage"):
            for n in sim.cfg["nodes"]:
                for s in sim.cfg["storages"]:
                    if not {"Datastore.Audit", "Datastore.AllocateSpace"} & \
                            sim.auth.privs(req.who, "/storage/" + s):
                        continue
                    st = storage_status(sim, n, s)
                    out.append({"id": "storage/%s/%s" % (n, s),
                                "type": "storage", "node": n, "storage": s,
                                "status": "available", "plugintype": st["type"],
                                "shared": st["shared"], "content": st["content"],
                                "maxdisk": st["total"], "disk": st["used"]})
    return out


def _node_entry(sim, n):
    spec = sim.cfg["nodes"][n]
    online = sim.node_online(n)
    return {"node": n, "status": "online" if online else "offline",
            "cpu": 0.02 if online else 0, "maxcpu": spec["cpus"],
            "mem": (2 << 30) if online else 0,
            "maxmem": spec["memory_gib"] << 30,
            "uptime": int(time.time() - sim.started) if online else 0,
            "level": "", "ssl_fingerprint": sim.certs[n]["fingerprint"]}


@route("GET", "/nodes")
def nodes(sim, req):
    return [_node_entry(sim, n) for n in sim.cfg["nodes"]]


@route("GET", "/nodes/{node}/status")
def node_status(sim, req):
    node_or_fail(sim, req["node"])
    spec = sim.cfg["nodes"][req["node"]]
    v = VERSIONS[sim.cfg["version"]][0]
    return {"cpu": 0.02, "uptime": int(time.time() - sim.started),
            "cpuinfo": {"cpus": spec["cpus"], "cores": spec["cpus"],
                        "sockets": 1, "model": "hl-sim virtual CPU",
                        "mhz": "2400.000"},
            "memory": {"total": spec["memory_gib"] << 30, "used": 2 << 30,
                       "free": (spec["memory_gib"] - 2) << 30},
            "rootfs": {"total": 100 << 30, "used": 10 << 30,
                       "free": 90 << 30, "avail": 90 << 30},
            "loadavg": ["0.02", "0.03", "0.00"],
            "pveversion": "pve-manager/%s/%s" % (v, VERSIONS[sim.cfg[
                "version"]][2]),
            "kernel-version": "Linux 6.8.12-hl-sim",
            "current-kernel": {"sysname": "Linux", "release": "6.8.12-hl-sim",
                               "machine": "x86_64"},
            "boot-info": {"mode": "efi", "secureboot": 0}}


@route("GET", "/nodes/{node}/network")
def network(sim, req):
    node_or_fail(sim, req["node"])
    node = req["node"]
    missing = set(sim.faults.get("bridges_missing"))
    out = []
    for br in sim.cfg["nodes"][node]["bridges"]:
        if "%s/%s" % (node, br) in missing:
            continue
        if req.get("type") not in (None, "bridge", "any_bridge"):
            continue
        out.append({"iface": br, "type": "bridge", "active": 1,
                    "autostart": 1, "method": "manual", "method6": "manual",
                    "families": ["inet"], "bridge_ports": "",
                    "bridge_stp": "off", "bridge_fd": "0",
                    "bridge_vlan_aware": 0 if br in sim.cfg["nodes"][node].get(
                        "vlan_unaware", []) else 1, "priority": 3})
    return out


# --- access ----------------------------------------------------------------

@route("POST", "/access/ticket")
def ticket(sim, req):
    user = req["username"]
    if "@" not in user:
        user = "%s@%s" % (user, req.get("realm") or "pam")
    # Renewal: the current ticket as the password (AccessControl.pm).
    who = sim.auth.from_ticket(req["password"]) if \
        req["password"].startswith("PVE:") else \
        sim.auth.login(user, req["password"])
    if who != user:
        raise ApiError(401, "authentication failure")
    out = {"username": user, "ticket": sim.auth.make_ticket(user),
           "CSRFPreventionToken": sim.auth.make_csrf(user),
           "cap": {"vms": {}, "storage": {}, "nodes": {}, "access": {},
                   "dc": {}, "sdn": {}, "mapping": {}}}
    if sim.cfg["cluster"] is not None:
        out["clustername"] = sim.cfg["cluster"]
    return out


@route("GET", "/access/permissions")
def permissions(sim, req):
    who = req.who
    if req.get("userid") and req["userid"] != who:
        # Another user's permissions need Sys.Audit on /access.
        if "Sys.Audit" not in sim.auth.privs(req.who, "/access"):
            raise ApiError(403, "Permission check failed (/access, "
                           "Sys.Audit)")
        who = req["userid"]
    return sim.auth.permissions(who, req.get("path"))


# --- tasks -------------------------------------------------------------------

def _task(sim, req):
    upid = req["upid"]
    fields = parse_upid(upid)
    if fields is None:
        raise param_error({"upid": "unable to parse worker upid '%s'" % upid})
    task = sim.tasks.get(upid)
    if task is None or fields["node"] != req["node"]:
        raise param_error({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}/status")
def task_status(sim, req):
    return _task(sim, req).status()


@route("GET", "/nodes/{node}/tasks/{upid}/log")
def task_log(sim, req):
    task = _task(sim, req)
    lines = list(task.lines) or ["no content"]
    start = req.get("start") or 0
    limit = req.get("limit")
    limit = 50 if limit is None else limit
    chosen = lines[start:start + limit] if limit else lines[start:]
    if not chosen:      # past the end: PVE's read_task_log says so
        return Envelope([{"n": len(lines) + 1, "t": "no content"}],
                        total=len(lines))
    return Envelope([{"n": start + i + 1, "t": t}
                     for i, t in enumerate(chosen)], total=len(lines))


@route("DELETE", "/nodes/{node}/tasks/{upid}")
def task_stop(sim, req):
    task = _task(sim, req)
    # Another user's task only with Sys.Modify on the node (Tasks.pm).
    if task.fields["user"] != req.who and "Sys.Modify" not in \
            sim.auth.privs(req.who, "/nodes/" + req["node"]):
        raise ApiError(403, "Permission check failed (/nodes/%s, Sys.Modify)"
                       % req["node"])
    task.cancel.set()
    return None


@route("GET", "/nodes/{node}/tasks")
def task_list(sim, req):
    node_or_fail(sim, req["node"])
    out = []
    # Others' tasks only with Sys.Audit on the node (Tasks.pm node_tasks).
    audit = "Sys.Audit" in sim.auth.privs(req.who, "/nodes/" + req["node"])
    for t in sim.tasks.list(req["node"]):
        if t.fields is None:
            continue
        if not audit and t.fields["user"] != req.who:
            continue
        s = t.status()
        if req.get("vmid") is not None and s["id"] != str(req["vmid"]):
            continue
        if req.get("source") == "active" and s["status"] != "running":
            continue
        if t.endtime:
            s["endtime"] = t.endtime
        s.pop("exitstatus", None)
        if t.exitstatus is not None:
            s["status"] = t.exitstatus
        out.append(s)
    out.sort(key=lambda s: s["starttime"], reverse=True)
    start = req.get("start") or 0
    limit = req.get("limit") or 50
    return Envelope(out[start:start + limit], total=len(out))
