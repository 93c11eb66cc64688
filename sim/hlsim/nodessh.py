"""Each node's SSH/SFTP, for what the PVE API cannot do (snippets).

One OpenSSH sshd per node on 127.0.0.1, with the node's own host key,
chrooted to the node's filesystem (its /var/lib/vz is the 'local'
storage, each dir storage at its path), SFTP only, root with the lab's key.  The host keys and ports go
to LAB/.hl/sim-nodes.env for lab.yaml to pin.
"""

import os
import signal
import subprocess
import sys
import time

from .api_storage import content_dir, node_root
from .files import kept_port, write_private

SSHD = "/usr/sbin/sshd"


def _dir(sim, node):
    return os.path.join(sim.state_dir, "nodes", node)


def host_key(sim, node):
    """The node's host key, made once: 'ssh-ed25519 AAAA...'."""
    key = os.path.join(_dir(sim, node), "ssh_host_ed25519_key")
    if not os.path.exists(key):
        os.makedirs(_dir(sim, node), mode=0o755, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        "root@" + node, "-f", key], check=True)
    with open(key + ".pub", encoding="ascii") as f:
        return " ".join(f.read().split()[:2])


def _stop_stale(pidfile, cfg):
    """An sshd a crashed simulator left behind (its own config): stop it."""
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except (OSError, ValueError):
        return
    if b"sshd" in cmd and cfg.encode() in cmd:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        # it must let go of its port before the new one binds it
        for _ in range(50):
            if not os.path.exists("/proc/%d/cmdline" % pid) or \
                    _zombie(pid):
                return
            time.sleep(0.05)


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def unsafe_component(path):
    """The first directory of path sshd's ChrootDirectory rule refuses (not
    root's, or writable by others), or None; what does not exist yet is
    made by the simulator, root's and private."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i]) or "/"
        try:
            st = os.stat(d)
        except FileNotFoundError:
            return None
        if st.st_uid != 0 or st.st_mode & 0o022:
            return d
    return None


def start(sim, lab, extra=None):
    """Start every node's sshd; write LAB/.hl/sim-nodes.env; the processes
    and each node's port.  extra: one more address to listen on (the
    machine's end of the guests' network), so guests reach their nodes.

    Returns [], {} (and writes nothing) when sshd is not installed.
    """
    if not os.path.exists(SSHD):
        print("hl-sim: no sshd (openssh-server): no node SSH", file=sys.stderr)
        return [], {}
    bad = unsafe_component(sim.state_dir)
    if bad:
        # sshd chroots only below root-owned directories nobody else
        # may write (sshd_config(5) ChrootDirectory)
        print("hl-sim: no node SSH: '%s' is writable by others or not "
              "root's, and sshd's chroot refuses that" % bad, file=sys.stderr)
        return [], {}
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    keys = os.path.join(sim.state_dir, "nodes", "authorized_keys")
    os.makedirs(os.path.dirname(keys), mode=0o755, exist_ok=True)
    wanted = list(sim.cfg.get("node_ssh_keys", []))
    labkey = os.path.join(lab, ".hl", "id_ed25519.pub")
    if os.path.exists(labkey):
        with open(labkey, encoding="ascii") as f:
            wanted.append(f.read().strip())
    with open(keys, "w", encoding="ascii") as f:
        f.write("".join(k + "\n" for k in wanted))
    os.chmod(keys, 0o600)
    procs, env, ports = [], [], {}
    for node in sim.cfg["nodes"]:
        d = _dir(sim, node)
        key = host_key(sim, node)
        root = node_root(sim, node)
        # every snippets directory of the node's own storages is there
        # before the first upload, as on a node whose storages are active
        for sid, st in sim.cfg["storages"].items():
            if st["type"] == "dir" and "snippets" in st["content"] and \
                    not st.get("shared") and \
                    node in st.get("nodes", sim.cfg["nodes"]):
                content_dir(sim, node, sid, "snippets")
        # sshd's chroot must be root-owned and not writable by others
        for p in (root, os.path.join(root, "var"), os.path.join(
                root, "var", "lib")):
            os.chmod(p, 0o755)
        port = ports[node] = kept_port(os.path.join(d, "port"))
        pidfile = os.path.join(d, "sshd.pid")
        cfg = os.path.join(d, "sshd_config")
        _stop_stale(pidfile, cfg)
        with open(cfg, "w", encoding="ascii") as f:
            if extra:
                f.write("ListenAddress %s\n" % extra)
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\n"
                    "PidFile %s\nAuthorizedKeysFile %s\n"
                    "PermitRootLogin prohibit-password\nAllowUsers root\n"
                    "PasswordAuthentication no\nStrictModes no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\n"
                    "ChrootDirectory %s\nForceCommand internal-sftp\n"
                    "Subsystem sftp internal-sftp\nAllowTcpForwarding no\n"
                    "X11Forwarding no\nPermitTunnel no\n"
                    % (port, os.path.join(d, "ssh_host_ed25519_key"),
                       pidfile, keys, root))
        log = open(os.path.join(d, "sshd.log"), "ab")
        procs.append(subprocess.Popen([SSHD, "-D", "-e", "-f", cfg],
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=log))
        up = node.upper().replace("-", "_")
        env += ["HL_SIM_%s_SSH_PORT=%d" % (up, port),
                "HL_SIM_%s_HOST_KEY='%s'" % (up, key)]
    write_private(os.path.join(lab, ".hl", "sim-nodes.env"),
                  "# written by hl-sim; its nodes' SSH\n" + "\n".join(env) +
                  "\n")
    return procs, ports


def stop_stale(state_dir):
    """Stop every node sshd of state_dir a crashed simulator left behind."""
    nodes = os.path.join(state_dir, "nodes")
    for node in os.listdir(nodes) if os.path.isdir(nodes) else []:
        d = os.path.join(nodes, node)
        _stop_stale(os.path.join(d, "sshd.pid"), os.path.join(d,
                                                              "sshd_config"))


def stop(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
