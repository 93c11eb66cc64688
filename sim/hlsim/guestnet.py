"""The guests' network: one network namespace behind one veth (DESIGN.md 3).

Inside the simulator's namespace ("hls-<tag>"), each bridge name of the
cluster (vmbr0, ...) is one Linux bridge: one L2 segment that every sim
node's guests share, like a LAN.  A bridge with an entry in the config's
"networks" carries that subnet's gateway address, and the nodes' addresses
after it (pve1 = gateway + 1, ...).  The namespace has no default route: it
reaches the machine only through its veth ("uplink"), and its nftables
rules let only the simulator's services through, each at an address on the
guests' side:

The machine reaches the guests (ssh, Ansible) by a route to each subnet
through the veth; nothing else of the machine changes.

  gateway:80      the image mirror
  gateway:3142    the apt proxy (Debian's apt-cacher-ng, on the machine)
  gateway:5000    the Docker Hub mirror (Debian's docker-registry, on the
                  machine, read-only over sim/images/build-registry's cache)
  node:22         that node's SSH/SFTP

Everything else from a guest stops there: no route, or the forward
policy.  The machine's own forwarding and firewall are not touched.

<tag> comes from the state directory, so two simulators (tests) do not
share a network; a crashed simulator's namespaces, veth and guests are
removed by the next start (stale()).
"""

import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from .files import write_private

IP = "ip"
NFT = "nft"
DNSMASQ = "dnsmasq"
NSENTER = "nsenter"
ACNG = "/usr/sbin/apt-cacher-ng"
ACNG_CACHE = os.path.join(os.environ.get("HL_SIM_CACHE", "/var/cache/hl-sim"),
                          "apt-cacher-ng")
REGISTRY = "/usr/bin/docker-registry"
REGISTRY_CACHE = os.path.join(os.environ.get("HL_SIM_CACHE",
                                             "/var/cache/hl-sim"), "registry")
REGISTRY_PORT = 5000        # on the guests' side, as Docker's default


class NetError(Exception):
    pass


def run(*argv, check=True):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True)
    if check and r.returncode:
        raise NetError("%s: %s" % (" ".join(argv), r.stderr.strip()
                                   or "exit %d" % r.returncode))
    return r


def tag(state_dir):
    return hashlib.sha1(os.path.realpath(state_dir).encode()).hexdigest()[:6]


def available():
    """Why guests cannot have a network here, or None."""
    if os.geteuid() != 0:
        return "not root"
    for tool in (IP, NFT):
        if shutil.which(tool) is None:
            return "'%s' is not installed" % tool
    return None


def namespaces(prefix):
    r = run(IP, "-j", "netns", "list", check=False)
    try:
        names = [n["name"] for n in json.loads(r.stdout or "[]")]
    except ValueError:
        names = []
    return [n for n in names if n == prefix or n.startswith(prefix + "-")]


def kill_namespace(ns):
    """Kill every process in ns (a guest's PID 1 takes its guest along),
    then delete it; its veths go with it."""
    for _ in range(50):
        pids = run(IP, "netns", "pids", ns, check=False).stdout.split()
        if not pids:
            break
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        time.sleep(0.05)
    run(IP, "netns", "del", ns, check=False)


class Net:
    def __init__(self, sim):
        self.sim = sim
        self.tag = tag(sim.state_dir)
        self.ns = "hls-" + self.tag
        self.veth = "hls" + self.tag
        self.dir = os.path.join(sim.state_dir, "net")
        self.host = None            # the machine's end of the veth
        self.peer = None
        self.services = {}          # name -> port on self.host
        self.acng = None
        self.registry = None
        self.bridges = {}           # name -> {"net", "gateway", "nodes"}
        self.dnsmasq = {}           # bridge -> its DNS (and DHCP) server
        self.dhcp = set()           # bridges whose dnsmasq serves DHCP

    # --- the namespace ------------------------------------------------------

    def stale(self):
        stale(self.sim.state_dir)

    def _uplink(self):
        """A /30 for the veth no address of the machine is in."""
        used = run(IP, "-o", "-4", "addr", "show").stdout
        slot = int(self.tag, 16) % 16000
        for i in range(16000):
            base = ipaddress.ip_address("10.250.0.0") + 4 * ((slot + i) % 16000)
            if " %s/" % (base + 1) not in used and " %s/" % (base + 2) \
                    not in used:
                return str(base + 1), str(base + 2)
        raise NetError("no free /30 in 10.250.0.0/16 for the uplink")

    def start(self):
        self.stale()
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.host, self.peer = self._uplink()
        ns = self.ns
        os.makedirs(RECORDS, exist_ok=True)
        with open(os.path.join(RECORDS, self.tag), "w") as f:
            f.write(os.path.realpath(self.sim.state_dir) + "\n")
        run(IP, "netns", "add", ns)
        run(IP, "link", "add", self.veth, "type", "veth", "peer", "name",
            "uplink", "netns", ns)
        run(IP, "addr", "add", self.host + "/30", "dev", self.veth)
        run(IP, "link", "set", self.veth, "up")
        run(IP, "-n", ns, "addr", "add", self.peer + "/30", "dev", "uplink")
        run(IP, "-n", ns, "link", "set", "uplink", "up")
        run(IP, "-n", ns, "link", "set", "lo", "up")
        # forwarding between the bridges and to the uplink, in this
        # namespace only
        run(IP, "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        nets = self.sim.cfg.get("networks", {})
        names = sorted({b for n in self.sim.cfg["nodes"].values()
                        for b in n.get("bridges", [])})
        for b in names:
            run(IP, "-n", ns, "link", "add", b, "type", "bridge")
            run(IP, "-n", ns, "link", "set", b, "up")
            spec = nets.get(b)
            if not spec:
                self.bridges[b] = None
                continue
            iface = ipaddress.ip_interface(spec["cidr"])
            info = {"net": iface.network, "gateway": str(iface.ip),
                    "nodes": {}}
            run(IP, "-n", ns, "addr", "add", str(iface), "dev", b)
            for i, node in enumerate(self.sim.cfg["nodes"]):
                addr = iface.ip + 1 + i
                info["nodes"][node] = str(addr)
                run(IP, "-n", ns, "addr", "add", "%s/%d" % (
                    addr, iface.network.prefixlen), "dev", b)
            self.bridges[b] = info
            self._dnsmasq(b, iface, spec)
            # the machine reaches its guests (ssh, Ansible) through the
            # veth; the route goes when the veth does
            r = run(IP, "route", "add", str(iface.network), "via", self.peer,
                    "dev", self.veth, check=False)
            if r.returncode:
                raise NetError("guests on %s would not be reachable from "
                               "this machine: %s" % (b, r.stderr.strip()))
        return self

    def _dnsmasq(self, bridge, iface, spec):
        """A real DNS (and, with a pool, DHCP) server on the bridge:
        dnsmasq.  DNS: the lab's hosts (hosts(): VMs and nodes) answer,
        every other name is NXDOMAIN at once, as in an offline lab (no
        upstream: a guest told nameserver = the gateway would otherwise
        wait 40 s per lookup).  DHCP: the guests' own clients get their
        leases from the pool, each MAC the address lease() reserved."""
        if shutil.which(DNSMASQ) is None:
            return
        hosts = os.path.join(self.dir, "dhcp-hosts-" + bridge)
        open(hosts, "a").close()
        names = os.path.join(self.dir, "hosts")
        if not os.path.exists(names):
            write_private(names, "")
        argv = [DNSMASQ, "--keep-in-foreground", "--port=53", "--no-resolv",
                "--no-hosts", "--addn-hosts=" + names, "--local=/#/",
                "--no-negcache", "--user=root", "--interface=" + bridge,
                "--bind-interfaces", "--log-facility=-"]
        if spec.get("dhcp"):
            first, last = spec["dhcp"].split("-")
            argv += ["--dhcp-authoritative",
                     "--dhcp-range=%s,%s,%s,12h" % (first, last, iface.netmask),
                     "--dhcp-option=option:router,%s" % iface.ip,
                     "--dhcp-hostsfile=" + hosts,
                     "--dhcp-leasefile=" + os.path.join(self.dir,
                                                        "leases-" + bridge)]
            self.dhcp.add(bridge)
        path = os.path.join(self.dir, "dnsmasq-%s.log" % bridge)
        log = open(path, "ab")
        start = log.tell()
        proc = subprocess.Popen(
            [NSENTER, "--net=/run/netns/" + self.ns] + argv,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        # a SIGHUP (hosts()) before dnsmasq has its handlers would end it:
        # it says "started" once it has them
        for _ in range(100):
            with open(path, "rb") as f:
                f.seek(start)
                if b"started, version" in f.read():
                    break
            if proc.poll() is not None:
                raise NetError("dnsmasq on %s exited (%s)" % (bridge, path))
            time.sleep(0.05)
        self.dnsmasq[bridge] = proc

    def hosts(self, entries):
        """The names the gateway's DNS answers: entries is [(address,
        [names])]; the nodes (pve1, ...) are added.  dnsmasq rereads on
        SIGHUP."""
        lines = []
        for info in self.bridges.values():
            for node, addr in sorted((info or {}).get("nodes", {}).items()):
                lines.append("%s %s\n" % (addr, node))
        lines += ["%s %s\n" % (a, " ".join(n)) for a, n in entries if n]
        path = os.path.join(self.dir, "hosts")
        try:
            with open(path) as f:
                if f.read() == "".join(lines):
                    return
        except OSError:
            pass
        write_private(path, "".join(lines))
        self._hup()

    def expose(self, mirror_port=None, node_ports=None):
        """The nftables rules: each service reachable at its guest-side
        address, nothing else."""
        node_ports = node_ports or {}
        dnat = []
        for b, info in self.bridges.items():
            if not info:
                continue
            gw = info["gateway"]
            if mirror_port:
                dnat.append((gw, 80, mirror_port))
            if self.acng:
                dnat.append((gw, 3142, self.services["apt"]))
            if self.registry:
                dnat.append((gw, REGISTRY_PORT, self.services["registry"]))
            for node, port in node_ports.items():
                dnat.append((info["nodes"][node], 22, port))
        rules = ["table ip hlsim {",
                 "  chain nat_pre { type nat hook prerouting priority dstnat;"]
        rules += ["  iifname != \"uplink\" ip daddr %s tcp dport %d dnat to "
                  "%s:%d" % (a, p, self.host, hp) for a, p, hp in dnat]
        rules += [" }",
                  " chain nat_post { type nat hook postrouting priority srcnat;",
                  "  oifname \"uplink\" masquerade", " }",
                  " chain guard_forward { type filter hook forward priority filter; "
                  "policy drop;",
                  "  ct state established,related accept",
                  "  oifname \"uplink\" ct status dnat accept",
                  "  iifname \"uplink\" oifname != \"uplink\" accept",
                  "  iifname != \"uplink\" oifname != \"uplink\" accept", " }",
                  " chain guard_input { type filter hook input priority filter; "
                  "policy drop;",
                  "  ct state established,related accept",
                  "  iifname \"lo\" accept",
                  "  udp dport 67 accept",
                  "  meta l4proto { tcp, udp } th dport 53 accept",
                  "  icmp type echo-request accept", " }",
                  "}"]
        path = os.path.join(self.dir, "rules.nft")
        write_private(path, "\n".join(rules) + "\n")
        run(IP, "netns", "exec", self.ns, NFT, "-f", path)

    # --- the apt proxy --------------------------------------------------------

    def start_apt_proxy(self):
        """apt-cacher-ng on the uplink's machine end, Debian's archive
        behind it (its default remaps to ftp.debian.org: sim-guests.md)."""
        if not os.path.exists(ACNG):
            return None
        conf = os.path.join(self.dir, "apt-cacher-ng")
        logs = os.path.join(conf, "log")
        os.makedirs(logs, exist_ok=True)
        os.makedirs(ACNG_CACHE, exist_ok=True)
        with open(os.path.join(conf, "backends_debian"), "w") as f:
            f.write("http://deb.debian.org/debian/\n")
        shutil.copy("/usr/share/apt-cacher-ng/conf/acng.conf"
                    if os.path.exists("/usr/share/apt-cacher-ng/conf/acng.conf")
                    else "/etc/apt-cacher-ng/acng.conf",
                    os.path.join(conf, "acng.conf"))
        port = self._low_port()
        pidfile = os.path.join(self.dir, "apt-cacher-ng.pid")
        log = open(os.path.join(logs, "stderr.log"), "ab")
        self.acng = subprocess.Popen(
            [ACNG, "-c", conf, "ForeGround=1", "BindAddress=" + self.host,
             "Port=%d" % port, "CacheDir=" + ACNG_CACHE, "LogDir=" + logs,
             "SupportDir=/usr/lib/apt-cacher-ng", "PidFile=" + pidfile,
             "SocketPath=" + os.path.join(conf, "socket")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.services["apt"] = port
        return port

    def _low_port(self):
        """A free port below 32768: apt-cacher-ng 3.7 keeps its port in a
        signed short (46115 becomes "-1942" and it cannot bind)."""
        first = 20000 + int(self.tag, 16) % 10000
        for i in range(2000):
            port = 20000 + (first - 20000 + i) % 12000
            with socket.socket() as s:
                try:
                    s.bind((self.host, port))
                except OSError:
                    continue
            return port
        raise NetError("no free port below 32768 for the apt proxy")

    def apt_proxy_url(self, bridge="vmbr0"):
        info = self.bridges.get(bridge)
        if not info or not self.acng:
            return None
        return "http://%s:3142" % info["gateway"]

    # --- the Docker Hub mirror ------------------------------------------------

    def start_registry(self):
        """docker-registry on the uplink's machine end, serving the storage
        sim/images/build-registry built, read-only: every simulator shares
        the one cache and none may change it.  None when it is not built
        or not installed."""
        storage = os.path.join(REGISTRY_CACHE, "storage")
        if not os.path.exists(REGISTRY) or not os.path.exists(
                os.path.join(REGISTRY_CACHE, "recipe")):
            return None
        with socket.socket() as s:
            s.bind((self.host, 0))
            port = s.getsockname()[1]
        conf = os.path.join(self.dir, "registry.yml")
        # the packaged config turns on htpasswd auth: our own
        # (sim/images/build-registry checks the storage with the same)
        write_private(conf, "version: 0.1\n"
                      "log:\n  level: info\n"
                      "storage:\n"
                      "  filesystem:\n    rootdirectory: %s\n"
                      "  maintenance:\n"
                      "    uploadpurging:\n      enabled: false\n"
                      "    readonly:\n      enabled: true\n"
                      "http:\n  addr: %s:%d\n" % (storage, self.host, port))
        log = open(os.path.join(self.dir, "registry.log"), "ab")
        self.registry = subprocess.Popen(
            [REGISTRY, "serve", conf], stdin=subprocess.DEVNULL, stdout=log,
            stderr=log)
        write_private(os.path.join(self.dir, "registry.pid"),
                      "%d\n" % self.registry.pid)
        self.services["registry"] = port
        # answering before its URL is handed out
        deadline = time.time() + 10
        while time.time() < deadline and self.registry.poll() is None:
            try:
                with socket.create_connection((self.host, port), 0.5):
                    return port
            except OSError:
                time.sleep(0.05)
        self.registry.kill()
        self.registry.wait()
        self.registry = None
        del self.services["registry"]
        raise NetError("docker-registry did not start; see %s"
                       % os.path.join(self.dir, "registry.log"))

    def registry_url(self, bridge="vmbr0"):
        info = self.bridges.get(bridge)
        if not info or not self.registry:
            return None
        return "http://%s:%d" % (info["gateway"], REGISTRY_PORT)

    # --- guests ---------------------------------------------------------------

    def guest_ns(self, vmid):
        return "%s-%s" % (self.ns, vmid)

    def plug(self, vmid, nics):
        """A guest's namespace with one ethN per nic: (n, mac, bridge, addr)
        where addr is "a.b.c.d/p" (a lease the sim hands out) or None."""
        gns = self.guest_ns(vmid)
        kill_namespace(gns)
        run(IP, "netns", "add", gns)
        run(IP, "-n", gns, "link", "set", "lo", "up")
        for n, mac, bridge, addr in nics:
            if bridge not in self.bridges:
                raise NetError("bridge '%s' does not exist" % bridge)
            outer = "g%sn%s" % (vmid, n)
            run(IP, "-n", self.ns, "link", "add", outer, "type", "veth",
                "peer", "name", "eth%s" % n, "netns", gns)
            run(IP, "-n", gns, "link", "set", "eth%s" % n, "address", mac)
            run(IP, "-n", self.ns, "link", "set", outer, "master", bridge)
            run(IP, "-n", self.ns, "link", "set", outer, "up")
            run(IP, "-n", gns, "link", "set", "eth%s" % n, "up")
            if addr:
                run(IP, "-n", gns, "addr", "add", addr, "dev", "eth%s" % n)
                gw = (self.bridges[bridge] or {}).get("gateway")
                if gw and n == "0":
                    run(IP, "-n", gns, "route", "add", "default", "via", gw)
        self._forget_neighbours()
        return gns

    def unplug(self, vmid):
        kill_namespace(self.guest_ns(vmid))
        self._forget_neighbours()

    def _forget_neighbours(self):
        """A new guest may take an address a destroyed one had, with
        another MAC: the namespace forgets the MACs it learnt, or it sends
        to the old one until the entry fails (about 8 s, longer than a
        connect's first SYNs), as a switch that never flushed would."""
        run(IP, "-n", self.ns, "neigh", "flush", "all", check=False)

    def lease(self, bridge, mac):
        """A DHCP lease from the bridge's pool, kept per MAC in the state."""
        info = self.bridges.get(bridge)
        spec = self.sim.cfg.get("networks", {}).get(bridge) or {}
        if not info or not spec.get("dhcp"):
            return None
        first, last = (ipaddress.ip_address(a) for a in
                       spec["dhcp"].split("-"))
        st = self.sim.state
        with st.lock:
            leases = st.data.setdefault("leases", {})
            if mac in leases:
                self._reserve(bridge, mac, leases[mac])
                return leases[mac]
            taken = set(leases.values())
            a = first
            while a <= last:
                cand = "%s/%d" % (a, info["net"].prefixlen)
                if cand not in taken:
                    leases[mac] = cand
                    st.save()
                    self._reserve(bridge, mac, cand)
                    return cand
                a += 1
        raise NetError("DHCP pool of '%s' is exhausted" % bridge)

    def _reserve(self, bridge, mac, addr):
        """The DHCP server hands mac this address (dhcp-host)."""
        proc = self.dnsmasq.get(bridge)
        if proc is None:
            return
        hosts = os.path.join(self.dir, "dhcp-hosts-" + bridge)
        line = "%s,%s\n" % (mac, addr.split("/")[0])
        with open(hosts) as f:
            if line in f.read():
                return
        with open(hosts, "a") as f:
            f.write(line)
        self._hup()

    def _hup(self):
        """dnsmasq rereads its hosts files (nsenter execs it: its pid is
        the Popen's)."""
        for p in self.dnsmasq.values():
            if p.poll() is None:
                p.send_signal(signal.SIGHUP)

    def dhcp_served(self, bridge):
        """Whether a DHCP server answers on the bridge."""
        return bridge in self.dhcp

    def stop(self):
        for p in self.dnsmasq.values():
            p.terminate()
        _drop(self.tag)
        try:
            os.unlink(os.path.join(RECORDS, self.tag))
        except OSError:
            pass
        for proc in (self.acng, self.registry):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            os.unlink(os.path.join(self.dir, "registry.pid"))
        except OSError:
            pass


RECORDS = "/run/hl-sim"       # <tag>: the state directory of a network


def _drop(t):
    for ns in namespaces("hls-" + t):
        kill_namespace(ns)
    run(IP, "link", "del", "hls" + t, check=False)


def clash(cfg, state_dir):
    """Why this simulator's guest networks cannot be routed from this
    machine, or None: a route of the machine already covers or overlaps
    one (another simulator's, or a LAN of the machine's own).  Two
    simulators on one subnet would each take the other's traffic, so the
    second is refused at start, naming the first (DESIGN.md 3)."""
    if available() is not None:
        return None
    own = "hls" + tag(state_dir)
    bridges = {b for n in cfg["nodes"].values() for b in n.get("bridges", [])}
    wanted = [(b, ipaddress.ip_interface(spec["cidr"]).network)
              for b, spec in sorted(cfg.get("networks", {}).items())
              if b in bridges]
    try:
        routes = json.loads(run(IP, "-j", "-4", "route", "show",
                                check=False).stdout or "[]")
    except ValueError:
        routes = []
    for r in routes:
        dst, dev = r.get("dst", "default"), r.get("dev", "")
        if dst == "default" or dev == own:
            continue
        try:
            theirs = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        for b, net in wanted:
            if not net.overlaps(theirs):
                continue
            who = "this machine's interface %s" % dev
            if dev.startswith("hls"):
                who = "another simulator (%s)" % dev
                try:
                    with open(os.path.join(RECORDS, dev[3:])) as f:
                        who = "the simulator of %s" % f.read().strip()
                except OSError:
                    pass
            return ("%s's network %s is already routed on this machine, "
                    "to %s (%s): stop that one (hl-sim stop), or give this "
                    "simulator other \"networks\" in its --config"
                    % (b, net, who, dst))
    return None


def stale(state_dir):
    """Remove what a crashed simulator of this state left behind: its
    guests (with their namespaces), its veth, its apt proxy and registry;
    and the networks of simulators whose state directory is gone
    altogether."""
    if available() is None:
        _drop(tag(state_dir))
        for t in os.listdir(RECORDS) if os.path.isdir(RECORDS) else []:
            try:
                with open(os.path.join(RECORDS, t)) as f:
                    owner = f.read().strip()
            except OSError:
                continue
            if not os.path.isdir(owner):
                _drop(t)
                _kill_owned(owner)
                from .guests import sweep_tag
                sweep_tag(t)
                os.unlink(os.path.join(RECORDS, t))
    _stop_pidfile(os.path.join(state_dir, "net", "apt-cacher-ng.pid"),
                  b"apt-cacher")
    _stop_pidfile(os.path.join(state_dir, "net", "registry.pid"),
                  b"docker-registry")


def _kill_owned(state_dir):
    """The node sshds, apt proxy and registry of a state directory that is
    gone."""
    mark = (state_dir.rstrip("/") + "/").encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if mark in cmd and (b"sshd" in cmd or b"apt-cacher" in cmd
                            or b"docker-registry" in cmd):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def _stop_pidfile(pidfile, name):
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if name not in f.read():
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass
