"""Tests for sim/hlsim/schema.py and sim/schema/extract.py.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s sim/tests

Expected messages are PVE's own texts (pve-common src/PVE/JSONSchema.pm
and the format checks named in hlsim/schema.py), checked against the real
subset file sim/schema/pve-api-subset.json.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SIM = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SIM)

from hlsim import schema as S  # noqa: E402

SUBSET = os.path.join(SIM, "schema", "pve-api-subset.json")
EXTRACT = os.path.join(SIM, "schema", "extract.py")
APIDATA = os.path.join(os.path.dirname(os.path.dirname(SIM)), "shared",
                       "pve-api", "apidata.json")

NOT_DEFINED = ("property is not defined in schema and the schema does not "
               "allow additional properties")
MISSING = "property is missing and it is not optional"

SCHEMA = S.Schema(SUBSET)


def check(method, path, **params):
    """Validate params (path parameters added from the path) for a call."""
    entry, path_params = SCHEMA.match(method, path)
    merged = dict(path_params)
    merged.update(params)
    return SCHEMA.validate(entry, merged)


def errors(method, path, **params):
    return check(method, path, **params)[1]


CREATE = ("POST", "/nodes/pve1/qemu")
CONFIG = ("POST", "/nodes/pve1/qemu/100/config")


class SubsetFileTest(unittest.TestCase):

    def test_has_exactly_the_served_methods(self):
        sys.path.insert(0, os.path.dirname(EXTRACT))
        import extract
        got = sorted((e["method"], e["path"]) for e in SCHEMA.entries)
        self.assertEqual(got, sorted(extract.SERVED))
        self.assertEqual(len(got), 45)

    def test_keeps_method_keys_and_drops_human_text(self):
        entry = SCHEMA.find_entry("POST", "/nodes/{node}/qemu")
        self.assertEqual(entry["name"], "create_vm")
        self.assertEqual(entry["allowtoken"], 1)
        self.assertEqual(entry["protected"], 1)
        self.assertEqual(entry["proxyto"], "node")
        self.assertEqual(
            SCHEMA.find_entry("PUT", "/nodes/{node}/qemu/{vmid}/resize")
            ["permissions"], {"check": ["perm", "/vms/{vmid}",
                                        ["VM.Config.Disk"]]})
        self.assertEqual(SCHEMA.find_entry("POST", "/access/ticket")
                         ["allowtoken"], 0)

        def keys(value):
            """(key, value is text) for every key in value."""
            if isinstance(value, dict):
                for k, v in value.items():
                    yield k, isinstance(v, str)
                    yield from keys(v)
            elif isinstance(value, list):
                for v in value:
                    yield from keys(v)
        found = set(keys(SCHEMA.entries))
        for dropped in ("description", "verbose_description", "typetext",
                        "format_description", "title"):
            self.assertNotIn((dropped, True), found)
        for kept in ("default_key", "alias", "keyAlias", "requires",
                     "pattern", "enum", "minimum", "maxLength", "returns"):
            self.assertIn(kept, {k for k, _ in found})
        # a parameter named "description" is a schema, not text
        self.assertEqual(SCHEMA.property_schema(entry, "description"),
                         {"maxLength": 8192, "optional": 1, "type": "string"})

    @unittest.skipUnless(os.path.exists(APIDATA), "no ../shared/pve-api")
    def test_regeneration_reproduces_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "subset.json")
            run = subprocess.run([sys.executable, EXTRACT, APIDATA, out],
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("33cf6b63d1c5ad4b420f7666c7e2b5eede835a6dc7d1be3bd9"
                          "02a1fee21d2e93", run.stderr)
            with open(out) as a, open(SUBSET) as b:
                self.assertEqual(a.read(), b.read())

    def test_extract_refuses_bad_usage(self):
        run = subprocess.run([sys.executable, EXTRACT], capture_output=True,
                             text=True)
        self.assertEqual(run.returncode, 2)
        self.assertIn("usage:", run.stderr)

    def test_extract_fails_on_a_missing_method(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "api.json")
            with open(src, "w") as f:
                json.dump([{"path": "/version", "info": {"GET": {}}}], f)
            out = os.path.join(tmp, "out.json")
            run = subprocess.run([sys.executable, EXTRACT, src, out],
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 1)
            self.assertIn("GET /cluster/status", run.stderr)
            self.assertFalse(os.path.exists(out))


class RoutingTest(unittest.TestCase):

    def test_matches_templates_and_returns_path_parameters(self):
        entry, params = SCHEMA.match("GET", "/nodes/pve1/qemu/100/config")
        self.assertEqual(entry["path"], "/nodes/{node}/qemu/{vmid}/config")
        self.assertEqual(params, {"node": "pve1", "vmid": "100"})
        entry, params = SCHEMA.match("GET", "/version")
        self.assertEqual((entry["name"], params), ("version", {}))

    def test_method_selects_the_entry(self):
        self.assertEqual(SCHEMA.match("PUT", "/nodes/a/qemu/100/config")[0]
                         ["name"], "update_vm")
        self.assertEqual(SCHEMA.match("POST", "/nodes/a/qemu/100/config")[0]
                         ["name"], "update_vm_async")
        self.assertEqual(SCHEMA.match("DELETE", "/nodes/a/qemu/100")[0]
                         ["name"], "destroy_vm")

    def test_upid_segment_keeps_its_colons(self):
        upid = "UPID:pve1:000A1B2C:0123ABCD:6650F0A1:qmclone:9000:root@pam!hl:"
        entry, params = SCHEMA.match("GET", "/nodes/pve1/tasks/%s/status"
                                     % upid)
        self.assertEqual(entry["name"], "read_task_status")
        self.assertEqual(params["upid"], upid)
        entry, params = SCHEMA.match("DELETE", "/nodes/pve1/tasks/" + upid)
        self.assertEqual(entry["name"], "stop_task")

    def test_empty_segments_are_skipped_like_find_handler(self):
        self.assertIsNotNone(SCHEMA.match("GET", "/nodes/pve1/qemu/"))
        self.assertIsNotNone(SCHEMA.match("GET", "//nodes//pve1/qemu"))

    def test_no_match(self):
        self.assertIsNone(SCHEMA.match("GET", "/nodes/pve1/qemu/100"))
        self.assertIsNone(SCHEMA.match("PUT", "/version"))
        self.assertIsNone(SCHEMA.match("GET", "/nodes/pve1/lxc"))
        self.assertIsNone(SCHEMA.match("GET", "/nodes/pve 1/status"))
        self.assertIsNone(SCHEMA.match("GET", "/nodes/pve1/qemu/100/x/y"))

    def test_path_exists_for_any_method(self):
        self.assertTrue(SCHEMA.path_exists("/nodes/pve1/qemu/100"))
        self.assertTrue(SCHEMA.path_exists("/version"))
        self.assertFalse(SCHEMA.path_exists("/nodes/pve1/lxc"))
        self.assertFalse(SCHEMA.path_exists("/"))


class TopLevelChecksTest(unittest.TestCase):

    def test_valid_create_passes_and_converts(self):
        values, errs = check(
            *CREATE, vmid="100", name="web01", cores="2", memory="2048",
            onboot="1", agent="1", cpulimit="1.5", balloon="0",
            scsi0="local-lvm:32", net0="virtio,bridge=vmbr0",
            ipconfig0="ip=dhcp", tags="a;b", sshkeys="ssh-ed25519%20AAA")
        self.assertEqual(errs, {})
        self.assertEqual(values["vmid"], 100)
        self.assertEqual(values["cores"], 2)
        self.assertEqual(values["onboot"], 1)
        self.assertEqual(values["cpulimit"], 1.5)
        self.assertEqual(values["balloon"], 0)
        self.assertEqual(values["node"], "pve1")
        self.assertEqual(values["memory"], "2048")   # a property string
        self.assertEqual(values["net0"], "virtio,bridge=vmbr0")

    def test_unknown_parameter(self):
        self.assertEqual(errors(*CREATE, vmid="100", bogus="1"),
                         {"bogus": NOT_DEFINED})

    def test_missing_required(self):
        entry = SCHEMA.find_entry("POST", "/nodes/{node}/qemu")
        self.assertEqual(SCHEMA.validate(entry, {})[1],
                         {"node": MISSING, "vmid": MISSING})

    def test_none_is_an_absent_value(self):
        values, errs = check(*CREATE, vmid=None, name=None)
        self.assertEqual(errs, {"vmid": MISSING})
        self.assertNotIn("name", values)

    def test_boolean_must_be_1_or_0(self):
        self.assertEqual(errors(*CREATE, vmid="100", onboot="true"),
                         {"onboot": "type check ('boolean') failed - got "
                                    "'true'"})
        self.assertEqual(errors(*CREATE, vmid="100", onboot="yes"),
                         {"onboot": "type check ('boolean') failed - got "
                                    "'yes'"})

    def test_integer_and_number_types(self):
        self.assertEqual(errors(*CREATE, vmid="100", cores="abc"),
                         {"cores": "type check ('integer') failed - got "
                                   "'abc'"})
        self.assertEqual(errors(*CREATE, vmid="100", cores="1.5"),
                         {"cores": "type check ('integer') failed - got "
                                   "'1.5'"})
        self.assertEqual(errors(*CREATE, vmid="100", cpulimit="x"),
                         {"cpulimit": "type check ('number') failed - got "
                                      "'x'"})
        self.assertEqual(errors(*CREATE, vmid="100", cpulimit=".5"), {})

    def test_enum(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", scsihw="x"),
            {"scsihw": "value 'x' does not have a value in the enumeration "
                       "'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single,"
                       " megasas, pvscsi'"})

    def test_minimum_and_maximum(self):
        self.assertEqual(errors(*CREATE, vmid="100", cores="0"),
                         {"cores": "value must have a minimum value of 1"})
        self.assertEqual(errors(*CREATE, vmid="100", cpuunits="300000"),
                         {"cpuunits": "value must have a maximum value of "
                                      "262144"})
        self.assertEqual(errors(*CREATE, vmid="100", cpulimit="128.5"),
                         {"cpulimit": "value must have a maximum value of "
                                      "128"})

    def test_max_length(self):
        self.assertEqual(errors(*CONFIG, digest="a" * 41),
                         {"digest": "value may only be 40 characters long"})

    def test_min_length(self):
        errs = {}
        S.check_prop("a", {"type": "string", "minLength": 2}, "x", errs)
        self.assertEqual(errs, {"x": "value must be at least 2 characters "
                                     "long"})

    def test_pattern(self):
        self.assertEqual(errors("PUT", "/nodes/pve1/qemu/100/resize",
                                disk="scsi0", size="10X"),
                         {"size": "value does not match the regex pattern"})
        self.assertEqual(errors("PUT", "/nodes/pve1/qemu/100/resize",
                                disk="scsi0", size="+10G"), {})

    def test_pattern_is_perl_anchored_without_a_group(self):
        # m/^$pattern$/ with "a|b": only the first branch is anchored at
        # the start, only the last at the end
        path = "/dev/usb/lp1"
        self.assertEqual(errors(*CREATE, vmid="100", parallel0=path), {})
        self.assertEqual(errors(*CREATE, vmid="100",
                                parallel0="x" + path), {})
        self.assertEqual(errors(*CREATE, vmid="100",
                                parallel0="/dev/parport0x"), {})
        self.assertEqual(errors(*CREATE, vmid="100",
                                parallel0="x/dev/parport0"),
                         {"parallel0": "value does not match the regex "
                                       "pattern"})

    def test_perl_qr_patterns(self):
        # '(?^:^(?^:[^\s:/]+)\@...)' from a stringified qr//
        path = ("GET", "/access/permissions")
        self.assertEqual(errors(*path, userid="root@pam!hl"), {})
        self.assertEqual(errors(*path, userid="root"),
                         {"userid": "value does not match the regex pattern"})

    def test_every_subset_pattern_compiles(self):
        def patterns(value):
            if isinstance(value, dict):
                if isinstance(value.get("pattern"), str):
                    yield value["pattern"]
                for v in value.values():
                    yield from patterns(v)
            elif isinstance(value, list):
                for v in value:
                    yield from patterns(v)
        found = list(patterns([e["parameters"] for e in SCHEMA.entries]))
        self.assertGreater(len(found), 10)
        for pattern in found:
            re.compile("^" + S.translate_perl_regex(pattern) + "$")

    def test_requires(self):
        self.assertEqual(errors(*CONFIG, force="1"),
                         {"delete": "missing property required by 'force'"})
        self.assertEqual(errors(*CONFIG, force="1", delete="net1"), {})
        url = ("POST", "/nodes/pve1/storage/local/download-url")
        base = dict(url="https://x/a.iso", content="iso", filename="a.iso")
        self.assertEqual(
            errors(*url, checksum="abc", **base),
            {"checksum-algorithm": "missing property required by "
                                   "'checksum'"})

    def test_check_order_stops_at_the_first_failure(self):
        # check_prop: type, then format, then minimum
        self.assertEqual(errors(*CREATE, vmid="99"),
                         {"vmid": "invalid format - value does not look like "
                                  "a valid VM ID\n"})
        self.assertEqual(errors(*CREATE, vmid="x"),
                         {"vmid": "type check ('integer') failed - got 'x'"})

    def test_two_errors_on_one_path_join_with_a_literal_backslash_n(self):
        errs = {}
        schema = {"a": {"type": "string"},
                  "b": {"type": "string", "optional": 1, "requires": "a"}}
        S.check_object("", schema, {"b": "x"}, 0, errs)
        self.assertEqual(errs, {"a": MISSING + "\\nmissing property required "
                                               "by 'b'"})


class JsonBodyTest(unittest.TestCase):

    def test_real_booleans_and_numbers(self):
        values, errs = check(*CREATE, vmid=100, onboot=True, cores=2,
                             cpulimit=0.5, name="web01")
        self.assertEqual(errs, {})
        self.assertEqual((values["vmid"], values["onboot"], values["cores"],
                          values["cpulimit"]), (100, 1, 2, 0.5))

    def test_json_types_that_perl_refuses(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", cores=True, name=["a"], agent={}),
            {"cores": "type check ('integer') failed - got "
                      "JSON::PP::Boolean",
             "name": "type check ('string') failed - got ARRAY",
             "agent": "type check ('string') failed - got HASH"})
        self.assertEqual(errors(*CREATE, vmid="100", cores=1.5),
                         {"cores": "type check ('integer') failed - got "
                                   "'1.5'"})

    def test_legacy_normalization(self):
        # RESTHandler.pm: a list for a -list format is joined, a scalar for
        # an array becomes a list
        values, errs = check(*CONFIG, delete=["net1", "scsi1"])
        self.assertEqual((values["delete"], errs), ("net1,scsi1", {}))
        exe = ("POST", "/nodes/pve1/qemu/100/agent/exec")
        values, errs = check(*exe, command="uptime")
        self.assertEqual((values["command"], errs), (["uptime"], {}))
        self.assertEqual(errors(*exe, command=["ls", {}]),
                         {"command[1]": "type check ('string') failed - got "
                                        "HASH"})


class IndexedOptionsTest(unittest.TestCase):

    def test_index_ranges(self):
        cases = [("scsi30", "local-lvm:1", True), ("scsi31", "local-lvm:1",
                                                   False),
                 ("ide3", "none", True), ("ide4", "none", False),
                 ("sata5", "none", True), ("sata6", "none", False),
                 ("virtio15", "none", True), ("virtio16", "none", False),
                 ("net31", "virtio,bridge=vmbr0", True),
                 ("net32", "virtio,bridge=vmbr0", False),
                 ("ipconfig31", "ip=dhcp", True),
                 ("ipconfig32", "ip=dhcp", False),
                 ("unused255", "local-lvm:vm-100-disk-1", True),
                 ("unused256", "local-lvm:vm-100-disk-1", False),
                 ("serial3", "socket", True), ("serial4", "socket", False),
                 ("scsi01", "local-lvm:1", False)]
        for name, value, ok in cases:
            with self.subTest(name=name):
                self.assertEqual(errors(*CREATE, vmid="100",
                                        **{name: value}),
                                 {} if ok else {name: NOT_DEFINED})

    def test_property_schema_resolves_indexed_names(self):
        entry = SCHEMA.find_entry("POST", "/nodes/{node}/qemu")
        net = SCHEMA.property_schema(entry, "net0")
        self.assertIn("bridge", net["format"])
        self.assertIsNone(SCHEMA.property_schema(entry, "net32"))
        self.assertEqual(SCHEMA.property_schema(entry, "efidisk0")["type"],
                         "string")
        self.assertIsNone(SCHEMA.property_schema(entry, "bogus0"))


class PropertyStringTest(unittest.TestCase):

    def test_agent_boolean_sub_key(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", agent="enabled=maybe"),
            {"agent": "invalid format - format error\nagent.enabled: type "
                      "check ('boolean') failed - got 'maybe'\n"})
        # parse_boolean accepts words inside property strings
        self.assertEqual(errors(*CREATE, vmid="100",
                                agent="enabled=true,fstrim_cloned_disks=on"),
                         {})
        self.assertEqual(errors(*CREATE, vmid="100", agent="True"), {})

    def test_unknown_and_missing_sub_keys(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", agent="1,foo=2"),
            {"agent": "invalid format - format error\nagent.foo: "
                      + NOT_DEFINED + "\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", net0="bridge=vmbr0"),
            {"net0": "invalid format - format error\nnet0.model: "
                     + MISSING + "\n"})

    def test_sub_key_format_error_keeps_both_newlines(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", net0="virtio=01:00:00:00:00:01"),
            {"net0": "invalid format - format error\nnet0.macaddr: invalid "
                     "format - value does not look like a valid unicast MAC "
                     "address\n\n"})

    def test_sub_key_range(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", net0="virtio,bridge=vmbr0,tag=5000"),
            {"net0": "invalid format - format error\nnet0.tag: value must "
                     "have a maximum value of 4094\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", memory="8"),
            {"memory": "invalid format - format error\nmemory.current: value "
                       "must have a minimum value of 16\n"})

    def test_sub_key_enum(self):
        self.assertEqual(
            errors(*CREATE, vmid="100", scsi0="local-lvm:1,cache=bogus"),
            {"scsi0": "invalid format - format error\nscsi0.cache: value "
                      "'bogus' does not have a value in the enumeration "
                      "'none, writethrough, writeback, unsafe, directsync'\n"})

    def test_parse_errors(self):
        cases = {
            "virtio,model=e1000": "duplicate key in comma-separated list "
                                  "property: model",
            "virtio,e1000": "duplicate key in comma-separated list "
                            "property: model",
            "virtio=BC:24:11:00:00:01,e1000=BC:24:11:00:00:02":
                "key alias 'model' is already defined",
            "macaddr=BC:24:11:00:00:01,virtio=BC:24:11:00:00:01":
                "key 'macaddr' is already defined (via alias)",
            "virtio,=x": "missing key in comma-separated list property",
            "virtio,bridge=": "missing key in comma-separated list property",
        }
        for value, msg in cases.items():
            with self.subTest(value=value):
                self.assertEqual(errors(*CREATE, vmid="100", net0=value),
                                 {"net0": "invalid format - %s\n" % msg})
        self.assertEqual(
            errors(*CREATE, vmid="100", ipconfig0="dhcp"),
            {"ipconfig0": "invalid format - value without key, but schema "
                          "does not define a default key\n"})

    def test_drive_strings(self):
        for value in ("local-lvm:32", "local-lvm:cloudinit", "none",
                      "local-lvm:0,import-from=local:import/x.qcow2",
                      "file=local-lvm:vm-100-disk-0,size=32G,discard=on",
                      "volume=local-lvm:vm-100-disk-0,iothread=1",
                      "local:iso/d.iso,media=cdrom",
                      "local-lvm:0,import-from=/var/lib/x.qcow2"):
            with self.subTest(value=value):
                self.assertEqual(errors(*CREATE, vmid="100", scsi0=value),
                                 {})
        self.assertEqual(
            errors(*CREATE, vmid="100", scsi0="x:1"),
            {"scsi0": "invalid format - format error\nscsi0.file: invalid "
                      "format - unable to parse volume ID 'x:1'\n\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", scsi0="local-lvm:1,size=32Q"),
            {"scsi0": "invalid format - format error\nscsi0.size: invalid "
                      "format - value does not look like a valid disk size: "
                      "32Q\n\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", cdrom="local:iso/d.iso,"
                   "import-from=local:1"),
            {"cdrom": "invalid format - format error\ncdrom.import-from: "
                      + NOT_DEFINED + "\n"})

    def test_ipconfig(self):
        for value in ("ip=dhcp", "ip=10.0.0.5/24,gw=10.0.0.1", "ip6=auto",
                      "ip6=fd00::5/64,gw6=fd00::1", "ip=dhcp,ip6=dhcp"):
            with self.subTest(value=value):
                self.assertEqual(errors(*CREATE, vmid="100",
                                        ipconfig0=value), {})
        self.assertEqual(
            errors(*CREATE, vmid="100", ipconfig0="gw=10.0.0.1"),
            {"ipconfig0": "invalid format - format error\nipconfig0.ip: "
                          "missing property required by 'ipconfig0.gw'\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", ipconfig0="ip=10.0.0.5/33"),
            {"ipconfig0": "invalid format - format error\nipconfig0.ip: "
                          "invalid format - value does not look like a valid "
                          "ipv4 network configuration\n\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", ipconfig0="ip=dhcp,foo=1"),
            {"ipconfig0": "invalid format - format error\nipconfig0.foo: "
                          + NOT_DEFINED + "\n"})

    def test_boot_and_cpu(self):
        self.assertEqual(errors(*CREATE, vmid="100",
                                boot="order=scsi0;ide2;net0"), {})
        self.assertEqual(
            errors(*CREATE, vmid="100", boot="order=scsi0;efidisk0"),
            {"boot": "invalid format - format error\nboot.order: invalid "
                     "format - invalid boot device 'efidisk0'\n\n"})
        for cpu in ("host", "x86-64-v2-AES", "kvm64,flags=+aes;-pcid"):
            self.assertEqual(errors(*CREATE, vmid="100", cpu=cpu), {})
        self.assertEqual(
            errors(*CREATE, vmid="100", cpu="foo"),
            {"cpu": "invalid format - Built-in cputype 'foo' is not defined "
                    "(missing 'custom-' prefix?)\n"})

    def test_parse_property_string_helper(self):
        entry = SCHEMA.find_entry("POST", "/nodes/{node}/qemu")
        fmt = SCHEMA.property_schema(entry, "net0")["format"]
        self.assertEqual(
            S.parse_property_string(fmt, "virtio=BC:24:11:00:00:01,"
                                    "bridge=vmbr0,firewall=1,tag=10"),
            {"model": "virtio", "macaddr": "BC:24:11:00:00:01",
             "bridge": "vmbr0", "firewall": 1, "tag": "10"})
        drive = SCHEMA.property_schema(entry, "scsi0")["format"]
        self.assertEqual(
            S.parse_property_string(drive, "local-lvm:0,import-from="
                                    "local:import/x.qcow2"),
            {"file": "local-lvm:0", "import-from": "local:import/x.qcow2"})
        self.assertEqual(S.parse_property_string("pve-qm-ipconfig",
                                                 "ip=10.0.0.5/24,gw=10.0.0.1"),
                         {"ip": "10.0.0.5/24", "gw": "10.0.0.1"})
        with self.assertRaises(S.SchemaError) as cm:
            S.parse_property_string("pve-qm-ipconfig", "gw=10.0.0.1",
                                    "ipconfig0")
        self.assertEqual(str(cm.exception),
                         "format error\nipconfig0.ip: missing property "
                         "required by 'ipconfig0.gw'\n")
        self.assertEqual(cm.exception.errors,
                         {"ipconfig0.ip": "missing property required by "
                                          "'ipconfig0.gw'"})


class NamedFormatTest(unittest.TestCase):

    def expect(self, fmt, good, bad, msg):
        for value in good:
            with self.subTest(fmt=fmt, value=value):
                S.check_format(fmt, value)
        for value in bad:
            with self.subTest(fmt=fmt, value=value):
                with self.assertRaises(S.SchemaError) as cm:
                    S.check_format(fmt, value)
                self.assertEqual(str(cm.exception),
                                 msg.replace("VALUE", value))

    def test_formats(self):
        self.expect("pve-vmid", ["100", "999999999"], ["99", "0100", "1e3"],
                    "value does not look like a valid VM ID\n")
        self.expect("pve-node", ["pve1", "a", "pve-1"], ["pve_1", "-a", ""],
                    "value does not look like a valid node name\n")
        self.expect("pve-storage-id", ["local-lvm", "nfs.1"], ["1local",
                                                               "a$b"],
                    "storage ID 'VALUE' contains illegal characters\n")
        self.expect("pve-storage-id", [], ["a", ""],
                    "storage ID 'VALUE' cannot be shorter than 2 "
                    "characters\n")
        self.expect("pve-configid", ["net0", "scsi1"], ["0net", "a"],
                    "invalid configuration ID 'VALUE'\n")
        self.expect("urlencoded", ["ssh-rsa%20AAA%2B", ""], ["a b", "a+b"],
                    "invalid urlencoded string: VALUE\n")
        self.expect("disk-size", ["32G", "1.5T", "512", "4KiB"],
                    ["32Q", "-1G", "+1G"],
                    "value does not look like a valid disk size: VALUE\n")
        self.expect("dns-name", ["web01", "a.example.org"], ["a_b", "-a",
                                                              "a."],
                    "value does not look like a valid DNS name\n")
        self.expect("mac-addr", ["BC:24:11:00:00:01", "02:00:00:00:00:00"],
                    ["01:00:00:00:00:01", "BC:24:11:00:00"],
                    "value does not look like a valid unicast MAC address\n")
        self.expect("pve-poolid", ["lab", "a/b/c"], ["a b"],
                    "pool name 'VALUE' contains invalid characters\n")
        self.expect("pve-poolid", [], ["a/b/c/d"],
                    "pool name 'VALUE' nested too deeply (max levels = 3)\n")
        self.expect("address", ["10.0.0.1", "fd00::1", "dns.lan"],
                    ["0", "a..b"],
                    "value does not look like a valid address: VALUE\n")
        self.expect("pve-qm-bootdisk", ["scsi0", "efidisk0"],
                    ["scsi31", "net0"], "invalid boot disk 'VALUE'\n")

    def test_list_suffix(self):
        self.assertEqual(S.check_format("pve-vmid-list", "100,101;102 103"),
                         ["100", "101", "102", "103"])
        self.assertEqual(S.check_format("pve-vmid-list", ""), [])
        with self.assertRaises(S.SchemaError) as cm:
            S.check_format("pve-vmid-list", "100,9")
        self.assertEqual(str(cm.exception),
                         "value does not look like a valid VM ID\n")
        self.assertEqual(
            errors(*CONFIG, delete="net1,foo$"),
            {"delete": "invalid format - invalid configuration ID 'foo$'\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", tags="web;db,a+b"), {})
        self.assertEqual(
            errors(*CREATE, vmid="100", tags="web;$x"),
            {"tags": "invalid format - invalid characters in tag\n"})
        self.assertEqual(
            errors(*CREATE, vmid="100", nameserver="1.1.1.1 8.8.8.8"), {})
        self.assertEqual(
            errors(*CREATE, vmid="100", nameserver="1.1.1.1 a_b"),
            {"nameserver": "invalid format - value does not look like a "
                           "valid address: a_b\n"})

    def test_top_level_formats(self):
        self.assertEqual(errors(*CREATE, vmid="100", sshkeys="ssh-rsa AAA"),
                         {"sshkeys": "invalid format - invalid urlencoded "
                                     "string: ssh-rsa AAA\n"})
        self.assertEqual(errors(*CREATE, vmid="100", name="web_01"),
                         {"name": "invalid format - value does not look like "
                                  "a valid DNS name\n"})
        self.assertEqual(errors("GET", "/nodes/pve_1/status"),
                         {"node": "invalid format - value does not look like "
                                  "a valid node name\n"})
        self.assertEqual(errors(*CREATE, vmid="100", pool="a/b/c/d"),
                         {"pool": "invalid format - pool name 'a/b/c/d' "
                                  "nested too deeply (max levels = 3)\n"})
        self.assertEqual(
            errors("POST", "/nodes/pve1/storage/x/download-url",
                   url="https://x/a.iso", content="iso", filename="a.iso"),
            {"storage": "invalid format - storage ID 'x' cannot be shorter "
                        "than 2 characters\n"})

    def test_every_subset_format_is_known(self):
        names = set()

        def walk(prop):
            fmt = prop.get("format")
            if isinstance(fmt, str):
                names.add(fmt)
            elif isinstance(fmt, dict):
                for sub in fmt.values():
                    walk(sub)
            if isinstance(prop.get("items"), dict):
                walk(prop["items"])
        for entry in SCHEMA.entries:
            for prop in entry["parameters"].get("properties", {}).values():
                walk(prop)
        for name in sorted(names):
            base = re.fullmatch(r"(.*?)(?:-(list|opt))?", name).group(1)
            with self.subTest(format=name):
                self.assertTrue(base in S.FORMATS or
                                name in S.UNCHECKED_FORMATS)


if __name__ == "__main__":
    unittest.main()
