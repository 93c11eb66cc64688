"""What PVE writes to a VM's cloud-init drive (NoCloud), from its config.

Follows qemu-server src/PVE/QemuServer/Cloudinit.pm: cloudinit_userdata,
nocloud_network (network-config version 1), nocloud_gen_metadata (the
instance-id is the SHA-1 of user-data and network-config together, so a
change of user, keys, name, DNS, IP or MAC gives the guest a new instance
and new SSH host keys), get_custom_cloudinit_files (cicustom snippets),
dump_cloudinit_config.  The next part of the simulator feeds these files
to each guest's real cloud-init.
"""

import hashlib
import os
import urllib.parse

from . import vmconfig

MASKS = ["0.0.0.0"] + [
    ".".join(str((0xFFFFFFFF << (32 - n) >> s) & 0xFF) for s in (24, 16, 8, 0))
    for n in range(1, 33)]


def hostname_fqdn(conf, vmid):
    """get_hostname_fqdn."""
    name = conf.get("name") or "VM%s" % vmid
    if "." in name:
        return name.split(".", 1)[0], name
    if conf.get("searchdomain"):
        return name, "%s.%s" % (name, conf["searchdomain"])
    return name, name


def dns(conf):
    """get_dns_conf, the simulated host's resolv.conf being empty."""
    search = (conf.get("searchdomain") or "").split()
    servers = (conf.get("nameserver") or "").split()
    return search, servers


def userdata(conf, vmid):
    """cloudinit_userdata."""
    host, fqdn = hostname_fqdn(conf, vmid)
    out = "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\nfqdn: %s\n" \
        % (host, fqdn)
    user = conf.get("ciuser")
    if user is not None:
        out += "user: %s\n" % user
        if user == "root":
            out += "disable_root: False\n"
    if conf.get("cipassword") is not None:
        out += "password: %s\n" % conf["cipassword"]
    if conf.get("sshkeys") is not None:
        keys = urllib.parse.unquote(conf["sshkeys"]).split("\n")
        out += "ssh_authorized_keys:\n"
        out += "".join("  - %s\n" % k.rstrip("\n") for k in keys
                       if k.strip())
    out += "chpasswd:\n  expire: False\n"
    if user is None or user != "root":
        out += "users:\n  - default\n"
    if int(conf.get("ciupgrade", 1)):
        out += "package_upgrade: true\n"
    return out


def network(conf):
    """nocloud_network: version 1, one physical interface per ipconfigN."""
    out = "version: 1\nconfig:\n"
    i = "    "
    for key in sorted(k for k in conf if vmconfig.NET_RE.match(k)):
        n = key[3:]
        ipc = conf.get("ipconfig" + n)
        if not ipc:
            continue
        ip = vmconfig.parse_props(str(ipc), "ip")
        net = vmconfig.parse_props(str(conf[key]), "model")
        mac = next((net[m] for m in vmconfig.MODELS if net.get(m)),
                   net.get("macaddr", ""))
        out += ("%s- type: physical\n%s  name: eth%s\n%s  mac_address: '%s'\n"
                "%s  subnets:\n" % (i, i, n, i, mac.lower(), i))
        j = i + "  "
        if ip.get("ip") == "dhcp":
            out += "%s- type: dhcp4\n" % j
        elif ip.get("ip"):
            addr, _, prefix = ip["ip"].partition("/")
            out += "%s- type: static\n%s  address: '%s'\n%s  netmask: '%s'\n" \
                % (j, j, addr, j, MASKS[int(prefix)])
            if ip.get("gw"):
                out += "%s  gateway: '%s'\n" % (j, ip["gw"])
        if ip.get("ip6") == "dhcp":
            out += "%s- type: dhcp6\n" % j
        elif ip.get("ip6") == "auto":
            out += "%s- type: ipv6_slaac\n" % j
        elif ip.get("ip6"):
            out += "%s- type: static6\n%s  address: '%s'\n" % (j, j, ip["ip6"])
            if ip.get("gw6"):
                out += "%s  gateway: '%s'\n" % (j, ip["gw6"])
    search, servers = dns(conf)
    # The lists are always there in PVE (array references), even empty.
    out += "%s- type: nameserver\n" % i
    if servers:
        out += "%s  address:\n" % i + "".join("%s  - '%s'\n" % (i, s)
                                               for s in servers)
    if search:
        out += "%s  search:\n" % i + "".join("%s  - '%s'\n" % (i, s)
                                              for s in search)
    return out


def metadata(user, net):
    """nocloud_gen_metadata."""
    return "instance-id: %s\n" % hashlib.sha1((user + net).encode()).hexdigest()


def custom_files(sim, node, conf):
    """cicustom: {user, network, meta, vendor} snippet texts, those given."""
    from .api_storage import content_dir
    out = {}
    spec = vmconfig.parse_props(str(conf.get("cicustom") or ""), "user")
    for kind in ("user", "network", "meta", "vendor"):
        volid = spec.get(kind)
        if not volid:
            continue
        storage, _, volname = volid.partition(":")
        if not volname.startswith("snippets/") or \
                storage not in sim.cfg["storages"]:
            raise ValueError("%s is not in the snippets directory" % volid)
        path = os.path.join(content_dir(sim, node, storage, "snippets"),
                            volname.split("/", 1)[1])
        with open(path, encoding="utf-8", errors="replace") as f:
            out[kind] = f.read(1 << 20)
    return out


def nocloud(sim, node, vmid, conf):
    """generate_nocloud: the four files of the cidata drive."""
    files = custom_files(sim, node, conf)
    user = files.get("user", userdata(conf, vmid))
    net = files.get("network", network(conf))
    return {"user-data": user, "network-config": net,
            "meta-data": files.get("meta", metadata(user, net)),
            "vendor-data": files.get("vendor", "")}


def dump(conf, vmid, kind):
    """dump_cloudinit_config for the nocloud format."""
    if kind == "user":
        return userdata(conf, vmid)
    if kind == "network":
        return network(conf)
    return metadata(userdata(conf, vmid), network(conf))
