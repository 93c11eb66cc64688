"""Real guests: a started VM is a network namespace, an overlay root and
a PID 1 that boots the image with its own cloud-init (DESIGN.md 3,
shared/sim-guests.md).

Disks.  A volume imported from an image the simulator built carries
"layers": the read-only trees below it, topmost first (the image's rootfs
at the bottom), and "data": its own directory, whose upper/ holds what the
guest wrote.  A full clone copies upper/ (small: what changed), a linked
clone stacks its base's upper/ under a new one; the image itself is never
copied.  A VM whose boot disk has no layers (a blank disk, a seeded VM)
runs as power state only, like a VM with nothing to boot.

Start (qemu-server's vm_start, as far as a guest sees it): mount the
overlay, write the NoCloud seed PVE would put on the cloud-init drive, the
network (one ethN per netN with netN's MAC, on its bridge; a DHCP lease
when ipconfigN asks for one), then PID 1 (init.sh, from the guest's
machine layer: _layer) through launch.sh, in its own cgroups and new
mount, UTS, PID, IPC, cgroup and time namespaces, pivoted to the overlay.
Stop kills PID 1 (its namespace goes with it) and whatever is left in the
guest's cgroups (_sweep); shutdown lets init.sh run the init scripts down
first.  The agent socket is the guest's own /run/qemu-ga.sock, reached
through /proc/<pid1>/root: it is there only while the guest runs
qemu-guest-agent.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid

from . import cloudinit, vmconfig
from .errors import TaskError
from .guestnet import NetError, kill_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
INIT = os.path.join(HERE, "init.sh")
LAUNCH = os.path.join(HERE, "launch.sh")

# An init script asking for more than the machine allows (Debian's docker:
# "ulimit -n 1048576", without CAP_SYS_RESOURCE here) gets the machine's
# most, as it would get its VM's: sourced by every init script through
# /lib/lsb/init-functions' hooks.
ULIMIT_HOOK = b"""# hl-sim: the machine's limits (sim/hlsim/guests.py)
ulimit() {
	command ulimit "$@" 2>/dev/null && return 0
	if [ $# = 2 ]; then
		command ulimit "$1" "$(command ulimit -H "$1")"
	else
		command ulimit "$@"
	fi
}
"""
DISK_RE_ORDER = ("scsi", "virtio", "sata", "ide")


def data_dir(sim, where, volname):
    """A new volume's own directory (upper/ and work/ of its overlay)."""
    return os.path.join(sim.state_dir, "disks", where,
                        volname.replace("/", "_"))


def new_layers(sim, where, volname, vol, base, linked=False):
    """Give vol (a new volume) a tree on top of base (a volume record with
    layers): a linked clone stacks base's upper/ below its own, anything
    else (full clone, import of a VM disk) starts from a copy of it."""
    if not base or not base.get("layers"):
        return
    d = data_dir(sim, where, volname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "work"))
    upper = os.path.join(base["data"], "upper")
    if linked:
        vol["layers"] = [upper] + base["layers"]
        os.makedirs(os.path.join(d, "upper"))
    else:
        vol["layers"] = list(base["layers"])
        if os.path.isdir(upper):
            subprocess.run(["cp", "-a", "--reflink=auto", upper,
                            os.path.join(d, "upper")], check=True)
        else:
            os.makedirs(os.path.join(d, "upper"))
    # /var/lib/docker is not an overlay: a clone gets a copy of it
    docker = os.path.join(base["data"], "docker")
    if os.path.isdir(docker):
        subprocess.run(["cp", "-a", "--reflink=auto", docker,
                        os.path.join(d, "docker")], check=True)
    vol["data"] = d


def image_layers(sim, where, volname, vol, rootfs):
    """A volume imported from a built image: the image's rootfs below."""
    d = data_dir(sim, where, volname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "upper"))
    os.makedirs(os.path.join(d, "work"))
    vol["layers"] = [rootfs]
    vol["data"] = d


def drop_layers(vol):
    if vol and vol.get("data"):
        shutil.rmtree(vol["data"], ignore_errors=True)


def _layer(d):
    """The guest's machine layer, made again at each start: a read-only
    tree the simulator lays between the guest's disk and the image, for
    what the machine provides and no package owns: the simulator's init
    (started whatever /sbin/init is); /sbin/init, for invoke-rc.d, and
    runlevel(8) for an image without them (a package's own, systemd's,
    shadows them; its runlevel reads the same utmp); the init scripts'
    ulimit hook, the /var/lib/docker mount point.  The
    guest's own files (its overlay's upper dir) cover it; nothing of it is
    ever written to the guest's disk."""
    shutil.rmtree(d, ignore_errors=True)
    files = {"usr/lib/hl-sim/init": (open(INIT, "rb").read(), 0o755),
             "usr/sbin/runlevel": (b"#!/bin/sh\n# hl-sim guest runlevel\n"
                                   b"echo N 2\n", 0o755),
             "usr/lib/lsb/init-functions.d/01-hl-sim": (ULIMIT_HOOK, 0o644)}
    for rel, (text, mode) in files.items():
        path = os.path.join(d, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "wb") as f:
            f.write(text)
        os.chmod(path, mode)
    # invoke-rc.d starts nothing without a /sbin/init
    os.symlink("../lib/hl-sim/init", os.path.join(d, "usr", "sbin", "init"))
    os.makedirs(os.path.join(d, "var", "lib", "docker"), mode=0o755)
    os.chmod(os.path.join(d, "var", "lib", "docker"), 0o711)
    for root, dirs, _ in os.walk(d):
        for x in dirs:
            if x != "docker":
                os.chmod(os.path.join(root, x), 0o755)
    os.chmod(d, 0o755)


# --- cgroups ----------------------------------------------------------------
#
# Each guest gets a cgroup of its own in every hierarchy the machine mounts
# (below the simulator's own: hl-sim-<tag>/<vmid>), and a cgroup namespace
# rooted there: its dockerd's containers land in <vmid>/docker/<id>.
# Their paths are kept in the guest's directory, so a stop, a destroy or
# the next start after a crash finds and removes them all (_sweep).

def _hierarchies():
    """[(mountpoint, type, options)] of the machine's cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, tail = pre.split(), post.split()
            if len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
                continue
            opts = [o for o in tail[2].split(",") if o not in ("rw", "ro")]
            out.append((fields[4], tail[0], opts))
    return out


def _own_cgroup(kind, opts):
    """This process's cgroup path in the hierarchy of kind with opts."""
    want = set(o for o in opts if not o.startswith(("name=", "xattr",
                                                     "release_agent",
                                                     "clone_children",
                                                     "nsdelegate",
                                                     "memory_", "noprefix",
                                                     "cpuset_")))
    name = next((o for o in opts if o.startswith("name=")), None)
    with open("/proc/self/cgroup") as f:
        for line in f:
            num, ctrls, path = line.rstrip("\n").split(":", 2)
            if kind == "cgroup2":
                if num == "0" and ctrls == "":
                    return path
                continue
            have = set(ctrls.split(",")) if ctrls else set()
            if name and name in have:
                return path
            if not name and want and have == want:
                return path
    return "/"


def _cgroup_plan(tag, vmid):
    """[(dir, mount spec for launch.sh)] of the guest's cgroups."""
    plan = []
    for mnt, kind, opts in _hierarchies():
        if not mnt.startswith("/sys/fs/cgroup/"):
            continue
        own = _own_cgroup(kind, opts).strip("/")
        d = os.path.join(mnt, own, "hl-sim-" + tag, str(vmid))
        if kind == "cgroup2":
            mopts = "rw"
        else:
            keep = [o for o in opts if o != "relatime"]
            if not any(not o.startswith("name=") and "=" not in o and
                       o not in ("xattr", "clone_children", "noprefix")
                       for o in keep):
                keep = ["none"] + keep
            mopts = ",".join(keep)
        plan.append((d, "%s:%s:%s" % (os.path.basename(mnt), kind, mopts)))
    return plan


# VMs start in threads of their own: two starts making the simulator's
# cgroup at once must not both mkdir it, nor one use it before the other
# has given it its cpuset
_cgroup_lock = threading.Lock()


def _make_cgroup(d):
    """mkdir -p, each new cpuset given its parent's cpus and mems."""
    with _cgroup_lock:
        _make_cgroup_locked(d)


def _make_cgroup_locked(d):
    parent = os.path.dirname(d)
    if not os.path.isdir(parent):
        _make_cgroup_locked(parent)
    if os.path.isdir(d):
        return
    os.mkdir(d)
    for f in ("cpuset.cpus", "cpuset.mems"):
        src = os.path.join(parent, f)
        if os.path.exists(src):
            with open(src) as i:
                v = i.read().strip()
            with open(os.path.join(d, f), "w") as o:
                o.write(v)


def _cgroup_procs(d):
    pids = []
    for root, _, files in os.walk(d):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    pids += [int(p) for p in f.read().split()]
            except (OSError, ValueError):
                pass
    return pids


def _sweep(dirs, timeout=15):
    """Kill every process left in the guest's cgroups, then remove them
    (deepest first) and their simulator's parent when it is empty."""
    deadline = time.time() + timeout
    dirs = [d for d in dirs if os.path.isdir(d)]
    while dirs and time.time() < deadline:
        for d in dirs:
            for p in _cgroup_procs(d):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        left = []
        for d in dirs:
            for root, subs, _ in os.walk(d, topdown=False):
                try:
                    os.rmdir(root)
                except OSError:
                    pass
            if os.path.isdir(d):
                left.append(d)
            else:
                try:
                    os.rmdir(os.path.dirname(d))
                except OSError:
                    pass
        dirs = left
        if dirs:
            time.sleep(0.1)
    return dirs


def sweep_tag(tag):
    """Every cgroup of the simulator with network tag, wherever it was
    made (its records may be gone with its state directory)."""
    dirs = []
    for mnt, _, _ in _hierarchies():
        if not mnt.startswith("/sys/fs/cgroup/"):
            continue
        for root, subs, _ in os.walk(mnt):
            if "hl-sim-" + tag in subs:
                dirs += [os.path.join(root, "hl-sim-" + tag, v) for v in
                         os.listdir(os.path.join(root, "hl-sim-" + tag))
                         if os.path.isdir(os.path.join(root, "hl-sim-" +
                                                       tag, v))]
                try:
                    os.rmdir(os.path.join(root, "hl-sim-" + tag))
                except OSError:
                    pass
            subs[:] = [x for x in subs if not x.startswith("hl-sim-")]
    _sweep(dirs)


def _sweep_recorded(gdir):
    path = os.path.join(gdir, "cgroups")
    try:
        with open(path) as f:
            dirs = f.read().split("\n")
    except OSError:
        return
    if not _sweep([d for d in dirs if d]):
        os.unlink(path)


def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _umount(path):
    for _ in range(20):
        if not _mounted(path):
            return
        subprocess.run(["umount", "-l", path], capture_output=True)
        time.sleep(0.05)


class Guest:
    def __init__(self, vmid, proc, ns, root):
        self.vmid = vmid
        self.proc = proc            # unshare, PID 1's parent
        self.ns = ns
        self.root = root

    def pid1(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid,
                                                     self.proc.pid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except OSError:
            return None

    def alive(self):
        return self.proc.poll() is None

    def agent_socket(self):
        p = self.pid1()
        return "/proc/%d/root/run/qemu-ga.sock" % p if p else None


class Guests:
    def __init__(self, sim, net):
        self.sim = sim
        self.net = net
        self.dir = os.path.join(sim.state_dir, "guests")
        self.running = {}
        # VMs start in threads of their own: the DNS names are read and
        # written by one at a time, so the last file written is the newest
        self.dns_lock = threading.Lock()

    def stale(self):
        stale(self.sim.state_dir)

    def update_dns(self):
        """The lab's hosts in the gateway's DNS: each VM's name (and its
        FQDN, as cloud-init sets it) at its ipconfigN address or DHCP
        lease, whether it runs or not."""
        with self.dns_lock:
            self._update_dns()

    def _update_dns(self):
        st = self.sim.state
        entries = []
        with st.lock:
            leases = dict(st.data.get("leases", {}))
            for vmid, vm in sorted(st.vms.items()):
                conf = vm.get("config", {})
                if int(conf.get("template", 0)) or not conf.get("name"):
                    continue
                host, fqdn = cloudinit.hostname_fqdn(conf, vmid)
                names = [fqdn, host] if fqdn != host else [host]
                for key in sorted(k for k in conf if vmconfig.NET_RE.match(k)):
                    ipc = vmconfig.parse_props(
                        str(conf.get("ipconfig" + key[3:], "")), "ip")
                    net = vmconfig.parse_props(str(conf[key]), "model")
                    mac = next((net[m] for m in vmconfig.MODELS
                                if net.get(m)), net.get("macaddr", ""))
                    addr = ipc.get("ip", "")
                    if addr == "dhcp":
                        addr = leases.get(mac.lower(), "")
                    if "/" in addr:
                        entries.append((addr.split("/")[0], names))
                        names = []      # the name at the first address
        self.net.hosts(entries)

    def boot_volume(self, node, conf):
        """The record of the disk the VM boots from, when it has layers."""
        from .api_storage import volume
        order = []
        boot = vmconfig.parse_props(str(conf.get("boot", "")), "legacy")
        if boot.get("order"):
            order = [k for k in boot["order"].split(";") if k in conf]
        order += sorted((k for k in conf if vmconfig.is_drive(k)),
                        key=lambda k: (DISK_RE_ORDER.index(k.rstrip(
                            "0123456789")) if k.rstrip("0123456789") in
                            DISK_RE_ORDER else 9, k))
        for k in order:
            props = vmconfig.parse_props(str(conf[k]), "file")
            if props.get("media") == "cdrom":
                continue
            vol = volume(self.sim, node, props.get("file", ""))
            if vol and vol.get("layers"):
                return vol
        return None

    def start(self, node, vmid, conf, task):
        """Boot the VM's guest; False when it has nothing to boot."""
        vol = self.boot_volume(node, conf)
        if vol is None or self.net is None:
            return False
        vmid = str(vmid)
        gdir = os.path.join(self.dir, vmid)
        root = os.path.join(gdir, "root")
        os.makedirs(root, exist_ok=True)
        _umount(root)
        _sweep_recorded(gdir)
        for d in vol["layers"]:
            if not os.path.isdir(d):
                raise TaskError("disk layer '%s' is missing (image rebuilt "
                                "or removed?)" % d)
        layer = os.path.join(gdir, "layer")
        _layer(layer)
        # the guest's /var/lib/docker: on the machine's disk, beside its
        # overlay's upper dir (destroy removes both)
        docker = os.path.join(vol["data"], "docker")
        os.makedirs(docker, mode=0o711, exist_ok=True)
        opts = "lowerdir=%s,upperdir=%s,workdir=%s" % (
            ":".join([layer] + vol["layers"]),
            os.path.join(vol["data"], "upper"),
            os.path.join(vol["data"], "work"))
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts,
                            root], capture_output=True, text=True)
        if r.returncode:
            raise TaskError("mounting the guest's root failed: %s"
                            % r.stderr.strip())
        try:
            self._prepare(node, vmid, conf, root)
            nics = self._nics(conf)
            self.update_dns()
            ns = self.net.plug(vmid, nics)
            proc = self._launch(ns, root, gdir, docker, vmid)
        except (NetError, OSError, ValueError) as e:
            self.net.unplug(vmid)
            _sweep_recorded(gdir)
            _umount(root)
            raise TaskError("start failed: %s" % e)
        except BaseException:
            self.net.unplug(vmid)
            _sweep_recorded(gdir)
            _umount(root)
            raise
        self.running[vmid] = Guest(vmid, proc, ns, root)
        task.log("guest %s booting (netns %s)" % (vmid, ns))
        return True

    def _prepare(self, node, vmid, conf, root):
        # the cloud-init drive, regenerated at each start as PVE does
        seed = os.path.join(root, "var", "lib", "cloud", "seed", "nocloud")
        os.makedirs(seed, exist_ok=True)
        for name, text in cloudinit.nocloud(self.sim, node, vmid,
                                            conf).items():
            with open(os.path.join(seed, name), "w", encoding="utf-8") as f:
                f.write(text)
        # what systemd would do: resolv.conf (no resolvconf in the image),
        # a machine-id from the VM's uuid when the image has none
        search, servers = cloudinit.dns(conf)
        with open(os.path.join(root, "etc", "resolv.conf"), "w") as f:
            f.write("".join("nameserver %s\n" % s for s in servers) +
                    ("search %s\n" % " ".join(search) if search else ""))
        mid = os.path.join(root, "etc", "machine-id")
        if not os.path.exists(mid) or os.path.getsize(mid) == 0:
            smb = vmconfig.parse_props(str(conf.get("smbios1", "")), "uuid")
            with open(mid, "w") as f:
                f.write(uuid.UUID(smb.get("uuid") or str(uuid.uuid4()))
                        .hex + "\n")

    def _nics(self, conf):
        out = []
        for key in sorted(k for k in conf if vmconfig.NET_RE.match(k)):
            n = key[3:]
            net = vmconfig.parse_props(str(conf[key]), "model")
            mac = next((net[m] for m in vmconfig.MODELS if net.get(m)),
                       net.get("macaddr", "")).lower()
            bridge = net.get("bridge")
            if not bridge:
                continue
            ipc = vmconfig.parse_props(str(conf.get("ipconfig" + n, "")),
                                       "ip")
            addr = None
            if ipc.get("ip") == "dhcp":
                addr = self.net.lease(bridge, mac)
                # a DHCP server hands it out to the guest's own client;
                # without one the simulator sets it, as a client would
                if self.net.dhcp_served(bridge):
                    addr = None
            out.append((n, mac, bridge, addr))
        return out

    def _launch(self, ns, root, gdir, docker, vmid):
        """PID 1 through launch.sh: the guest's cgroups (recorded first,
        so that whatever happens next they are found), its namespaces, the
        machine's mounts (launch.sh says which), then its init."""
        with open("/proc/uptime") as f:
            up = int(float(f.read().split()[0]))
        plan = _cgroup_plan(self.net.tag, vmid)
        with open(os.path.join(gdir, "cgroups"), "w") as f:
            f.write("".join(d + "\n" for d, _ in plan))
        for d, _ in plan:
            _make_cgroup(d)
        # /proc/cgroups as the guest sees it: only the controllers the
        # machine mounts are enabled
        mounted = set()
        for _, kind, opts in _hierarchies():
            mounted.update(opts)
        with open("/proc/cgroups") as f:
            rows = f.read().splitlines()
        out = [rows[0]] + ["\t".join(c[:3] + ["1" if c[0] in mounted else
                                              "0"])
                           for c in (r.split() for r in rows[1:]) if c]
        cgroups = os.path.join(gdir, "proc-cgroups")
        with open(cgroups, "w") as f:
            f.write("\n".join(out) + "\n")
        log = open(os.path.join(gdir, "console.log"), "ab")
        argv = ["/bin/sh", LAUNCH, "outer", "nsenter",
                "--net=/run/netns/" + ns, "unshare", "--mount", "--uts",
                "--pid", "--ipc", "--cgroup", "--fork", "--kill-child",
                "--propagation", "private"]
        if _has_time_ns():
            argv += ["--time", "--boottime", "-%d" % up, "--monotonic",
                     "-%d" % up]
        argv += ["/bin/sh", LAUNCH, "inner", root, docker, cgroups]
        argv += [spec for _, spec in plan]
        # a VM's init starts with an environment of its own, nothing of
        # the simulator's (a TMPDIR of the machine's broke runc's exec)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/",
               "HL_SIM_CGROUP_PROCS": " ".join(
                   os.path.join(d, "cgroup.procs") for d, _ in plan)}
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True, env=env)

    def get(self, vmid):
        g = self.running.get(str(vmid))
        return g if g and g.alive() else None

    def stop(self, vmid, graceful=False, timeout=30, force=True):
        """Power off: graceful runs the init scripts down first.  A
        graceful stop that outlasts timeout kills the guest when force,
        else leaves it running and returns False (qemu-server's vm_stop
        without forceStop: "got timeout")."""
        g = self.running.pop(str(vmid), None)
        if g is None:
            return True
        p1 = g.pid1()
        if graceful and p1:
            try:
                os.kill(p1, signal.SIGTERM)
                g.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if graceful and not force and g.alive():
            self.running[str(vmid)] = g
            return False
        if g.alive():
            p1 = g.pid1()
            try:
                os.kill(p1 or g.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                g.proc.wait(10)
            except subprocess.TimeoutExpired:
                g.proc.kill()
                g.proc.wait()
        kill_namespace(g.ns)
        _sweep_recorded(os.path.dirname(g.root))
        _umount(g.root)
        return True

    def forget(self, vmid):
        """A destroyed VM: its guest directory (mount point, console) goes.
        The end of its console stays beside it as VMID.console.last, for
        whoever asks why a VM that was removed never came up."""
        d = os.path.join(self.dir, str(vmid))
        _sweep_recorded(d)
        _umount(os.path.join(d, "root"))
        try:
            with open(os.path.join(d, "console.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 65536))
                tail = f.read()
            with open(d + ".console.last", "wb") as f:
                f.write(tail)
        except OSError:
            pass
        shutil.rmtree(d, ignore_errors=True)
        self.update_dns()

    def stop_all(self):
        for vmid in list(self.running):
            self.stop(vmid)


def stale(state_dir):
    """What a crashed simulator's guests left: every process still in
    their cgroups (their namespaces went with guestnet.stale, or go now),
    the cgroups, their mounts."""
    d = os.path.join(state_dir, "guests")
    for vmid in os.listdir(d) if os.path.isdir(d) else []:
        _sweep_recorded(os.path.join(d, vmid))
        _umount(os.path.join(d, vmid, "root"))
    from .guestnet import tag
    sweep_tag(tag(state_dir))


_time_ns = None


def _has_time_ns():
    global _time_ns
    if _time_ns is None:
        _time_ns = os.path.exists("/proc/self/ns/time")
    return _time_ns
