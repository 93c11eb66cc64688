"""Every route the simulator serves exists in the official PVE schema."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from hlsim import (agent, api_cluster, api_qemu,  # noqa: E402,F401
                   api_storage, api_vzdump)
from hlsim.routes import ROUTES  # noqa: E402

APIDATA = os.path.join(HERE, "..", "..", "..", "shared", "pve-api",
                       "apidata.json")


def official():
    with open(APIDATA, encoding="utf-8") as f:
        tree = json.load(f)
    out = set()

    def walk(nodes):
        for n in nodes:
            for m in (n.get("info") or {}):
                out.add((m, n["path"]))
            walk(n.get("children") or [])
    walk(tree)
    return out


class Routes(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(APIDATA), "../shared not beside")
    def test_every_route_is_official(self):
        missing = sorted(set(ROUTES) - official())
        self.assertEqual(missing, [])

    def test_every_route_is_in_the_vendored_subset(self):
        with open(os.path.join(HERE, "..", "schema", "pve-api-subset.json"),
                  encoding="utf-8") as f:
            subset = {(e["method"], e["path"]) for e in json.load(f)}
        self.assertEqual(sorted(set(ROUTES) - subset), [])


if __name__ == "__main__":
    unittest.main()
