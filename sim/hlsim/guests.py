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
when ipconfigN asks for one), then PID 1 (init.sh) in new mount, UTS, PID,
IPC and time namespaces, chrooted to the overlay.  Stop kills PID 1 (its
namespace goes with it); shutdown lets init.sh run the init scripts down
first.  The agent socket is the guest's own /run/qemu-ga.sock, reached
through /proc/<pid1>/root: it is there only while the guest runs
qemu-guest-agent.
"""

import os
import shutil
import signal
import subprocess
import time
import uuid

from . import cloudinit, vmconfig
from .errors import TaskError
from .guestnet import NetError, kill_namespace

INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.sh")
INIT_MARK = b"# hl-sim guest init"
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


def _install(root, rel, text):
    """Put one of the init system's files in the guest, unless the guest
    has its own there."""
    path = os.path.join(root, rel)
    if os.path.lexists(path):
        with open(path, "rb") as f:
            if INIT_MARK not in f.read(200):
                raise ValueError("the guest has its own /%s" % rel)
    with open(path + ".new", "wb") as f:
        f.write(b"#!/bin/sh\n" + text if not text.startswith(b"#!") else
                text)
    os.chmod(path + ".new", 0o755)
    os.replace(path + ".new", path)


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

    def stale(self):
        stale(self.sim.state_dir)

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
        for d in vol["layers"]:
            if not os.path.isdir(d):
                raise TaskError("disk layer '%s' is missing (image rebuilt "
                                "or removed?)" % d)
        opts = "lowerdir=%s,upperdir=%s,workdir=%s" % (
            ":".join(vol["layers"]), os.path.join(vol["data"], "upper"),
            os.path.join(vol["data"], "work"))
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts,
                            root], capture_output=True, text=True)
        if r.returncode:
            raise TaskError("mounting the guest's root failed: %s"
                            % r.stderr.strip())
        try:
            self._prepare(node, vmid, conf, root)
            nics = self._nics(conf)
            ns = self.net.plug(vmid, nics)
            proc = self._launch(ns, root, gdir)
        except (NetError, OSError, ValueError) as e:
            self.net.unplug(vmid)
            _umount(root)
            raise TaskError("start failed: %s" % e)
        except BaseException:
            self.net.unplug(vmid)
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
        # the init system: init.sh as /sbin/init, and the runlevel it
        # runs (invoke-rc.d starts a package's service only when both
        # are there, as under systemd)
        with open(INIT, "rb") as f:
            _install(root, "sbin/init", f.read())
        _install(root, "sbin/runlevel", INIT_MARK + b"\necho N 2\n")

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

    def _launch(self, ns, root, gdir):
        with open("/proc/uptime") as f:
            up = int(float(f.read().split()[0]))
        log = open(os.path.join(gdir, "console.log"), "ab")
        argv = ["ip", "netns", "exec", ns, "unshare", "--mount", "--uts",
                "--pid", "--ipc", "--fork", "--kill-child",
                "--propagation", "private"]
        if _has_time_ns():
            argv += ["--time", "--boottime", "-%d" % up, "--monotonic",
                     "-%d" % up]
        argv += ["chroot", root, "/sbin/init"]
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)

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
        _umount(g.root)
        return True

    def forget(self, vmid):
        """A destroyed VM: its guest directory (mount point, console) goes."""
        d = os.path.join(self.dir, str(vmid))
        _umount(os.path.join(d, "root"))
        shutil.rmtree(d, ignore_errors=True)

    def stop_all(self):
        for vmid in list(self.running):
            self.stop(vmid)


def stale(state_dir):
    """Unmount what a crashed simulator's guests left mounted (their
    processes went with their namespaces: guestnet.stale)."""
    d = os.path.join(state_dir, "guests")
    for vmid in os.listdir(d) if os.path.isdir(d) else []:
        _umount(os.path.join(d, vmid, "root"))


_time_ns = None


def _has_time_ns():
    global _time_ns
    if _time_ns is None:
        _time_ns = os.path.exists("/proc/self/ns/time")
    return _time_ns
