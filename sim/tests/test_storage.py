"""Storage paths: the config's "path" of a dir storage, and its defaults."""

import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from hlsim import api_storage, config  # noqa: E402


class FakeSim:
    def __init__(self, cfg, state_dir):
        self.cfg = cfg
        self.state_dir = state_dir


def load(over):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(over, f)
    try:
        return config.load(f.name)
    finally:
        os.unlink(f.name)


class StoragePath(unittest.TestCase):
    def test_defaults_follow_pve(self):
        sim = FakeSim(load({"storages": {"nfs1": {
            "type": "dir", "content": ["snippets"], "size_gib": 1}}}), "/x")
        self.assertEqual(api_storage.storage_path(sim, "local"),
                         "/var/lib/vz")
        self.assertEqual(api_storage.storage_path(sim, "nfs1"),
                         "/mnt/pve/nfs1")
        self.assertIsNone(api_storage.storage_path(sim, "local-lvm"))

    def test_a_path_is_where_content_lives_in_the_node(self):
        with tempfile.TemporaryDirectory() as d:
            sim = FakeSim(load({"storages": {"snip": {
                "type": "dir", "content": ["snippets"], "size_gib": 1,
                "path": "/srv/snippets-elsewhere"}}}), d)
            got = api_storage.content_dir(sim, "pve1", "snip", "snippets")
            self.assertEqual(got, os.path.join(
                d, "nodes", "pve1", "root", "srv", "snippets-elsewhere",
                "snippets"))
            self.assertTrue(os.path.isdir(got))

    def test_bad_paths_are_refused(self):
        for st in ({"type": "dir", "path": "srv/x"},
                   {"type": "dir", "path": "/srv/../etc"},
                   {"type": "dir", "path": "/srv/x y"},
                   {"type": "lvmthin", "path": "/srv/x"}):
            st.update({"content": ["images"], "size_gib": 1})
            with self.assertRaises(ValueError):
                load({"storages": {"s": st}})


if __name__ == "__main__":
    unittest.main()
