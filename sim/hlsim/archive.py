"""The simulator's backup archive: what vzdump writes and qmrestore reads.

Named as PVE names a VM's archive (vzdump-qemu-VMID-YYYY_MM_DD-HH_MM_SS
.vma[.zst|.gz|.lzo], pve-manager PVE/VZDump.pm exec_backup_task), but the
simulator's own format, not VMA (there is no vma tool here, and a guest's
disk is a tree, not a block device).  Inside the compression, a POSIX tar
(GNU tar) holding, in this order:

  qemu-server.conf      the config as vzdump stores it (qemu-server
                        PVE/VZDump/QemuServer.pm assemble: no lock, parent,
                        unusedN, pending or special sections; one
                        "#qmdump#map:<dev>:drive-<dev>:<storage>:<format>:"
                        line per disk in the archive)
  hl-sim-disks.json     per disk: size, format, how many trees it holds,
                        and the image tree below them (a built image's
                        rootfs, named by path: it is never copied)
  drive-<dev>.<n>.tar   the disk's trees, topmost (its own overlay upper/)
                        first, then a linked clone's bases; each a GNU tar
                        with xattrs, so overlay whiteouts and opaque
                        directories come back as they were

A restore makes each tree again, byte for byte, under the new volume.
"""

import json
import os
import shutil
import subprocess
import tarfile

CONF = "qemu-server.conf"
DISKS = "hl-sim-disks.json"

# compress parameter -> (file extension, compressor, decompressor)
# (PVE/VZDump.pm compressor_info: 1 is lzo)
COMPRESSORS = {
    "0": ("", None, None),
    "1": ("lzo", ["lzop"], ["lzop", "-d", "-c"]),
    "lzo": ("lzo", ["lzop"], ["lzop", "-d", "-c"]),
    "gzip": ("gz", ["gzip", "-c"], ["gzip", "-d", "-c"]),
    "zstd": ("zst", ["zstd", "-q", "-c"], ["zstd", "-q", "-d", "-c"]),
}
BY_EXT = {"": None, "lzo": ["lzop", "-d", "-c"], "gz": ["gzip", "-d", "-c"],
          "zst": ["zstd", "-q", "-d", "-c"]}

# tar options for a disk's tree: owners by number, modes, xattrs (overlay
# whiteouts are 0/0 character devices, opaque directories an xattr)
TREE_OPTS = ["--xattrs", "--xattrs-include=*", "--numeric-owner",
             "--acls", "--selinux"]


class ArchiveError(Exception):
    pass


def compressor(compress):
    """(extension, command) for vzdump's compress value; ArchiveError when
    the command is not installed (PVE's check_bin)."""
    ext, cmd, _ = COMPRESSORS[str(compress or "0")]
    if cmd and shutil.which(cmd[0]) is None:
        raise ArchiveError("unable to find command '%s'" % cmd[0])
    return ext, cmd


def decompressor(path):
    """The command that decompresses the archive at path, by its name."""
    ext = path.rsplit(".", 1)[-1] if not path.endswith(".vma") else ""
    if ext not in BY_EXT:
        raise ArchiveError("unable to detect archive format of '%s'"
                           % os.path.basename(path))
    return BY_EXT[ext]


def add_tree(staging, name, tree):
    """Put one disk tree into the staging directory as name (a tar)."""
    r = subprocess.run(["tar", "-cpf", os.path.join(staging, name)] +
                       TREE_OPTS + ["-C", tree, "."],
                       capture_output=True, text=True)
    # 1: a file changed while read (a running guest): still archived
    if r.returncode not in (0, 1):
        raise ArchiveError("archiving '%s' failed: %s"
                           % (tree, r.stderr.strip()))


def write(staging, members, target, cmd):
    """Tar the staging directory's members (in order) through cmd into
    target."""
    with open(target, "wb") as out:
        tar = subprocess.Popen(["tar", "-cf", "-", "--format=posix", "-C",
                                staging] + members,
                               stdout=subprocess.PIPE if cmd else out,
                               stderr=subprocess.PIPE)
        comp = None
        if cmd:
            comp = subprocess.Popen(cmd, stdin=tar.stdout, stdout=out,
                                    stderr=subprocess.PIPE)
            tar.stdout.close()
            cerr = comp.communicate()[1]
        err = tar.communicate()[1]
    if tar.returncode or (comp and comp.returncode):
        raise ArchiveError("writing the archive failed: %s" % (
            (err or b"") + (cerr if comp else b"")).decode(errors="replace")
            .strip())


def _stream(path):
    cmd = decompressor(path)
    if cmd is None:
        return None, open(path, "rb")
    proc = subprocess.Popen(cmd + [path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    return proc, proc.stdout


def read_config(path):
    """The archive's qemu-server.conf text (extract_vzdump_config)."""
    proc, f = _stream(path)
    try:
        with tarfile.open(fileobj=f, mode="r|") as t:
            for m in t:
                if m.name.lstrip("./") == CONF:
                    return t.extractfile(m).read().decode("utf-8")
    except (tarfile.TarError, OSError) as e:
        raise ArchiveError("unable to read '%s': %s"
                           % (os.path.basename(path), e))
    finally:
        f.close()
        if proc:
            proc.kill()
            proc.wait()
    raise ArchiveError("unable to extract configuration from '%s'"
                       % os.path.basename(path))


def unpack(path, dest):
    """Everything in the archive into dest; the disks' description."""
    os.makedirs(dest, exist_ok=True)
    cmd = decompressor(path)
    if cmd:
        src = subprocess.Popen(cmd + [path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        r = subprocess.run(["tar", "-xf", "-", "-C", dest], stdin=src.stdout,
                           capture_output=True)
        src.stdout.close()
        src.wait()
        bad = src.returncode or r.returncode
    else:
        r = subprocess.run(["tar", "-xf", path, "-C", dest],
                           capture_output=True)
        bad = r.returncode
    if bad:
        raise ArchiveError("unable to unpack '%s': %s" % (
            os.path.basename(path), r.stderr.decode(errors="replace")
            .strip() or "decompression failed"))
    try:
        with open(os.path.join(dest, DISKS), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        raise ArchiveError("'%s' is not a simulator archive (no %s)"
                           % (os.path.basename(path), DISKS))


def extract_tree(tarpath, dest):
    """One disk tree (from unpack) into dest, as it was archived."""
    os.makedirs(dest, exist_ok=True)
    r = subprocess.run(["tar", "-xpf", tarpath] + TREE_OPTS +
                       ["--same-owner", "-C", dest],
                       capture_output=True, text=True)
    if r.returncode:
        raise ArchiveError("restoring '%s' failed: %s"
                           % (os.path.basename(tarpath), r.stderr.strip()))
