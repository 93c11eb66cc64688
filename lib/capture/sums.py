"""hl-capture's checksums on a host: lib/capture/sums.c builds this file in
as a string and runs it as `sudo -n python3 -c SUMS VERB ARGS...`.  Its
answer is one JSON document on stdout.

  write PATH...  The SHA-256 of every regular file under the data paths
                 into MANIFEST, which the snapshot then holds beside the
                 data.  A file is read again only when its size, mtime,
                 ctime or inode changed since the last write (CACHE), so
                 a capture of quiet data reads none of it, and writes
                 neither.
                 {"files": N, "bytes": N, "hashed": N}
  check ROOT     Every file the manifest under ROOT names (ROOT is / after
                 a restore, the drill's directory in verify), hashed where
                 it is under ROOT.  {"manifest": false} when ROOT holds no
                 manifest; else {"manifest": true, "files", "bytes",
                 "mismatches": ["PATH: why"], "changed": [PATH]}: changed
                 files have another mtime than the one hashed, as a file
                 written while the capture ran has; not damage.
"""
import hashlib
import json
import os
import stat
import sys

MANIFEST = "/var/lib/hl/capture/manifest.json"
# not beside the manifest's directory: a change there would be a change of
# /var/lib/hl, which the snapshot holds as the manifest's parent
CACHE = "/var/cache/hl/capture-sums.json"


def sha256(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def files(top):
    """Each regular file under top (top itself when it is one), never
    through a symbolic link: (path, lstat)."""
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode):
        yield top, st
    if not stat.S_ISDIR(st.st_mode):
        return
    for d, dirs, names in os.walk(top):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue        # gone while we looked
            if stat.S_ISREG(st.st_mode):
                yield p, st


def dump(path, doc):
    """doc written to path whole (root only), in one rename."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, sort_keys=True)
    os.replace(tmp, path)


def write(paths):
    try:
        with open(CACHE) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    out, fresh, hashed, total = {}, {}, 0, 0
    for top in paths:
        for p, st in files(top):
            key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            old = cache.get(p)
            if old and old[:4] == key:
                digest = old[4]
            else:
                try:
                    digest = sha256(p)
                except (FileNotFoundError, OSError):
                    continue    # gone, or replaced by a link, meanwhile
                hashed += 1
            fresh[p] = key + [digest]
            out[p] = [digest, st.st_size, st.st_mtime_ns]
            total += st.st_size
    doc = {"version": 1, "files": out}
    try:
        with open(MANIFEST) as f:
            same = json.load(f) == doc
    except (OSError, ValueError):
        same = False
    if not same:        # an unchanged manifest is unchanged in the snapshot
        dump(MANIFEST, doc)
    if fresh != cache:
        dump(CACHE, fresh)
    return {"files": len(out), "bytes": total, "hashed": hashed}


def check(root):
    try:
        with open(os.path.join(root, MANIFEST.lstrip("/"))) as f:
            m = json.load(f)
    except FileNotFoundError:
        return {"manifest": False}
    bad, changed, n, total = [], [], 0, 0
    for path, (digest, size, mtime) in sorted(m.get("files", {}).items()):
        p = os.path.join(root, path.lstrip("/"))
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            bad.append("%s: not restored" % path)
            continue
        if not stat.S_ISREG(st.st_mode):
            bad.append("%s: not a regular file" % path)
        elif st.st_mtime_ns != mtime:
            changed.append(path)
        elif st.st_size != size:
            bad.append("%s: size %d, captured %d" % (path, st.st_size, size))
        elif sha256(p) != digest:
            bad.append("%s: content differs from its checksum" % path)
        else:
            n += 1
            total += size
    return {"manifest": True, "files": n, "bytes": total,
            "mismatches": bad, "changed": changed}


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    try:
        doc = write(args) if verb == "write" else check(args[0])
    except OSError as e:
        doc = {"error": "%s: %s" % (e.filename or verb, e.strerror)}
    print(json.dumps(doc))


main()
