# hl-deploy's side on a host: run by `sudo python3 -c AGENT VERB` over ssh
# (lib/deploy/agent.c), never installed.  Its request is the first line of
# stdin (JSON); a release follows it as a tar stream.  Secrets come only in
# that stream (the release's .env): never in an argument.  It prints one
# JSON document.  Python 3's standard library and Docker only: the host
# has Python for Ansible (L3) and Docker from the docker role.
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

ROOT = "/opt/hl/stacks"
KEEP = 3


def run(argv, cwd=None, timeout=600):
    """argv's exit status and output; 127 when it is not installed (a
    host without Docker: no stacks there)."""
    try:
        p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except FileNotFoundError:
        return 127, "%s: not installed" % argv[0]
    return p.returncode, p.stdout.decode("utf-8", "replace")


def compose_cmd():
    """Compose v2 (docker compose) or v1 (docker-compose): their common
    subset only, since v1 takes unknown options with exit 0."""
    if run(["docker", "compose", "version"])[0] == 0:
        return ["docker", "compose"], "v2"
    if shutil.which("docker-compose"):
        return ["docker-compose"], "v1"
    return None, None


# Where the docker CLI looks for its plugins (docker compose is one).
PLUGIN_DIRS = ["/root/.docker/cli-plugins", "/usr/local/lib/docker/cli-plugins",
               "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"]


def compose_kind():
    """What compose_cmd() would choose, without running anything: the
    plugin docker compose would run, or docker-compose (plan's view)."""
    if any(os.access(os.path.join(d, "docker-compose"), os.X_OK)
           for d in PLUGIN_DIRS):
        return "v2"
    return "v1" if shutil.which("docker-compose") else None


DOCKER_SOCK = "/var/run/docker.sock"


def docker_get(path):
    """GET path of the Docker Engine API on its socket, as JSON: one
    request, no docker CLI to start (plan asks every host, in parallel)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(DOCKER_SOCK)
        s.sendall(("GET %s HTTP/1.0\r\nHost: docker\r\n\r\n" % path)
                  .encode())
        data = b""
        while True:
            got = s.recv(1 << 16)
            if not got:
                break
            data += got
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        raise OSError("the Docker API answered %s to %s" %
                      (head.split(b"\r\n", 1)[0].decode("ascii", "replace"),
                       path))
    return json.loads(body)


def health_of(status):
    """A container's health from the API's Status ("Up 2 minutes
    (healthy)"), as docker inspect's State.Health.Status; None without a
    healthcheck."""
    for word, health in (("(healthy)", "healthy"),
                         ("(unhealthy)", "unhealthy"),
                         ("(health: starting)", "starting")):
        if status.endswith(word):
            return health
    return None


def projects(name=None):
    """Every Compose project's containers (or name's only), by project:
    one request to the Docker API, whatever their number.  A host without
    Docker has none."""
    label = "com.docker.compose.project"
    filters = json.dumps({"label": [label + ("=" + name if name else "")]})
    if not os.path.exists(DOCKER_SOCK):
        return {}
    found = {}
    for c in docker_get("/containers/json?all=1&filters=" +
                        urllib.parse.quote(filters)):
        labels = c.get("Labels") or {}
        found.setdefault(labels.get(label), []).append({
            "id": c.get("Id", "")[:12],
            "service": labels.get("com.docker.compose.service"),
            "state": c.get("State"),
            "health": health_of(c.get("Status") or ""),
        })
    for conts in found.values():
        conts.sort(key=lambda c: (c["service"] or "", c["id"]))
    return found


def containers(name):
    return projects(name).get(name, [])


def http_status(port, path):
    """The status code of GET path on 127.0.0.1:port (HTTP/1.0, so the
    server closes; urllib would cost the plan of every host its import)."""
    with socket.create_connection(("127.0.0.1", port), 3) as s:
        s.settimeout(3)
        s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
                   "Connection: close\r\n\r\n" % (path, port)).encode())
        head = b""
        while b"\r\n" not in head and len(head) < 8192:
            got = s.recv(4096)
            if not got:
                break
            head += got
    line = head.split(b"\r\n", 1)[0].split()
    if len(line) < 2 or not line[0].startswith(b"HTTP/") or \
            not line[1].isdigit():
        raise OSError("no HTTP status line from port %d" % port)
    return int(line[1])


def probe(p, conts):
    """One declared probe: {service, http|tcp|command}; None when it
    passes, else why not."""
    try:
        if "http" in p:
            h = p["http"]
            url = "http://127.0.0.1:%d%s" % (h["port"], h.get("path", "/"))
            code = http_status(h["port"], h.get("path", "/"))
            if code != h.get("status", 200):
                return "%s answered %d, not %d" % (url, code,
                                                   h.get("status", 200))
        elif "tcp" in p:
            socket.create_connection(("127.0.0.1", p["tcp"]), 3).close()
        elif "command" in p:
            ids = [c["id"] for c in conts if c["service"] == p["service"]
                   and c["state"] == "running"]
            if not ids:
                return "no running container of %s" % p["service"]
            rc, out = run(["docker", "exec", ids[0]] + p["command"],
                          timeout=30)
            if rc != 0:
                return "%s exited %d" % (" ".join(p["command"]), rc)
    except Exception as e:  # a refused connection, a timeout
        return "%s: %s" % (p["service"], e)
    return None


def health(name, probes, conts=None):
    if conts is None:
        conts = containers(name)
    bad = []
    if not conts:
        bad.append("no container")
    for c in conts:
        if c["state"] != "running":
            bad.append("%s is %s" % (c["service"], c["state"]))
        elif c["health"] not in (None, "healthy"):
            bad.append("%s is %s" % (c["service"], c["health"]))
    if not bad:
        for p in probes:
            why = probe(p, conts)
            if why:
                bad.append(why)
    return conts, bad


def gate(name, probes, timeout):
    """Healthy within timeout: every container running, healthy where it
    has a healthcheck, every probe passing."""
    end = time.monotonic() + timeout
    while True:
        conts, bad = health(name, probes)
        if not bad or time.monotonic() >= end:
            return conts, bad
        time.sleep(1)


def logs(conts, bad_only=True):
    out = {}
    for c in conts:
        if bad_only and c["state"] == "running" and \
                c["health"] in (None, "healthy"):
            continue
        rc, text = run(["docker", "logs", "--tail", "50", c["id"]])
        out[c["service"] or c["id"]] = text.splitlines()[-50:]
    return out


def current(name):
    link = os.path.join(ROOT, name, "current")
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


def manifest(name, digest):
    try:
        with open(os.path.join(ROOT, name, "releases", digest,
                               ".hl-release.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def switch(name, digest):
    """current -> releases/DIGEST, in one rename."""
    d = os.path.join(ROOT, name)
    tmp = os.path.join(d, "current.new")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.join("releases", digest), tmp)
    os.rename(tmp, os.path.join(d, "current"))


def up(cmd, name, digest, compose, force=False):
    rel = os.path.join(ROOT, name, "releases", digest)
    return run(cmd + ["-p", name, "-f", compose, "up", "-d",
                      "--remove-orphans"] +
               (["--force-recreate"] if force else []), cwd=rel)


def prune_releases(name):
    d = os.path.join(ROOT, name, "releases")
    cur = current(name)
    rels = sorted((os.stat(os.path.join(d, r)).st_mtime, r)
                  for r in os.listdir(d) if not r.endswith(".tmp"))
    old = [r for _, r in rels if r != cur][:-(KEEP - 1) or None]
    for r in old:
        shutil.rmtree(os.path.join(d, r), ignore_errors=True)
    return old


def verb_state(req):
    names = set(req.get("stacks", {}))
    if os.path.isdir(ROOT):
        names |= set(n for n in os.listdir(ROOT)
                     if os.path.isdir(os.path.join(ROOT, n)))
    every = projects()
    out = {}
    for n in sorted(names):
        cur = current(n)
        conts, bad = health(n, req.get("stacks", {}).get(n, {})
                            .get("probes", []), every.get(n, []))
        out[n] = {"current": cur, "manifest": manifest(n, cur) if cur
                  else None, "containers": conts, "problems": bad,
                  "deployed": os.path.isdir(os.path.join(ROOT, n))}
    return {"compose": compose_kind(), "stacks": out}


def verb_deploy(req, stream):
    name, digest = req["name"], req["digest"]
    cmd, kind = compose_cmd()
    if cmd is None:
        return {"error": "neither docker compose nor docker-compose on "
                "the host (the docker role installs it)"}
    d = os.path.join(ROOT, name)
    rels = os.path.join(d, "releases")
    os.makedirs(rels, mode=0o700, exist_ok=True)
    os.chmod(ROOT, 0o700)
    rel = os.path.join(rels, digest)
    # a release of this digest is this release: one that is there (that
    # containers may have mounted) is kept as it is
    if not os.path.isfile(os.path.join(rel, ".hl-release.json")):
        tmp = rel + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(rel, ignore_errors=True)
        os.mkdir(tmp, 0o700)
        import tarfile  # deploy only: plan need not pay for it
        with tarfile.open(fileobj=stream, mode="r|") as t:
            for m in t:
                if m.name.startswith("/") or ".." in m.name.split("/") or \
                        not (m.isfile() or m.isdir()):
                    return {"error": "a release member that is not a "
                            "plain file: %s" % m.name}
                t.extract(m, tmp)
        os.chmod(os.path.join(tmp, ".env"), 0o600)
        os.rename(tmp, rel)
    os.utime(rel)
    previous = current(name)
    if previous == digest:
        previous = None
    switch(name, digest)
    t0 = time.monotonic()
    rc, text = up(cmd, name, digest, req["compose"], req.get("force"))
    conts, bad = gate(name, req.get("probes", []),
                      req.get("timeout", 60)) if rc == 0 else \
        (containers(name), ["compose up failed: " + text[-2000:]])
    res = {"compose": kind, "previous": previous, "containers": conts,
           "problems": bad, "healthy": not bad, "rolled_back": False,
           "gate_s": round(time.monotonic() - t0, 1)}
    if bad:
        res["logs"] = logs(conts, bad_only=False) if rc != 0 else \
            logs(conts)
        if previous and os.path.isdir(os.path.join(rels, previous)):
            prev = manifest(name, previous) or {}
            switch(name, previous)
            rc2, text2 = up(cmd, name, previous,
                            prev.get("compose", req["compose"]))
            c2, bad2 = gate(name, prev.get("probes", []),
                            prev.get("timeout", 60)) if rc2 == 0 else \
                (containers(name), ["compose up failed: " + text2[-2000:]])
            res.update(rolled_back=True, rollback_healthy=not bad2,
                       rollback_problems=bad2, containers=c2)
        else:
            res.update(rolled_back=False, rollback_healthy=None)
        return res
    with open(os.path.join(d, "deployed.json.tmp"), "w") as f:
        json.dump({"digest": digest, "commit": req.get("commit"),
                   "dirty": req.get("dirty", False)}, f)
    os.rename(os.path.join(d, "deployed.json.tmp"),
              os.path.join(d, "deployed.json"))
    res["removed_releases"] = prune_releases(name)
    return res


def verb_prune(req):
    name = req["name"]
    d = os.path.join(ROOT, name)
    cur = current(name)
    cmd, kind = compose_cmd()
    if cmd and cur:
        m = manifest(name, cur) or {}
        rc, text = run(cmd + ["-p", name, "-f", m.get("compose",
                                                       "compose.yaml"),
                              "down", "--remove-orphans"],
                       cwd=os.path.join(d, "releases", cur))
        if rc != 0:
            return {"error": "compose down failed: " + text[-2000:]}
    # the releases only: volumes and data paths stay
    shutil.rmtree(d, ignore_errors=True)
    return {"pruned": name}


def main():
    stream = sys.stdin.buffer
    line = stream.readline()
    req = json.loads(line) if line.strip() else {}
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if verb == "state":
        res = verb_state(req)
    elif verb == "deploy":
        res = verb_deploy(req, stream)
    elif verb == "prune":
        res = verb_prune(req)
    else:
        res = {"error": "unknown verb %r" % verb}
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


main()
