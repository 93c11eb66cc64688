"""Tests for the backups' pieces: the archive (hlsim/archive.py), PVE's
prune marking, names and notes (hlsim/api_vzdump.py), the archived config
read back (hlsim/restore.py) and vzdump's parameter checks.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s sim/tests
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

SIM = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SIM)

from hlsim import archive, schema as S  # noqa: E402
from hlsim.api_vzdump import (_ctime, _notes, archived_config,  # noqa: E402
                              prune_mark)
from hlsim.errors import TaskError  # noqa: E402
from hlsim.restore import parse_config  # noqa: E402

SCHEMA = S.Schema(os.path.join(SIM, "schema", "pve-api-subset.json"))


def vzdump_errors(**params):
    entry, path_params = SCHEMA.match("POST", "/nodes/pve1/vzdump")
    return SCHEMA.validate(entry, dict(path_params, **params))[1]


class FakeSim:
    cfg = {"cluster": "hl-sim"}


class Prune(unittest.TestCase):
    def entries(self, *hours_ago, protected=()):
        now = int(time.mktime((2026, 12, 5, 12, 0, 0, 0, 0, -1)))
        return [{"name": i, "ctime": now - h * 3600,
                 "protected": i in protected}
                for i, h in enumerate(hours_ago)]

    def marks(self, entries):
        return {e["name"]: e["mark"] for e in entries}

    def test_keep_all_keeps_everything(self):
        e = prune_mark(self.entries(0, 1, 2), {"keep-all": 1})
        self.assertEqual(set(self.marks(e).values()), {"keep"})

    def test_keep_last_keeps_the_newest(self):
        e = prune_mark(self.entries(2, 0, 1), {"keep-last": "2"})
        self.assertEqual(self.marks(e), {0: "remove", 1: "keep", 2: "keep"})

    def test_keep_daily_keeps_the_newest_of_each_day(self):
        # 0 and 1 hours ago: one day; 30 hours ago: the day before
        e = prune_mark(self.entries(0, 1, 30), {"keep-daily": "2"})
        self.assertEqual(self.marks(e), {0: "keep", 1: "remove", 2: "keep"})

    def test_protected_ones_do_not_count(self):
        e = prune_mark(self.entries(0, 1, 2, protected=(0,)),
                       {"keep-last": "1"})
        self.assertEqual(self.marks(e),
                         {0: "protected", 1: "keep", 2: "remove"})


class Formats(unittest.TestCase):
    def test_prune_backups(self):
        self.assertEqual(vzdump_errors(vmid="100",
                                       **{"prune-backups": "keep-last=2"}),
                         {})
        self.assertEqual(
            vzdump_errors(vmid="100",
                          **{"prune-backups": "keep-all=1,keep-last=2"}),
            {"prune-backups": "invalid format - keep-all cannot be set "
                              "together with other options.\n"})
        self.assertIn("prune-backups", vzdump_errors(
            vmid="100", **{"prune-backups": "keep-last=-1"}))
        self.assertIn("prune-backups", vzdump_errors(
            vmid="100", **{"prune-backups": "keep-forever=1"}))
        self.assertEqual(S.parse_property_string("prune-backups",
                                                 "keep-last=0"),
                         {"keep-all": 1})

    def test_vmid_list_and_enums(self):
        self.assertEqual(vzdump_errors(vmid="100,101", mode="stop",
                                       compress="zstd"), {})
        self.assertIn("vmid", vzdump_errors(vmid="100,abc"))
        self.assertIn("compress", vzdump_errors(vmid="100", compress="xz"))
        self.assertIn("fleecing", vzdump_errors(
            vmid="100", fleecing="enabled=maybe"))
        self.assertEqual(vzdump_errors(vmid="100", fleecing="1",
                                       performance="max-workers=4"), {})

    def test_escaped_volume_is_one_segment(self):
        entry, params = SCHEMA.match(
            "DELETE", ["nodes", "pve1", "storage", "local", "content",
                       "local:backup/vzdump-qemu-100.vma.zst"])
        self.assertEqual(entry["path"],
                         "/nodes/{node}/storage/{storage}/content/{volume}")
        self.assertEqual(params["volume"],
                         "local:backup/vzdump-qemu-100.vma.zst")


class Names(unittest.TestCase):
    def test_ctime_is_the_names_local_time(self):
        name = "vzdump-qemu-100-2026_12_05-00_12_25.vma.zst"
        self.assertEqual(_ctime(name), int(time.mktime(
            (2026, 12, 5, 0, 12, 25, 0, 0, -1))))
        self.assertIsNone(_ctime("other.vma"))

    def test_notes_template(self):
        self.assertEqual(_notes("{{guestname}}\\n{{node}}/{{vmid}} "
                                "{{cluster}} \\\\", FakeSim, "pve1", 100,
                                "web"),
                         "web\npve1/100 hl-sim \\")
        with self.assertRaises(TaskError):
            _notes("{{nope}}", FakeSim, "pve1", 100, "web")


class Config(unittest.TestCase):
    def test_archived_and_read_back(self):
        conf = {"name": "web", "lock": "backup", "cores": 2,
                "unused0": "local-lvm:vm-100-disk-1",
                "scsi0": "local-lvm:vm-100-disk-0,size=2G",
                "description": "two\nlines"}
        text = archived_config(conf, [{"virtdev": "scsi0",
                                       "storage": "local-lvm",
                                       "format": "raw"}])
        self.assertTrue(text.endswith(
            "#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n"))
        self.assertNotIn("lock:", text)
        self.assertNotIn("unused0", text)
        back = parse_config(text)
        self.assertEqual(back, {"name": "web", "cores": "2",
                                "scsi0": "local-lvm:vm-100-disk-0,size=2G",
                                "description": "two\nlines"})


@unittest.skipUnless(shutil.which("zstd") and shutil.which("tar"),
                     "zstd and GNU tar")
class Archive(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as tmp:
            tree = os.path.join(tmp, "upper")
            os.makedirs(os.path.join(tree, "etc"))
            data = os.urandom(70000)
            with open(os.path.join(tree, "etc", "probe"), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(tree, "etc", "probe"), 0o640)
            os.symlink("probe", os.path.join(tree, "etc", "link"))
            staging = os.path.join(tmp, "staging")
            os.makedirs(staging)
            with open(os.path.join(staging, archive.CONF), "w") as f:
                f.write("name: web\n")
            with open(os.path.join(staging, archive.DISKS), "w") as f:
                f.write('{"disks": []}')
            archive.add_tree(staging, "drive-scsi0.0.tar", tree)
            ext, cmd = archive.compressor("zstd")
            target = os.path.join(tmp, "vzdump-qemu-100-x.vma." + ext)
            archive.write(staging, [archive.CONF, archive.DISKS,
                                    "drive-scsi0.0.tar"], target, cmd)
            self.assertEqual(archive.read_config(target), "name: web\n")
            out = os.path.join(tmp, "out")
            self.assertEqual(archive.unpack(target, out), {"disks": []})
            back = os.path.join(tmp, "back")
            archive.extract_tree(os.path.join(out, "drive-scsi0.0.tar"),
                                 back)
            with open(os.path.join(back, "etc", "probe"), "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(os.stat(os.path.join(back, "etc", "probe"))
                             .st_mode & 0o777, 0o640)
            self.assertEqual(os.readlink(os.path.join(back, "etc", "link")),
                             "probe")

    def test_compress_names(self):
        self.assertEqual(archive.compressor("0"), ("", None))
        self.assertEqual(archive.compressor("gzip")[0], "gz")
        self.assertEqual(archive.decompressor("a.vma"), None)
        with self.assertRaises(archive.ArchiveError):
            archive.decompressor("a.vma.xz")


if __name__ == "__main__":
    unittest.main()
