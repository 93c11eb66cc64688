"""The guest agent endpoints, answered by the guest's own qemu-ga.

qemu-server src/PVE/API2/Qemu/Agent.pm and src/PVE/QemuServer/Agent.pm:
assert_agent_available ("No QEMU guest agent configured", "VM N is not
running", "QEMU guest agent is not running"), {result => ...} for the
plain commands, file-read through guest-file-open/read/close, exec and
exec-status with their base64 decoded.  The guest's qemu-ga listens on
/run/qemu-ga.sock inside the guest (its TRANSPORT); the simulator talks
QGA JSON to it through /proc/<pid1>/root.
"""

import base64
import json
import socket
import threading
import time

from . import vmconfig
from .errors import fail
from .routes import route

MAX_READ = 16 * 1024 * 1024
_locks = {}
_locks_lock = threading.Lock()


class AgentError(Exception):
    pass


def _lock(vmid):
    with _locks_lock:
        return _locks.setdefault(str(vmid), threading.Lock())


def qga(path, command, args=None, timeout=10):
    """One QGA command over the socket; its "return" value."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        f = s.makefile("rwb")
        sync = {"execute": "guest-sync", "arguments": {"id": 4242}}
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        f.write(json.dumps(sync).encode() + b"\n" + json.dumps(msg).encode()
                + b"\n")
        f.flush()
        got = []
        while len(got) < 2:
            line = f.readline()
            if not line:
                raise AgentError("agent closed the connection")
            line = line.strip().lstrip(b"\xff")
            if line:
                got.append(json.loads(line))
    finally:
        s.close()
    reply = got[1]
    if "error" in reply:
        raise AgentError(reply["error"].get("desc", "unknown error"))
    return reply.get("return")


def enabled(conf):
    a = str(conf.get("agent", "0"))
    return vmconfig.parse_props(a, "enabled").get("enabled", "0") in (
        "1", "on", "yes")


def _available(sim, req):
    """assert_agent_available; the socket of the running agent."""
    from .api_qemu import vm_or_fail
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        if vm["config"].get("agent") is None:
            raise fail("No QEMU guest agent configured")
        if vm["status"] != "running":
            raise fail("VM %s is not running" % req["vmid"])
        # agent disabled: the VM has no agent channel, nothing can answer
        channel = enabled(vm["config"])
        late = (sim.faults.get("agent_late_ms") or 0) / 1000.0
        if late and time.time() - vm.get("started", 0) < late:
            raise fail("QEMU guest agent is not running")
    g = sim.guests.get(req["vmid"]) if sim.guests and channel else None
    path = g.agent_socket() if g else None
    if path:
        try:
            with _lock(req["vmid"]):
                qga(path, "guest-ping", timeout=3)
            return path
        except (OSError, ValueError, AgentError):
            pass
    raise fail("QEMU guest agent is not running")


def _cmd(path, vmid, command, args=None, what=None):
    with _lock(vmid):
        try:
            return qga(path, command, args)
        except AgentError as e:
            raise fail("Agent error: %s" % e)
        except (OSError, ValueError) as e:
            raise fail("VM %s qmp command '%s' failed - %s"
                       % (vmid, command, what or e))


def _plain(command):
    def handler(sim, req):
        path = _available(sim, req)
        return {"result": _cmd(path, req["vmid"], "guest-" + command)}
    return handler


for _method, _name in (("POST", "ping"), ("GET", "network-get-interfaces"),
                       ("GET", "get-osinfo")):
    route(_method, "/nodes/{node}/qemu/{vmid}/agent/" + _name)(_plain(_name))


@route("GET", "/nodes/{node}/qemu/{vmid}/agent/file-read")
def file_read(sim, req):
    path = _available(sim, req)
    vmid = req["vmid"]
    count = req.get("count")
    limit = MAX_READ if count is None else int(count)
    h = _cmd(path, vmid, "guest-file-open", {"path": req["file"]})
    data, eof = b"", False
    try:
        if int(req.get("offset") or 0):
            _cmd(path, vmid, "guest-file-seek", {
                "handle": h, "offset": int(req["offset"]), "whence": "set"})
        while len(data) < limit and not eof:
            r = _cmd(path, vmid, "guest-file-read",
                     {"handle": h, "count": min(1 << 20, limit - len(data))})
            data += base64.b64decode(r.get("buf-b64", ""))
            eof = bool(r.get("eof"))
    finally:
        try:
            _cmd(path, vmid, "guest-file-close", {"handle": h})
        except Exception:       # noqa: BLE001 (PVE only warns)
            pass
    decode = req.get("decode")
    text = data.decode("utf-8", "replace") if decode is None or int(decode) \
        else base64.b64encode(data).decode()
    out = {"content": text,
           "bytes-read": len(data)}
    if not eof:
        out["truncated"] = 1
    return out


@route("POST", "/nodes/{node}/qemu/{vmid}/agent/exec")
def exec_(sim, req):
    path = _available(sim, req)
    cmd = req.get("command")
    cmd = [cmd] if isinstance(cmd, str) else list(cmd or [])
    args = {"capture-output": True}
    if cmd:
        args["path"], args["arg"] = cmd[0], cmd[1:]
    if req.get("input-data") is not None:
        args["input-data"] = base64.b64encode(
            req["input-data"].encode()).decode()
    if "path" not in args and "input-data" not in args:
        raise fail("command or input-data (or both) required")
    return _cmd(path, req["vmid"], "guest-exec", args)


@route("GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status")
def exec_status(sim, req):
    path = _available(sim, req)
    res = _cmd(path, req["vmid"], "guest-exec-status",
               {"pid": int(req["pid"])})
    for k in ("out-data", "err-data"):
        if res.get(k):
            res[k] = base64.b64decode(res[k]).decode("utf-8", "replace")
    return {k: (int(v) if isinstance(v, bool) else v) for k, v in res.items()}
