"""sim/images/build-registry writes Docker Registry v2's storage layout:
names as Docker Hub's, every link pointing at a blob whose bytes hash to
it, the manifest naming its config and layers with their real sizes."""

import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "images", "build-registry")


def load(cache):
    """The script as a module, its cache at cache (it reads HL_SIM_CACHE
    when loaded)."""
    old = os.environ.get("HL_SIM_CACHE")
    os.environ["HL_SIM_CACHE"] = cache
    try:
        loader = importlib.machinery.SourceFileLoader("build_registry",
                                                      SCRIPT)
        spec = importlib.util.spec_from_loader("build_registry", loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod
    finally:
        if old is None:
            del os.environ["HL_SIM_CACHE"]
        else:
            os.environ["HL_SIM_CACHE"] = old


def rootfs_tar(path):
    with tarfile.open(path, "w") as tf:
        data = b"hello\n"
        info = tarfile.TarInfo("etc/hello")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


class TestRegistryLayout(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.br = load(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_docker_hub_names(self):
        self.assertEqual(self.br.hub_name("busybox:1.36"),
                         ("library/busybox", "1.36"))
        self.assertEqual(self.br.hub_name("docker.io/library/debian:12"),
                         ("library/debian", "12"))
        self.assertEqual(self.br.hub_name("owner/app:v1"), ("owner/app", "v1"))
        for bad in ("busybox", "ghcr.io/o/a:1", "localhost/a:1",
                    "Upper:1", "a:-bad", "host:5000/a"):
            with self.assertRaises(self.br.Fail, msg=bad):
                self.br.hub_name(bad)

    def blob(self, digest):
        hexd = digest.split(":")[1]
        path = os.path.join(self.br.V2, "blobs", "sha256", hexd[:2], hexd,
                            "data")
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual("sha256:" + hashlib.sha256(data).hexdigest(), digest)
        return data

    def link(self, *parts):
        with open(os.path.join(self.br.V2, "repositories", *parts)) as f:
            return f.read()

    def test_a_rootfs_tarball_is_one_layer_behind_its_tag(self):
        tar = os.path.join(self.tmp.name, "r.tar")
        rootfs_tar(tar)
        os.makedirs(self.br.V2)
        mdigest, cdigest = self.br.add_tarball("myapp:1.0", tar, ["app"],
                                               self.tmp.name)
        repo = ("library", "myapp", "_manifests")
        self.assertEqual(self.link(*repo, "tags", "1.0", "current", "link"),
                         mdigest)
        self.assertEqual(self.link(*repo, "tags", "1.0", "index", "sha256",
                                   mdigest[7:], "link"), mdigest)
        self.assertEqual(self.link(*repo, "revisions", "sha256", mdigest[7:],
                                   "link"), mdigest)
        m = json.loads(self.blob(mdigest))
        self.assertEqual(m["mediaType"], self.br.MT_MANIFEST)
        self.assertEqual(m["config"]["digest"], cdigest)
        cfg = json.loads(self.blob(cdigest))
        self.assertEqual(cfg["config"]["Cmd"], ["app"])
        self.assertEqual(len(m["layers"]), 1)
        layer = m["layers"][0]
        data = self.blob(layer["digest"])
        self.assertEqual(len(data), layer["size"])
        self.assertEqual(layer["mediaType"], self.br.MT_LAYER)
        # the diff_id is the uncompressed tar's digest, as Docker checks
        with open(tar, "rb") as f:
            self.assertEqual(cfg["rootfs"]["diff_ids"],
                             ["sha256:" + hashlib.sha256(f.read()).hexdigest()])
        for d in (cdigest, layer["digest"]):
            self.assertEqual(self.link("library", "myapp", "_layers",
                                       "sha256", d[7:], "link"), d)
        self.assertEqual(self.br.served(), ["myapp:1.0"])

    def test_not_a_tarball_fails(self):
        bad = os.path.join(self.tmp.name, "bad.tar")
        with open(bad, "w") as f:
            f.write("not a tar\n")
        os.makedirs(self.br.V2)
        with self.assertRaises(self.br.Fail):
            self.br.add_tarball("x:1", bad, ["sh"], self.tmp.name)
        self.assertEqual(self.br.served(), [])


if __name__ == "__main__":
    unittest.main()
