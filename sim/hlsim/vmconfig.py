"""A VM's configuration as qemu-server keeps it.

What create, clone and config do to it (qemu-server src/PVE/API2/Qemu.pm
create_vm / update_vm_api, src/PVE/QemuServer.pm): random MACs with PVE's
OUI, smbios1 uuid, vmgenid, meta, unique sorted lower-case tags
(pve-guest-common GuestHelpers.pm get_unique_tags), the description as
comment lines, the digest (SHA-1 of the config file), drive strings with
size= (PVE::JSONSchema format_size), and the cloud-init instance-id PVE
derives (src/PVE/QemuServer/Cloudinit.pm).
"""

import hashlib
import random
import re
import time
import urllib.parse
import uuid

DRIVE_RE = re.compile(r"^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$")
NET_RE = re.compile(r"^net\d+$")
OUI = "BC:24:11"


def is_drive(key):
    return bool(DRIVE_RE.match(key))


def parse_props(value, default_key):
    """'a,k=v,k2=v2' -> {default_key: a, k: v, k2: v2} (order kept)."""
    out = {}
    for part in value.split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if sep:
            out[k] = v
        else:
            out[default_key] = k
    return out


def format_props(props, default_key):
    parts = []
    if default_key in props:
        parts.append(props[default_key])
    parts += ["%s=%s" % (k, v) for k, v in props.items() if k != default_key]
    return ",".join(parts)


def format_size(nbytes):
    """The largest exact unit: 32G, 512M, 4M, 1T, or bytes (format_size)."""
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if nbytes and nbytes % (1 << shift) == 0:
            return "%d%s" % (nbytes >> shift, unit)
    return str(nbytes)


def memory_bytes(conf):
    """The memory option ('2048' or 'current=2048', MiB) in bytes."""
    return int(str(conf.get("memory", "512")).split("=")[-1]) << 20


def random_mac(rand=random):
    return "%s:%02X:%02X:%02X" % (OUI, rand.randrange(256),
                                  rand.randrange(256), rand.randrange(256))


def normalize_tags(tags):
    """Lower-cased, de-duplicated, sorted, ';'-joined (get_unique_tags)."""
    seen = sorted({t.lower() for t in re.split(r"[,; ]+", tags) if t})
    return ";".join(seen)


def add_defaults(conf, vmid):
    """What create adds: smbios1, vmgenid, meta, MACs, boot (create_vm)."""
    conf.setdefault("smbios1", "uuid=%s" % uuid.uuid4())
    conf.setdefault("vmgenid", str(uuid.uuid4()))
    conf.setdefault("meta", "creation-qemu=9.2.0,ctime=%d" % int(time.time()))
    fill_macs(conf)
    if "boot" not in conf:
        order = [k for k in sorted(conf) if is_drive(k) and
                 "media=cdrom" not in conf[k]] + \
            [k for k in sorted(conf) if NET_RE.match(k)]
        conf["boot"] = "order=" + ";".join(order) if order else " "
        if conf["boot"] == " ":
            del conf["boot"]


def fill_macs(conf):
    """A net device without a MAC gets one (qemu-server parse_net)."""
    for k in list(conf):
        if not NET_RE.match(k):
            continue
        props = parse_props(conf[k], "model")
        model = next((m for m in MODELS if m in props), None)
        if model is None:
            model = props.pop("model", "virtio")
            props = dict([(model, props.pop(model, None) or random_mac())],
                         **props)
        elif not props[model]:
            props[model] = random_mac()
        else:
            props[model] = props[model].upper()
        conf[k] = ",".join(["%s=%s" % (model, props[model])] +
                           ["%s=%s" % (k2, v) for k2, v in props.items()
                            if k2 != model])


MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")


def reset_mac(value):
    """The net device without its MAC, so fill_macs draws a new one (clone)."""
    props = parse_props(value, "model")
    for m in MODELS:
        if m in props:
            props[m] = ""
    return ",".join("%s=%s" % kv for kv in props.items())


def render(conf):
    """The config file text: description as comment lines, then key: value."""
    lines = []
    desc = conf.get("description")
    if desc:
        for line in desc.split("\n"):
            lines.append("#" + urllib.parse.quote(line, safe=" !\"#$&'()*+,-./;"
                                                  "<=>?@[\\]^_`{|}~"))
    for k in sorted(conf):
        if k != "description":
            lines.append("%s: %s" % (k, conf[k]))
    return "\n".join(lines) + "\n"


def digest(conf, pending=None):
    text = render(conf)
    if pending:
        text += "[PENDING]\n" + render(pending)
    return hashlib.sha1(text.encode()).hexdigest()


# Options a running VM takes at once; the rest wait in pending for a reboot
# (qemu-server vmconfig_hotplug_pending: hotplug network, disk, usb by
# default, plus the metadata keys).
HOT = {"name", "description", "tags", "onboot", "protection", "lock",
       "ciuser", "cipassword", "sshkeys", "nameserver", "searchdomain",
       "ciupgrade", "cicustom", "agent", "boot", "startup"}


def hotpluggable(key):
    """Taken by a running VM at once: metadata, cloud-init values, and the
    default hotplug set (network, disk, usb)."""
    return key in HOT or key.startswith(("ipconfig", "unused")) or \
        bool(NET_RE.match(key)) or is_drive(key) or key.startswith("usb")


def hash_password(pw):
    """cipassword as PVE stores it: a SHA-512 crypt hash, never the text."""
    if pw.startswith("$6$"):
        return pw
    import crypt     # deprecated in 3.11, removed in 3.13; Debian 12 has it
    return crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512))


def masked(conf):
    """A config as GET shows it: the password hidden (PVE prints stars)."""
    if "cipassword" in conf:
        conf = dict(conf, cipassword="**********")
    return conf
