"""Request routing and parameter validation from Proxmox VE's API schema.

The subset file (sim/schema/pve-api-subset.json, made by
sim/schema/extract.py from pve-docs' apidata.json) lists every method the
simulator serves with its parameter schema. This module finds the method for
a request path and checks the request's parameters the way PVE does before a
handler runs, producing the same error texts.

Upstream, in the order a request meets them:

  pve-common  src/PVE/RESTHandler.pm   find_handler, map_path_to_methods,
                                       $normalize_legacy_param_formats
  pve-common  src/PVE/JSONSchema.pm    validate, check_prop, check_object,
                                       check_type, check_format,
                                       parse_property_string, add_error and
                                       the formats registered there
  pve-common  src/PVE/Exception.pm     stringify (nested "format error" text)
  pve-common  src/PVE/ParseUtils.pm    split_list, $IPV4RE, $IPV6RE
  pve-storage src/PVE/Storage/Plugin.pm  pve-volume-id, pve-storage-content
  qemu-server src/PVE/QemuServer.pm, QemuServer/{Network,Drive,CPUConfig}.pm
                                       the qm property-string formats
  pve-access-control src/PVE/Auth/Plugin.pm, AccessControl.pm
                                       pve-realm, pve-userid, pve-poolid,
                                       pve-priv

Snapshots read: pve-common f665029e (9.2.1), qemu-server e6352be6,
pve-storage 0c56bad8, pve-access-control 5ccd07d9.

Public API:

  Schema(path)                            load the subset
  Schema.match(method, path)              (entry, path_params) or None
  Schema.path_exists(path)                True if any method serves path
  Schema.find_entry(method, template)     the entry for a schema path
  Schema.property_schema(entry, name)     schema of a parameter ("scsi0")
  Schema.validate(entry, params)          (values, errors)
  parse_property_string(fmt, value, path="")   dict, or raises SchemaError
  check_format(fmt, value, path="")       what the format's check returns
  register_format(name, fmt, validator=None)
  SchemaError                             a Perl die: str() is PVE's text
  INDEX_RANGES, UNCHECKED_FORMATS
"""

import functools
import json
import re

# --------------------------------------------------------------------------
# Errors


class SchemaError(Exception):
    """A Perl die from a check: msg keeps its trailing newline.

    With errors (a "format error" from parse_property_string), str() is the
    text PVE::Exception::stringify builds: the message, then one
    "path: error" line per error (sorted here; Perl's hash order is random).
    """

    def __init__(self, msg, errors=None):
        super().__init__(msg)
        self.msg = msg
        self.errors = errors or {}

    def __str__(self):
        # pve-common src/PVE/Exception.pm stringify (no code, no usage)
        text = self.msg
        if not text.endswith("\n"):
            text += "\n"
        for key in sorted(self.errors):
            text += "%s: %s\n" % (key, self.errors[key])
        return text


# --------------------------------------------------------------------------
# Perl semantics the checks rely on


def perl_str(value):
    """How Perl prints a scalar: 1.0 as "1", floats with %.15g."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return "%.15g" % value
    return str(value)


def perl_true(value):
    """Perl truthiness: undef, "", "0" and 0 are false; references true."""
    if value is None:
        return False
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return value not in ("", "0")


def perl_ref(value):
    """Perl's ref() of a value decoded from a request ("" for scalars)."""
    if isinstance(value, bool):
        return "JSON::PP::Boolean"
    if isinstance(value, list):
        return "ARRAY"
    if isinstance(value, dict):
        return "HASH"
    return ""


def pmatch(regex, text, flags=0):
    """Perl's `text =~ m/regex/`: unanchored search, `$` as in Perl.

    Python's `$` without MULTILINE matches at the end or before a final
    newline, like Perl's, so a pattern written `^...$` behaves the same.
    """
    return _compile(regex, flags).search(text)


@functools.lru_cache(maxsize=None)
def _compile(regex, flags=0):
    return re.compile(regex, flags)


_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9",
    "lower": "a-z", "upper": "A-Z", "space": r"\s", "word": r"\w",
    "xdigit": "0-9A-Fa-f", "punct": r"!-/:-@\[-`{-~",
}


def translate_perl_regex(pattern):
    """A schema `pattern` (a Perl regex, maybe a stringified qr//) in Python.

    `(?^:...)` / `(?^i:...)` (how Perl prints qr// objects) become `(?:...)`
    / `(?i:...)`, `\\z` becomes `\\Z` and POSIX classes are spelled out.
    Everything else used by PVE's patterns means the same in both.
    """
    pattern = re.sub(r"\(\?\^([a-zA-Z]*):",
                     lambda m: "(?%s:" % m.group(1) if m.group(1) else "(?:",
                     pattern)
    pattern = pattern.replace(r"\z", r"\Z")
    return re.sub(r"\[:(\w+):\]",
                  lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)),
                  pattern)


def is_number(value):
    # pve-common src/PVE/JSONSchema.pm is_number
    return pmatch(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$",
                  value) is not None


def is_integer(value):
    # pve-common src/PVE/JSONSchema.pm is_integer
    return pmatch(r"^[+-]?\d+$", value) is not None


def to_number(text):
    """A checked number string as int when integral in form, else float."""
    return int(text) if is_integer(text) else float(text)


def parse_boolean(value):
    # pve-common src/PVE/JSONSchema.pm parse_boolean
    text = perl_str(value)
    if pmatch(r"^(1|on|yes|true)$", text, re.I):
        return 1
    if pmatch(r"^(0|off|no|false)$", text, re.I):
        return 0
    return None


def perl_split(sep, text):
    """Perl's split(/sep/, text): trailing empty fields are dropped."""
    fields = re.split(sep, text)
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def split_list(text):
    # pve-common src/PVE/ParseUtils.pm split_list
    text = "" if text is None else perl_str(text)
    if "\0" in text:
        return [p for p in text.split("\0")]
    text = re.sub(r"[,;]", " ", text).lstrip()
    return [p for p in re.split(r"\s+", text) if p != ""]


def parse_size(value):
    # pve-common src/PVE/JSONSchema.pm parse_size
    m = pmatch(r"^(\d+(\.\d+)?)([KMGT](?:iB)?)?$", value)
    if not m:
        return None
    size, unit = float(m.group(1)), m.group(3)
    if unit:
        size *= 1024 ** ("KMGT".index(unit[0]) + 1)
    return int(size)


# --------------------------------------------------------------------------
# Named formats (register_format). A format is either a function
# value -> value that raises SchemaError, or a dict: a property-string
# schema, optionally with a validator run on the parsed dict.

FORMATS = {}
FORMAT_VALIDATORS = {}


def register_format(name, fmt, validator=None):
    """Register a named format, as PVE::JSONSchema::register_format.

    Registering a name again replaces it (Perl dies; the simulator may load
    the schema more than once).
    """
    if validator is not None and not isinstance(fmt, dict):
        raise ValueError("a validator needs a hash-based format")
    FORMATS[name] = fmt
    if validator is not None:
        FORMAT_VALIDATORS[name] = validator


def _format(name):
    """Decorator: register the function as the check of format name."""
    def register(fn):
        register_format(name, fn)
        return fn
    return register


# Named formats used by the served methods but not checked here: hardware
# pass-through and confidential-computing settings the simulator does not
# model. Their values are accepted as given.
UNCHECKED_FORMATS = frozenset((
    "pve-qm-hostpci", "pve-qm-rng", "pve-qemu-sev-fmt", "pve-qemu-tdx-fmt",
))

# pve-common src/PVE/ParseUtils.pm $IPV4RE, $IPV6RE
_IPV4OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
IPV4RE = r"(?:(?:%s\.){3}%s)" % (_IPV4OCTET, _IPV4OCTET)
_H16 = r"(?:[0-9a-fA-F]{1,4})"
_LS32 = r"(?:(?:%s|%s:%s))" % (IPV4RE, _H16, _H16)
IPV6RE = "(?:" + "|".join((
    r"(?:(?:(?:%s:){6})%s)" % (_H16, _LS32),
    r"(?:(?:::(?:%s:){5})%s)" % (_H16, _LS32),
    r"(?:(?:(?:%s)?::(?:%s:){4})%s)" % (_H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,1}%s)?::(?:%s:){3})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,2}%s)?::(?:%s:){2})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,3}%s)?::(?:%s:){1})%s)" % (_H16, _H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,4}%s)?::)%s)" % (_H16, _H16, _LS32),
    r"(?:(?:(?:(?:%s:){0,5}%s)?::)%s)" % (_H16, _H16, _H16),
    r"(?:(?:(?:(?:%s:){0,6}%s)?::))" % (_H16, _H16),
)) + ")"
_EMAIL_USER_RE = r"[\w\+\-\~]+(\.[\w\+\-\~]+)*"
_EMAIL_RE = _EMAIL_USER_RE + r"@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*"
CONFIGID_RE = r"[a-z][a-z0-9_-]+"           # $CONFIGID_RE, /i
PVE_TAG_RE = r"[a-z0-9_][a-z0-9_\-\+\.]*"   # $PVE_TAG_RE, /i


def _check(cond, msg):
    if not cond:
        raise SchemaError(msg)


# --- pve-common src/PVE/JSONSchema.pm -------------------------------------

register_format("string", lambda v: None)   # allows 'string-list'


@_format("urlencoded")
def verify_urlencoded(v):
    # pve_verify_urlencoded
    _check(pmatch(r"^[-%a-zA-Z0-9_.!~*'()]*$", v),
           "invalid urlencoded string: %s\n" % v)
    return v


@_format("pve-configid")
def verify_configid(v):
    # pve_verify_configid
    _check(pmatch(r"^%s$" % CONFIGID_RE, v, re.I),
           "invalid configuration ID '%s'\n" % v)
    return v


def _parse_id(v, kind):
    # parse_id
    _check(len(v) >= 2, "%s ID '%s' cannot be shorter than 2 characters\n"
           % (kind, v))
    _check(pmatch(r"^[a-z][a-z0-9\-\_\.]*[a-z0-9]$", v, re.I),
           "%s ID '%s' contains illegal characters\n" % (kind, v))
    return v


register_format("pve-storage-id", lambda v: _parse_id(v, "storage"))
register_format("acme-plugin-id", lambda v: _parse_id(v, "ACME plugin"))


@_format("pve-bridge-id")
def verify_bridge_id(v):
    # parse_bridge_id
    _check(pmatch(r"^[-_.\w\d]+$", v), "invalid bridge ID '%s'\n" % v)
    return v


@_format("pve-vmid")
def verify_vmid(v):
    # pve_verify_vmid
    _check(pmatch(r"^[1-9][0-9]{2,8}$", v),
           "value does not look like a valid VM ID\n")
    return v


@_format("pve-node")
def verify_node_name(v):
    # pve_verify_node_name
    _check(pmatch(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$", v),
           "value does not look like a valid node name\n")
    return v


def parse_idmap(text, idformat):
    # parse_idmap: "1", "source:target" entries and one default target
    if not perl_true(text):
        return None
    mapping = {"entries": {}}
    for entry in split_list(text):
        if entry == "1":
            mapping["identity"] = 1
            continue
        m = pmatch(r"^([^:]+):([^:]+)$", entry)
        try:
            if m:
                check_format(idformat, m.group(1), "")
                check_format(idformat, m.group(2), "")
            else:
                check_format(idformat, entry)
        except SchemaError as e:
            raise SchemaError("entry '%s' contains invalid ID - %s\n"
                              % (entry, e))
        if m:
            _check(m.group(1) not in mapping["entries"],
                   "duplicate mapping for source '%s'\n" % m.group(1))
            mapping["entries"][m.group(1)] = m.group(2)
        else:
            _check("default" not in mapping,
                   "default target ID can only be provided once\n")
            mapping["default"] = entry
    _check(not (mapping.get("identity") and
                ("default" in mapping or mapping["entries"])),
           "identity mapping cannot be combined with other mappings\n")
    return mapping


def _verify_idpair(v, idformat):
    # $verify_idpair: Perl re-dies with "$@\n", adding a newline
    try:
        parse_idmap(v, idformat)
    except SchemaError as e:
        raise SchemaError("%s\n" % e)
    return v


register_format("storage-pair", lambda v: _verify_idpair(v, "pve-storage-id"))
register_format("bridge-pair", lambda v: _verify_idpair(v, "pve-bridge-id"))


@_format("mac-addr")
def verify_mac_addr(v):
    # pve_verify_mac_addr: unicast only (I/G bit clear)
    _check(pmatch(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", v, re.I),
           "value does not look like a valid unicast MAC address\n")
    return v


@_format("ipv4")
def verify_ipv4(v):
    _check(pmatch(r"^(?:%s)$" % IPV4RE, v),
           "value does not look like a valid IPv4 address\n")
    return v


@_format("ipv6")
def verify_ipv6(v):
    _check(pmatch(r"^(?:%s)$" % IPV6RE, v),
           "value does not look like a valid IPv6 address\n")
    return v


@_format("ip")
def verify_ip(v):
    _check(pmatch(r"^(?:(?:%s)|(?:%s))$" % (IPV4RE, IPV6RE), v),
           "value does not look like a valid IP address\n")
    return v


_IPV4_MASKS = frozenset(
    ".".join(str((((1 << 32) - (1 << (32 - bits))) >> s) & 255)
             for s in (24, 16, 8, 0)) for bits in range(33))


@_format("ipv4mask")
def verify_ipv4mask(v):
    _check(v in _IPV4_MASKS, "value does not look like a valid IP netmask\n")
    return v


def _cidr_ok(v, addr_re, most):
    m = pmatch(r"^(?:%s)(?:/(\d+))$" % addr_re, v)
    return bool(m) and 7 < int(m.group(1)) <= most


@_format("CIDRv6")
def verify_cidrv6(v):
    _check(_cidr_ok(v, IPV6RE, 128),
           "value does not look like a valid IPv6 CIDR network\n")
    return v


@_format("CIDRv4")
def verify_cidrv4(v):
    _check(_cidr_ok(v, IPV4RE, 32),
           "value does not look like a valid IPv4 CIDR network\n")
    return v


@_format("CIDR")
def verify_cidr(v):
    _check(_cidr_ok(v, IPV4RE, 32) or _cidr_ok(v, IPV6RE, 128),
           "value does not look like a valid CIDR network\n")
    return v


@_format("pve-ipv4-config")
def verify_ipv4_config(v):
    _check(pmatch(r"^(?:dhcp|manual)$", v) or _cidr_ok(v, IPV4RE, 32),
           "value does not look like a valid ipv4 network configuration\n")
    return v


@_format("pve-ipv6-config")
def verify_ipv6_config(v):
    _check(pmatch(r"^(?:auto|dhcp|manual)$", v) or _cidr_ok(v, IPV6RE, 128),
           "value does not look like a valid ipv6 network configuration\n")
    return v


@_format("email")
def verify_email(v):
    _check(pmatch(r"^%s$" % _EMAIL_RE, v),
           "value does not look like a valid email address\n")
    return v


@_format("email-or-username")
def verify_email_or_username(v):
    _check(pmatch(r"^%s$" % _EMAIL_RE, v) or
           pmatch(r"^%s$" % _EMAIL_USER_RE, v),
           "value does not look like a valid email address or user name\n")
    return v


def _is_dns_name(v):
    name = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
    return pmatch(r"^(%s\.)*%s$" % (name, name), v) is not None


@_format("dns-name")
def verify_dns_name(v):
    # pve_verify_dns_name
    _check(_is_dns_name(v), "value does not look like a valid DNS name\n")
    return v


@_format("pve-iface")
def verify_iface(v):
    _check(pmatch(r"^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$", v, re.I),
           "invalid network interface name '%s'\n" % v)
    return v


@_format("pve-vlan-id-or-range")
def verify_vlan_id_or_range(v):
    # pve_verify_vlan_id_or_range
    m = pmatch(r"^(\d+)(?:-(\d+))?$", v)
    _check(m, "invalid VLAN configuration '%s'\n" % v)
    start, end = m.group(1), m.group(2)
    for tag in (start, end) if perl_true(end) else (start,):
        _check(2 <= int(tag) <= 4094, "invalid VLAN tag '%s'\n" % tag)
    if perl_true(end):
        _check(int(start) < int(end),
               "VLAN range must go from lower to higher tag '%s'\n" % v)
    return v


@_format("address")
def verify_address(v):
    # pve_verify_address: an IP or a DNS name. Perl tests the checks'
    # return values, so the valid DNS name "0" is refused.
    _check(perl_true(v) and
           (pmatch(r"^(?:(?:%s)|(?:%s))$" % (IPV4RE, IPV6RE), v) or
            _is_dns_name(v)),
           "value does not look like a valid address: %s\n" % v)
    return v


@_format("disk-size")
def verify_disk_size(v):
    _check(parse_size(v) is not None,
           "value does not look like a valid disk size: %s\n" % v)
    return v


def parse_startup_order(v):
    # pve_parse_startup_order
    if not perl_true(v):
        return None
    res = {}
    for part in perl_split(",", v):
        if pmatch(r"^\s*$", part):
            continue
        m = pmatch(r"^(order=)?(\d+)$", part)
        m2 = pmatch(r"^(up|down)=(\d+)$", part)
        if m:
            res["order"] = m.group(2)
        elif m2:
            res[m2.group(1)] = m2.group(2)
        else:
            return None
    return res


@_format("pve-startup-order")
def verify_startup_order(v):
    _check(parse_startup_order(v) is not None,
           "unable to parse startup options\n")
    return v


@_format("pve-tag")
def verify_tag(v):
    # pve_verify_tag (used as pve-tag-list)
    _check(pmatch(r"^%s$" % PVE_TAG_RE, v, re.I),
           "invalid characters in tag\n")
    return v


@_format("pve-task-status-type")
def verify_task_status_type(v):
    _check(pmatch(r"^(ok|error|warning|unknown)$", v, re.I),
           "invalid status '%s'\n" % v)
    return v


# --- pve-storage src/PVE/Storage/Plugin.pm --------------------------------

@_format("pve-volume-id")
def verify_volume_id(v):
    # parse_volume_id
    _check(pmatch(r"^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$", v, re.I),
           "unable to parse volume ID '%s'\n" % v)
    return v


_CONTENT_TYPES = frozenset(("images", "rootdir", "vztmpl", "iso", "backup",
                            "snippets", "none", "import"))


@_format("pve-storage-content")
def verify_content(v):
    # verify_content: the types a 'dir' storage knows (all of them)
    _check(v in _CONTENT_TYPES, "invalid content type '%s'\n" % v)
    return v


# --- qemu-server src/PVE/QemuServer.pm, QemuServer/Drive.pm ---------------

@_format("pve-volume-id-or-absolute-path")
def verify_volume_id_or_absolute_path(v):
    if v.startswith("/"):
        return v
    return check_format("pve-volume-id", v, "")


@_format("pve-volume-id-or-qm-path")
def verify_volume_id_or_qm_path(v):
    if v in ("none", "cdrom"):
        return v
    return verify_volume_id_or_absolute_path(v)


@_format("pve-cpuset")
def verify_cpuset(v):
    # pve_verify_cpuset over PVE::CpuSet::parse_cpuset (pve-common)
    for part in perl_split(",", v):
        m = pmatch(r"^\s*(\d+)(?:-(\d+))?\s*$", part)
        _check(m and int(m.group(2) or m.group(1)) >= int(m.group(1)),
               "unable to parse cpuset option\n")
    return v


@_format("pve-hotplug-features")
def verify_hotplug_features(v):
    # parse_hotplug_features: its die escapes pve_verify_hotplug_features
    if v in ("0", "1"):
        return v
    for feature in split_list(v):
        _check(pmatch(r"^(network|disk|cpu|memory|usb|cloudinit)$", feature),
               "invalid hotplug feature '%s'\n" % feature)
    return v


# Drive.pm valid_drive_names: ide0-3, scsi0-30, virtio0-15, sata0-5,
# efidisk0, tpmstate0 (unused[n] is not a drive name)
def _is_valid_drivename(name):
    m = re.fullmatch(r"(ide|scsi|virtio|sata)(0|[1-9]\d*)", name)
    if m:
        return int(m.group(2)) < INDEX_RANGES[m.group(1)]
    return name in ("efidisk0", "tpmstate0")


@_format("pve-qm-bootdisk")
def verify_bootdisk(v):
    _check(_is_valid_drivename(v), "invalid boot disk '%s'\n" % v)
    return v


@_format("pve-qm-bootdev")
def verify_bootdev(v):
    # verify_bootdev: a drive (not efidisk/tpmstate), netN, usbN, hostpciN
    special = v.startswith("efidisk") or v.startswith("tpmstate")
    if _is_valid_drivename(v) and not special:
        return v
    m = re.fullmatch(r"(net|usb|hostpci)(0|[1-9]\d*)", v)
    if m and int(m.group(2)) < INDEX_RANGES[m.group(1)]:
        return v
    raise SchemaError("invalid boot device '%s'\n" % v)


register_format("pve-qm-boot", {
    "legacy": {"optional": 1, "default_key": 1, "type": "string",
               "pattern": "[acdn]{1,4}", "default": "cdn"},
    "order": {"optional": 1, "type": "string",
              "format": "pve-qm-bootdev-list"},
})

register_format("pve-qm-watchdog", {
    "model": {"default_key": 1, "type": "string",
              "enum": ["i6300esb", "ib700"], "default": "i6300esb",
              "optional": 1},
    "action": {"type": "string", "optional": 1,
               "enum": ["reset", "shutdown", "poweroff", "pause", "debug",
                        "none"]},
})

register_format("pve-qm-cicustom", {
    key: {"type": "string", "optional": 1, "format": "pve-volume-id"}
    for key in ("meta", "network", "user", "vendor")
})

_B64 = r"[A-Za-z0-9+\/]+={0,2}"
register_format("pve-qm-smbios1", dict(
    {key: {"type": "string", "pattern": _B64, "optional": 1}
     for key in ("version", "serial", "manufacturer", "product", "sku",
                 "family")},
    uuid={"type": "string", "optional": 1,
          "pattern": r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}"},
    base64={"type": "boolean", "optional": 1},
))


def _validate_prune_backups(res):
    """pve-storage src/PVE/Storage/Plugin.pm validate_prune_backups: no
    positive keep option means keep-all=1; keep-all with another is an
    error."""
    keep_all = res.pop("keep-all", None)
    if not any(int(v) > 0 for v in res.values()):
        return {"keep-all": 1}
    if perl_true(keep_all):
        raise SchemaError("keep-all cannot be set together with other "
                          "options.\n")
    return res


# pve-storage src/PVE/Storage/Plugin.pm $prune_backups_format
register_format("prune-backups", dict(
    {"keep-all": {"type": "boolean", "optional": 1}},
    **{key: {"type": "integer", "minimum": "0", "optional": 1}
       for key in ("keep-last", "keep-hourly", "keep-daily", "keep-weekly",
                   "keep-monthly", "keep-yearly")}), _validate_prune_backups)

# pve-guest-common src/PVE/VZDump/Common.pm $fleecing_fmt, $performance_fmt
register_format("backup-fleecing", {
    "enabled": {"type": "boolean", "optional": 1, "default": 0,
                "default_key": 1},
    "storage": {"type": "string", "format": "pve-storage-id",
                "optional": 1},
})
register_format("backup-performance", {
    "max-workers": {"type": "integer", "minimum": 1, "maximum": 256,
                    "default": 16, "optional": 1},
    "pbs-entries-max": {"type": "integer", "minimum": 1,
                        "default": 1048576, "optional": 1},
})

# qemu-server src/PVE/QemuServer/Network.pm $ipconfig_fmt
register_format("pve-qm-ipconfig", {
    "ip": {"type": "string", "format": "pve-ipv4-config", "optional": 1,
           "default": "dhcp"},
    "gw": {"type": "string", "format": "ipv4", "optional": 1,
           "requires": "ip"},
    "ip6": {"type": "string", "format": "pve-ipv6-config", "optional": 1,
            "default": "dhcp"},
    "gw6": {"type": "string", "format": "ipv6", "optional": 1,
            "requires": "ip6"},
})

# --- qemu-server src/PVE/QemuServer/CPUConfig.pm, CPUFlags.pm -------------

# initialize_cpu_models' built-in list (used when QEMU ships no model
# files), x86_64 and aarch64, plus "host" and the x86-64-vN models.
CPU_MODELS = frozenset("""
486 pentium pentium2 pentium3 coreduo core2duo Conroe Penryn Nehalem
Nehalem-IBRS Westmere Westmere-IBRS SandyBridge SandyBridge-IBRS IvyBridge
IvyBridge-IBRS Haswell Haswell-IBRS Haswell-noTSX Haswell-noTSX-IBRS
Broadwell Broadwell-IBRS Broadwell-noTSX Broadwell-noTSX-IBRS
Skylake-Client Skylake-Client-IBRS Skylake-Client-noTSX-IBRS
Skylake-Client-v4 Skylake-Server Skylake-Server-IBRS
Skylake-Server-noTSX-IBRS Skylake-Server-v4 Skylake-Server-v5
Cascadelake-Server Cascadelake-Server-v2 Cascadelake-Server-noTSX
Cascadelake-Server-v4 Cascadelake-Server-v5 Cooperlake Cooperlake-v2
KnightsMill Icelake-Client Icelake-Client-noTSX Icelake-Server
Icelake-Server-noTSX Icelake-Server-v3 Icelake-Server-v4 Icelake-Server-v5
Icelake-Server-v6 Icelake-Server-v7 SapphireRapids SapphireRapids-v2
SapphireRapids-v3 SapphireRapids-v4 GraniteRapids GraniteRapids-v2
GraniteRapids-v3 SierraForest SierraForest-v2 SierraForest-v3
ClearwaterForest athlon phenom Opteron_G1 Opteron_G2 Opteron_G3 Opteron_G4
Opteron_G5 EPYC EPYC-IBPB EPYC-v3 EPYC-v4 EPYC-v5 EPYC-Rome EPYC-Rome-v2
EPYC-Rome-v3 EPYC-Rome-v4 EPYC-Rome-v5 EPYC-Milan EPYC-Milan-v2
EPYC-Milan-v3 EPYC-Genoa EPYC-Genoa-v2 EPYC-Turin kvm32 kvm64 qemu32 qemu64
max a64fx cortex-a35 cortex-a53 cortex-a55 cortex-a57 cortex-a710
cortex-a72 cortex-a76 neoverse-n1 neoverse-n2 neoverse-v1 host
""".split())
BUILTIN_CPU_MODELS = frozenset(("x86-64-v2", "x86-64-v2-AES", "x86-64-v3",
                                "x86-64-v4"))
# CPUFlags.pm: flags a VM-specific config may set
VM_CPU_FLAGS = ("aes", "amd-no-ssb", "amd-ssbd", "hv-evmcs", "hv-tlbflush",
                "ibpb", "md-clear", "nested-virt", "pcid", "pdpe1gb",
                "spec-ctrl", "ssbd", "virt-ssbd")
_CPU_FLAG_ANY_RE = r"([+-])([a-zA-Z0-9\-_\.]+)"
_CPU_FLAG_VM_RE = r"([+-])(%s)" % "|".join(VM_CPU_FLAGS)


@_format("pve-phys-bits")
def parse_phys_bits(v):
    msg = "value must be an integer between 8 and 64 or 'host'\n"
    _check(pmatch(r"^(host|\d{1,2})$", v), msg)
    _check(v == "host" or 8 <= int(v) <= 64, msg)
    return v


def validate_vm_cpu_conf(cpu):
    # validate_vm_cpu_conf (with validate_cpu_conf); the simulator has no
    # custom CPU models, so every custom- name is unknown
    _check(perl_true(cpu.get("cputype")), "CPU is missing cputype\n")
    cputype = cpu["cputype"]
    if cputype.startswith("custom-"):
        raise SchemaError("Custom cputype '%s' not found\n"
                          % cputype[len("custom-"):])
    _check(cputype in CPU_MODELS or cputype in BUILTIN_CPU_MODELS,
           "Built-in cputype '%s' is not defined (missing 'custom-' prefix?)\n"
           % cputype)
    flags = cpu.get("flags")
    _check(not perl_true(flags) or
           pmatch(r"^%s(;%s)*$" % (_CPU_FLAG_VM_RE, _CPU_FLAG_VM_RE), flags),
           "VM-specific CPU flags must be a subset of: %s\n"
           % ", ".join(VM_CPU_FLAGS))
    _check(cpu.get("reported-model") is None,
           "Property 'reported-model' not allowed in VM-specific CPU "
           "config.\n")
    return cpu


register_format("pve-vm-cpu-conf", {
    "cputype": {"type": "string", "default": "kvm64", "default_key": 1,
                "optional": 1},
    "reported-model": {"type": "string", "optional": 1, "default": "kvm64",
                       "enum": sorted(CPU_MODELS, key=str.lower)},
    "hidden": {"type": "boolean", "optional": 1, "default": 0},
    "hv-vendor-id": {"type": "string", "pattern": "[a-zA-Z0-9]{1,12}",
                     "optional": 1},
    "flags": {"type": "string", "optional": 1,
              "pattern": r"%s(;%s)*" % (_CPU_FLAG_ANY_RE, _CPU_FLAG_ANY_RE)},
    "guest-phys-bits": {"type": "integer", "minimum": 32, "maximum": 64,
                        "optional": 1},
    "phys-bits": {"type": "string", "format": "pve-phys-bits", "optional": 1},
    "level": {"type": "integer", "minimum": 0, "maximum": 4294967295,
              "optional": 1},
}, validate_vm_cpu_conf)

# --- pve-access-control src/PVE/Auth/Plugin.pm, AccessControl.pm ---------

REALM_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"
USER_RE = r"[^\s:/]+"


@_format("pve-realm")
def verify_realm(v):
    _check(pmatch(r"^%s$" % REALM_RE, v),
           "value does not look like a valid realm\n")
    return v


@_format("pve-userid")
def verify_username(v):
    # verify_username
    v = v if perl_true(v) else ""
    _check(len(v) >= 3, "user name '%s' is too short\n" % v)
    _check(len(v) <= 64, "user name '%s' is too long (%d > 64)\n"
           % (v, len(v)))
    _check(pmatch(r"^(%s)\@(%s)$" % (USER_RE, REALM_RE), v),
           "value '%s' does not look like a valid user name\n" % v)
    return v


@_format("pve-poolid")
def verify_poolname(v):
    # verify_poolname
    _check(len(perl_split("/", v)) <= 3,
           "pool name '%s' nested too deeply (max levels = 3)\n" % v)
    _check(pmatch(r"^[A-Za-z0-9\.\-_]+(?:/[A-Za-z0-9\.\-_]+){0,2}$", v),
           "pool name '%s' contains invalid characters\n" % v)
    return v


# AccessControl.pm $privgroups (every group's privileges) and
# Permissions.Modify
PRIVILEGES = frozenset("""
VM.Config.Disk VM.Config.CPU VM.Config.Memory VM.Config.Network
VM.Config.HWType VM.Config.Options VM.Allocate VM.Clone
VM.GuestAgent.Unrestricted VM.Migrate VM.Replicate VM.Snapshot
VM.Snapshot.Rollback VM.Config.CDROM VM.Config.Cloudinit VM.Console
VM.Backup VM.GuestAgent.FileRead VM.GuestAgent.FileSystemMgmt
VM.GuestAgent.FileWrite VM.PowerMgmt VM.Audit VM.GuestAgent.Audit
Sys.PowerMgmt Sys.Modify Sys.Incoming Sys.AccessNetwork Sys.Console
Sys.Syslog Sys.Audit Datastore.Allocate Datastore.AllocateTemplate
Datastore.AllocateSpace Datastore.Audit SDN.Allocate SDN.Audit SDN.Use
Realm.Allocate User.Modify Group.Allocate Realm.AllocateUser Pool.Allocate
Pool.Audit Mapping.Modify Mapping.Use Mapping.Audit Permissions.Modify
""".split())


@_format("pve-priv")
def verify_privname(v):
    _check(v in PRIVILEGES, "invalid privilege '%s'\n" % v)
    return v


# --------------------------------------------------------------------------
# The checks: pve-common src/PVE/JSONSchema.pm


def check_format(fmt, value, path=""):
    """Check value against a format; mirrors JSONSchema.pm check_format.

    fmt is a dict (inline property-string schema) or a name, optionally
    with a -list or -opt suffix. Returns what the check returns (the parsed
    dict for property strings); raises SchemaError. Names neither
    registered nor known pass unchecked (Perl dies "undefined format").
    """
    if isinstance(fmt, dict):
        return parse_property_string(fmt, value, path)
    if fmt == "regex":
        return None
    m = re.fullmatch(r"(.*?)(?:-(list|opt))?", fmt)
    name, kind = m.group(1), m.group(2) or "none"
    registered = FORMATS.get(name)
    if registered is None:
        return None
    if kind != "none" and isinstance(registered, dict):
        raise SchemaError("'-%s' format must have code ref, not hash\n" % kind)
    if kind == "list":
        return [registered(item) for item in split_list(value)]
    if kind == "opt":
        return registered(value) if perl_true(value) else None
    if isinstance(registered, dict):
        return parse_property_string(name, value, path)
    return registered(value)


def parse_property_string(fmt, data, path="", additional_properties=0):
    """Parse "key=value,key=value" against a property-string schema.

    Mirrors JSONSchema.pm parse_property_string: fmt is a dict (an inline
    `format` object from the subset) or a registered name
    ("pve-qm-ipconfig"). A part without "=" goes to the default_key; alias
    keys map to their target, keyAlias keys also record their own name
    ("virtio=MAC" gives model=virtio, macaddr=MAC). Booleans become 1/0
    (parse_boolean: 1/0/on/off/yes/no/true/false); every other value stays
    the string given. Raises SchemaError (str() is PVE's text, e.g.
    "format error\\nagent.enabled: type check ...\\n").
    """
    validator = None
    if isinstance(fmt, str):
        registered = FORMATS.get(fmt)
        if registered is None:
            raise SchemaError("unknown format: %s\n" % fmt)
        if not isinstance(registered, dict):
            raise SchemaError("parse_property_string only accepts hash based "
                              "named formats\n")
        validator = FORMAT_VALIDATORS.get(fmt)
        fmt = registered
    elif not isinstance(fmt, dict):
        raise SchemaError("unexpected format value of type %s\n"
                          % type(fmt).__name__)

    res = {}
    default_key = None
    for part in perl_str(data).split(","):
        if pmatch(r"^\s*$", part):
            continue
        m = pmatch(r"^([^=]+)=(.+)$", part)
        if m:
            _parse_keyed_part(fmt, res, m.group(1), m.group(2))
        elif "=" not in part:
            default_key = _parse_default_part(fmt, res, part, default_key)
        else:
            raise SchemaError("missing key in comma-separated list property\n")

    errors = {}
    check_object(path, fmt, res, additional_properties, errors)
    if errors:
        raise SchemaError("format error\n", errors)
    return validator(res) if validator else res


def _parse_keyed_part(fmt, res, key, value):
    """One "key=value" part of parse_property_string."""
    if res.get(key) is not None:
        raise SchemaError("duplicate key in comma-separated list property: "
                          "%s\n" % key)
    # Perl autovivifies $schema here, so an unknown key is not refused yet:
    # check_object reports it as "property is not defined in schema ..."
    schema = fmt.get(key)
    alias = (schema or {}).get("alias")
    if alias:
        key_alias = schema.get("keyAlias")
        if key_alias:
            if res.get(key_alias) is not None:
                raise SchemaError("key alias '%s' is already defined\n"
                                  % key_alias)
            res[key_alias] = key
        key = alias
        schema = fmt.get(key)
        if res.get(key) is not None:
            raise SchemaError("key '%s' is already defined (via alias)\n"
                              % key)
        if schema is None:
            raise SchemaError("invalid key in comma-separated list property: "
                              "%s\n" % key)
    if (schema or {}).get("type") == "boolean":
        parsed = parse_boolean(value)
        value = value if parsed is None else parsed
    res[key] = value


def _parse_default_part(fmt, res, part, default_key):
    """One part without "=": the value of the format's default_key."""
    if default_key:
        raise SchemaError("duplicate key in comma-separated list property: "
                          "%s\n" % default_key)
    for key, sub in fmt.items():
        if not sub.get("default_key"):
            continue
        if perl_true(res.get(key)):
            raise SchemaError("duplicate key in comma-separated list "
                              "property: %s\n" % key)
        if sub.get("type") == "boolean":
            parsed = parse_boolean(part)
            part = part if parsed is None else parsed
        res[key] = part
        return key
    raise SchemaError("value without key, but schema does not define a "
                      "default key\n")


def add_error(errors, path, msg):
    # add_error: a second error on one path is joined with a literal "\n"
    # (single-quoted '\n' in Perl: backslash and n)
    path = path or "_root"
    if errors.get(path):
        errors[path] = errors[path] + "\\n" + msg
    else:
        errors[path] = msg


def check_type(path, ptype, value, errors):
    """Mirror check_type: True if value has type ptype, else an error."""
    if not ptype:
        return True
    if value is None:
        return ptype == "null"
    if isinstance(ptype, list):
        for alternative in ptype:
            if check_type(path, alternative, value, {}):
                return True
        add_error(errors, path, "type check ('%s') failed" % "|".join(ptype))
        return False
    if ptype == "any":
        return True
    if ptype == "null":
        add_error(errors, path, "type check ('null') failed - value is not "
                  "null")
        return False
    ref = perl_ref(value)
    if ptype in ("array", "object"):
        if ref != {"array": "ARRAY", "object": "HASH"}[ptype]:
            add_error(errors, path, "type check ('%s') failed" % ptype)
            return False
        return True
    if ref:
        if ptype == "boolean" and ref == "JSON::PP::Boolean":
            return True
        add_error(errors, path, "type check ('%s') failed - got %s"
                  % (ptype, ref))
        return False
    text = perl_str(value)
    if ptype == "boolean":
        ok = text in ("1", "0")     # true/yes/on are refused upstream
    elif ptype == "integer":
        ok = is_integer(text)
    elif ptype == "number":
        ok = is_number(text)
    else:
        ok = True                   # string, and types nobody checks
    if not ok:
        add_error(errors, path, "type check ('%s') failed - got '%s'"
                  % (ptype, text))
    return ok


def check_object(path, schema, value, additional_properties, errors):
    """Mirror check_object: every schema key, then every value key.

    schema maps property names to their schemas; value is modified in
    place when an alias key is renamed to its target.
    """
    if not isinstance(schema, dict):
        add_error(errors, path, "Invalid schema definition.")
        return
    if not isinstance(value, dict):
        add_error(errors, path, "an object is required")
        return

    def sub(key):
        return "%s.%s" % (path, key) if path else key

    for key in list(value):
        alias = (schema.get(key) or {}).get("alias")
        if alias is None:
            continue
        if value.get(alias) is not None:
            add_error(errors, sub(key), "cannot set both '%s' and its alias "
                      "target '%s'" % (key, alias))
        else:
            value[alias] = value.pop(key)

    for key, prop in schema.items():
        check_prop(value.get(key), prop, sub(key), errors)

    for key in value:
        prop = schema.get(key)
        if prop is not None:
            requires = prop.get("requires")
            if isinstance(requires, dict):
                check_prop(value, requires, path, errors)
            elif requires and value.get(requires) is None:
                add_error(errors, sub(requires),
                          "missing property required by '%s'" % sub(key))
            continue
        if additional_properties is not None and \
                not perl_true(additional_properties):
            add_error(errors, sub(key), "property is not defined in schema "
                      "and the schema does not allow additional properties")
        elif isinstance(additional_properties, dict):
            check_prop(value[key], additional_properties, sub(key), errors)


def check_prop(value, schema, path, errors):
    """Mirror check_prop for one value (no oneOf/allOf: the subset has none).

    Order and early returns as upstream: definedness, type, then for
    scalars format, pattern, maxLength, minLength, maximum, minimum, enum.
    """
    if not isinstance(schema, dict):
        add_error(errors, path, "Invalid schema definition.")
        return
    if schema.get("alias"):
        return
    if value is None:
        if schema.get("type") != "null" and \
                not perl_true(schema.get("optional")) and \
                not schema.get("group"):
            add_error(errors, path, "property is missing and it is not "
                      "optional")
        return
    if not check_type(path, schema.get("type"), value, errors):
        return
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                check_prop(item, items, "%s[%d]" % (path, i), errors)
        return
    if isinstance(value, dict):
        if schema.get("properties") is not None or \
                perl_true(schema.get("additionalProperties")):
            check_object(path, schema.get("properties") or {}, value,
                         schema.get("additionalProperties"), errors)
        return
    if isinstance(value, bool):     # a JSON boolean is a reference in Perl
        return
    _check_scalar(perl_str(value), schema, path, errors)


def _check_scalar(text, schema, path, errors):
    """The scalar half of check_prop; stops at the first failed check."""
    fmt = schema.get("format")
    if fmt:
        try:
            check_format(fmt, text, path)
        except SchemaError as e:
            add_error(errors, path, "invalid format - %s" % e)
            return
    pattern = schema.get("pattern")
    if pattern and not _pattern_match(pattern, text):
        add_error(errors, path, "value does not match the regex pattern")
        return
    if schema.get("maxLength") is not None and \
            len(text) > to_number(perl_str(schema["maxLength"])):
        add_error(errors, path, "value may only be %s characters long"
                  % perl_str(schema["maxLength"]))
        return
    if schema.get("minLength") is not None and \
            len(text) < to_number(perl_str(schema["minLength"])):
        add_error(errors, path, "value must be at least %s characters long"
                  % perl_str(schema["minLength"]))
        return
    if is_number(text):
        number = to_number(text)
        if schema.get("maximum") is not None and \
                number > to_number(perl_str(schema["maximum"])):
            add_error(errors, path, "value must have a maximum value of %s"
                      % perl_str(schema["maximum"]))
            return
        if schema.get("minimum") is not None and \
                number < to_number(perl_str(schema["minimum"])):
            add_error(errors, path, "value must have a minimum value of %s"
                      % perl_str(schema["minimum"]))
            return
    enum = schema.get("enum")
    if enum is not None and not any(perl_str(e) == text for e in enum):
        add_error(errors, path, "value '%s' does not have a value in the "
                  "enumeration '%s'" % (text, ", ".join(map(perl_str, enum))))


def _pattern_match(pattern, text):
    """check_prop's `$value =~ m/^$pattern$/`.

    The anchors are pasted around the pattern without a group, exactly as
    upstream, so in "a|b" only the first branch is anchored at the start and
    only the last at the end.
    """
    return pmatch("^" + translate_perl_regex(pattern) + "$", text) is not None


def convert_value(value, schema):
    """A checked value as the handlers want it: int/float, 0/1, strings.

    integer -> int; number -> int if written as an integer, else float;
    boolean -> 0/1; array -> list of converted items; other scalars -> the
    string Perl would see (property strings stay strings).
    """
    ptype = schema.get("type")
    try:
        if isinstance(value, list):
            items = schema.get("items") or {}
            return [convert_value(v, items) for v in value]
        if isinstance(value, dict):
            return value
        text = perl_str(value)
        if ptype == "boolean":
            return 1 if text == "1" else 0
        if ptype == "integer":
            return int(text)
        if ptype == "number":
            return to_number(text)
        return text
    except ValueError:
        return value


# --------------------------------------------------------------------------
# Indexed options

# The apidata dump compacts scsi0..scsi30 into "scsi[n]"; the index ranges
# are only in descriptions (qemu-server: Drive.pm $MAX_*_DISKS, $MAX_NETS,
# USB.pm, PCI.pm, Memory.pm $MAX_NUMA, Virtiofs.pm). Others: 0-255.
INDEX_RANGES = {
    "ide": 4, "sata": 6, "scsi": 31, "virtio": 16, "net": 32,
    "ipconfig": 32, "unused": 256, "hostpci": 16, "usb": 14, "serial": 4,
    "parallel": 3, "numa": 8, "virtiofs": 10, "mp": 256,
}
DEFAULT_INDEX_RANGE = 256


def indexed_name(name):
    """("scsi", 0) for "scsi0"; None if name has no canonical index."""
    m = re.fullmatch(r"(\D+?)(0|[1-9][0-9]*)", name)
    if not m:
        return None
    return m.group(1), int(m.group(2))


# --------------------------------------------------------------------------
# Routing and the schema file


class Schema:
    """The served methods of sim/schema/pve-api-subset.json."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.entries = json.load(f)
        self._by_key = {(e["method"], e["path"]): e for e in self.entries}
        self._routes = [(self._split(e["path"]), e) for e in self.entries]
        self._register_derived_formats()

    def _register_derived_formats(self):
        # qemu-server Drive.pm: pve-qm-ide (the cdrom option) is $ide_fmt,
        # which the dump inlines as ide[n] (with import-from added, as
        # $desc_with_alloc does for API parameters).
        create = self._by_key.get(("POST", "/nodes/{node}/qemu"))
        ide = (create or {}).get("parameters", {}).get(
            "properties", {}).get("ide[n]", {}).get("format")
        if isinstance(ide, dict):
            register_format("pve-qm-ide", {k: v for k, v in ide.items()
                                           if k != "import-from"})

    @staticmethod
    def _split(path):
        # RESTHandler.pm find_handler: split on runs of '/', skip empties
        return [c for c in re.split(r"/+", path) if c]

    def match(self, method, path):
        """(entry, path_params) for method and path, or None.

        path is what follows /api2/json, already URL-decoded, or its
        segments (each decoded after the split, so an escaped '/' stays
        inside its segment). A template
        segment "{name}" matches one segment of non-space characters (the
        default '\\S+' of RESTHandler.pm register_method).
        """
        return self._find(path, method)

    def path_exists(self, path):
        """True if some served method (of any HTTP method) has this path."""
        return self._find(path, None) is not None

    def _find(self, path, method):
        comps = path if isinstance(path, list) else self._split(path)
        for template, entry in self._routes:
            if method is not None and entry["method"] != method:
                continue
            params = self._match_template(template, comps)
            if params is not None:
                return entry, params
        return None

    @staticmethod
    def _match_template(template, comps):
        if len(template) != len(comps):
            return None
        params = {}
        for want, got in zip(template, comps):
            if want.startswith("{") and want.endswith("}"):
                if not re.fullmatch(r"\S+", got):
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params

    def find_entry(self, method, template):
        """The entry for a schema path such as "/nodes/{node}/qemu"."""
        return self._by_key.get((method, template))

    @staticmethod
    def property_schema(entry, name):
        """The schema of parameter name in entry, resolving "scsi0" to
        "scsi[n]" within its index range; None if there is none."""
        props = (entry.get("parameters") or {}).get("properties") or {}
        if name in props:
            return props[name]
        split = indexed_name(name)
        if split is None:
            return None
        base, index = split
        prop = props.get(base + "[n]")
        if prop is None:
            return None
        if index >= INDEX_RANGES.get(base, DEFAULT_INDEX_RANGE):
            return None
        return prop

    def validate(self, entry, params):
        """Check request parameters against entry's schema.

        params: the merged path, query and body parameters; form values are
        strings, JSON bodies may give bools, numbers and lists; None stands
        for a key sent without a value (Perl's undef). Returns
        (values, errors): values converted by convert_value (keys without a
        value are left out), errors mapping parameter (or
        "param.subkey") to PVE's message; empty when all is well.
        Mirrors RESTHandler.pm handle: $normalize_legacy_param_formats,
        then JSONSchema.pm validate.
        """
        pschema = entry.get("parameters") or {}
        params = dict(params)
        effective = self._effective_properties(entry, params)
        self._normalize_legacy(effective, params)
        errors = {}
        additional = pschema.get("additionalProperties")
        check_object("", effective, params, additional, errors)
        values = {}
        for key, value in params.items():
            if value is None:
                continue
            prop = effective.get(key)
            values[key] = convert_value(value, prop) if prop else value
        return values, errors

    def _effective_properties(self, entry, params):
        """The properties PVE's expanded schema has for this request:
        the named ones plus each given indexed name ("net0")."""
        props = (entry.get("parameters") or {}).get("properties") or {}
        effective = {k: v for k, v in props.items() if not k.endswith("[n]")}
        for key in params:
            if key not in effective:
                prop = self.property_schema(entry, key)
                if prop is not None:
                    effective[key] = prop
        return effective

    @staticmethod
    def _normalize_legacy(props, params):
        # RESTHandler.pm $normalize_legacy_param_formats: a list for a
        # string with a -list format is joined with ","; a lone value for an
        # array becomes a one-item list (only for Perl-true values)
        for key, value in params.items():
            prop = props.get(key)
            if prop is None or not perl_true(value):
                continue
            fmt = prop.get("format")
            if prop.get("type") == "string" and isinstance(fmt, str) and \
                    fmt.endswith("-list") and (isinstance(value, list) or
                                               "\0" in perl_str(value)):
                # repeated keys (NUL-joined by the server) are an array
                # to pve-http-server: joined with ","
                items = value if isinstance(value, list) else \
                    perl_str(value).split("\0")
                params[key] = ",".join(perl_str(v) for v in items)
            elif not perl_ref(value) and prop.get("type") == "array":
                # a repeated parameter (NUL-joined by the server) is the
                # array's items, as pve-http-server hands them over
                params[key] = perl_str(value).split("\0")
