"""Storages: list, status, content, download-url, and the volume model.

pve-storage src/PVE/API2/Storage/Status.pm (index, read_status,
download_url) and Content.pm; the rules of src/PVE/Storage.pm: import
content and a 'format' only on file storages (dir here), volids
"<storage>:<content>/<file>" on dir and "<storage>:vm-<id>-disk-<n>" on
lvmthin and zfspool.
"""

import hashlib
import ipaddress
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from .api_cluster import node_or_fail
from .errors import TaskError, fail, param_error
from .routes import route

FILE_TYPES = ("dir",)


def where(sim, node, storage):
    """The key of a storage's volumes: shared storages are one pool."""
    if sim.cfg["storages"][storage].get("shared"):
        return "shared/" + storage
    return "%s/%s" % (node, storage)


def storage_or_fail(sim, node, storage):
    node_or_fail(sim, node)
    spec = sim.cfg["storages"].get(storage)
    if spec is None or node not in spec.get("nodes", sim.cfg["nodes"]):
        raise fail("storage '%s' does not exist" % storage)
    return spec


# Where each content type lives on a file storage, as PVE lays out a dir
# storage (pve-storage src/PVE/Storage/Plugin.pm get_subdir).
SUBDIRS = {"iso": "template/iso", "vztmpl": "template/cache",
           "import": "import", "snippets": "snippets", "backup": "dump",
           "images": "images"}


def node_root(sim, node):
    """A node's own filesystem, as its SSH/SFTP server sees it (chrooted)."""
    return os.path.join(sim.state_dir, "nodes", node, "root")


def storage_path(sim, storage):
    """A dir storage's path on its nodes: the config's "path", else
    /var/lib/vz for 'local' (the installer's) and /mnt/pve/<id> for the
    others (where PVE mounts its network storages); None for a storage
    without one (lvmthin, zfspool)."""
    spec = sim.cfg["storages"][storage]
    if spec["type"] not in FILE_TYPES:
        return None
    if spec.get("path"):
        return spec["path"]
    return "/var/lib/vz" if storage == "local" else "/mnt/pve/" + storage


def content_dir(sim, node, storage, content):
    """The directory a file storage keeps content in, made on first use.

    A storage's path is inside each node's filesystem (/var/lib/vz for
    'local', as on PVE), so a snippet put there over SFTP is the
    storage's; a shared storage lives outside every node.
    """
    if sim.cfg["storages"][storage].get("shared"):
        base = os.path.join(sim.state_dir, "shared", storage)
    else:
        base = os.path.join(node_root(sim, node),
                            storage_path(sim, storage).lstrip("/"))
    path = os.path.join(base, SUBDIRS[content])
    os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def storage_status(sim, node, storage):
    spec = sim.cfg["storages"][storage]
    total = spec["size_gib"] << 30
    used = sum(v["size"] for v in sim.state.volumes(
        where(sim, node, storage)).values() if not v.get("thin"))
    # backups are files in the storage's dump directory
    from .api_vzdump import backups
    used += sum(b["size"] for b in backups(sim, node, storage))
    if "%s/%s" % (node, storage) in sim.faults.get("storages_full"):
        used = total
    used = min(used, total)
    return {"storage": storage, "type": spec["type"],
            "content": ",".join(sorted(spec["content"])), "active": 1,
            "enabled": 1, "shared": int(bool(spec.get("shared"))),
            "total": total, "used": used, "avail": total - used,
            "used_fraction": used / total if total else 0}


def allocate(sim, node, storage, vmid, size, fmt=None, name=None,
             content="images"):
    """A new volume; its volid.  500 as PVE when the storage is full."""
    spec = storage_or_fail(sim, node, storage)
    if content not in spec["content"]:
        raise TaskError("storage '%s' does not support content-type '%s'"
                        % (storage, content))
    # Only file storages hold formats other than raw (Plugin.pm alloc_image).
    if fmt and fmt != "raw" and spec["type"] not in FILE_TYPES:
        raise TaskError("unsupported format '%s'" % fmt)
    st = storage_status(sim, node, storage)
    if size > st["avail"]:
        raise TaskError("unable to create image: not enough free space on "
                        "storage '%s'" % storage)
    vols = sim.state.volumes(where(sim, node, storage))
    if name is None:
        n = 0
        while True:
            name = "vm-%s-disk-%d" % (vmid, n)
            if not any(v.split("/")[-1].split(".")[0] == name for v in vols):
                break
            n += 1
    if spec["type"] in FILE_TYPES:
        ext = fmt or "qcow2"
        volname = "%s/%s.%s" % (vmid, name, ext)
    else:
        volname = name
    vols[volname] = {"size": size, "content": content, "vmid": str(vmid),
                     "format": fmt or ("qcow2" if spec["type"] in FILE_TYPES
                                       else "raw"),
                     "ctime": int(time.time())}
    return "%s:%s" % (storage, volname)


def free_volume(sim, node, volid):
    storage, _, volname = volid.partition(":")
    if storage not in sim.cfg["storages"]:
        return
    from .guests import drop_layers
    drop_layers(sim.state.volumes(where(sim, node, storage)).pop(volname,
                                                                   None))


def volume(sim, node, volid):
    storage, _, volname = volid.partition(":")
    if storage not in sim.cfg["storages"]:
        return None
    return sim.state.volumes(where(sim, node, storage)).get(volname)


@route("GET", "/nodes/{node}/storage")
def storage_list(sim, req):
    node_or_fail(sim, req["node"])
    out = []
    for s, spec in sim.cfg["storages"].items():
        if req["node"] not in spec.get("nodes", sim.cfg["nodes"]):
            continue
        if req.get("storage") and req["storage"] != s:
            continue
        if req.get("content") and not set(req["content"].split(",")) & \
                set(spec["content"]):
            continue
        if "Datastore.Audit" not in sim.auth.privs(
                req.who, "/storage/" + s) and "Datastore.AllocateSpace" not in \
                sim.auth.privs(req.who, "/storage/" + s):
            continue
        out.append(storage_status(sim, req["node"], s))
    return out


@route("GET", "/storage/{storage}")
def storage_config(sim, req):
    """The storage's configuration (pve-storage src/PVE/API2/Storage/
    Config.pm read and $api_storage_config): storage.cfg's keys, content
    and nodes as lists, the config's digest."""
    s = req["storage"]
    spec = sim.cfg["storages"].get(s)
    if spec is None:
        # PVE::Storage::storage_config
        raise fail("storage '%s' does not exist" % s)
    out = {"storage": s, "type": spec["type"],
           "content": ",".join(sorted(spec["content"])),
           "digest": hashlib.sha1(json.dumps(sim.cfg["storages"],
                                             sort_keys=True).encode()
                                  ).hexdigest()}
    if storage_path(sim, s):
        out["path"] = storage_path(sim, s)
    if spec.get("shared"):
        out["shared"] = 1
    if "nodes" in spec:
        out["nodes"] = ",".join(spec["nodes"])
    return out


@route("GET", "/nodes/{node}/storage/{storage}/status")
def storage_get(sim, req):
    storage_or_fail(sim, req["node"], req["storage"])
    st = storage_status(sim, req["node"], req["storage"])
    st.pop("storage")
    st.pop("used_fraction")
    return st


@route("GET", "/nodes/{node}/storage/{storage}/content")
def storage_content(sim, req):
    storage_or_fail(sim, req["node"], req["storage"])
    s = req["storage"]
    out = []
    spec = sim.cfg["storages"][s]
    if spec["type"] in FILE_TYPES and "snippets" in spec["content"] and \
            req.get("content") in (None, "snippets"):
        d = content_dir(sim, req["node"], s, "snippets")
        for f in sorted(os.listdir(d)):
            st = os.stat(os.path.join(d, f))
            if os.path.isfile(os.path.join(d, f)):
                out.append({"volid": "%s:snippets/%s" % (s, f),
                            "content": "snippets", "format": "snippet",
                            "size": st.st_size, "ctime": int(st.st_mtime)})
    if req.get("content") in (None, "backup"):
        from .api_vzdump import backups
        out += backups(sim, req["node"], s, req.get("vmid"))
    with sim.state.lock:
        for volname, v in sorted(sim.state.volumes(
                where(sim, req["node"], s)).items()):
            if req.get("content") and v["content"] != req["content"]:
                continue
            if req.get("vmid") is not None and v.get("vmid") != str(
                    req["vmid"]):
                continue
            item = {"volid": "%s:%s" % (s, volname), "content": v["content"],
                    "format": v["format"], "size": v["size"],
                    "ctime": v["ctime"]}
            if v.get("vmid"):
                item["vmid"] = int(v["vmid"])
            out.append(item)
    return out


IMPORT_RE = re.compile(r"^[a-zA-Z0-9._+=-]+\.(ova|qcow2|raw|vmdk)$")
EXTENSIONS = {"iso": re.compile(r"\.(iso|img)$", re.I),
              "vztmpl": re.compile(r"\.tar(\.(gz|xz|zst|bz2))?$")}


def check_filename(content, filename):
    """download-url's and upload's file name rules (Status.pm)."""
    if content == "import":
        if not IMPORT_RE.match(filename):
            raise param_error({"filename": "invalid filename or wrong "
                               "extension"})
    elif not EXTENSIONS[content].search(filename):
        raise param_error({"filename": "wrong file extension"})


def _loopback(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _file_target(sim, req):
    """Where download-url and upload put a file, checked as Status.pm does."""
    node, s = req["node"], req["storage"]
    spec = storage_or_fail(sim, node, s)
    content = req["content"]
    if spec["type"] not in FILE_TYPES:
        raise fail("storage '%s' is not a file based storage" % s)
    if content not in spec["content"]:
        raise fail("storage '%s' is not configured for content-type '%s'"
                   % (s, content))
    filename = os.path.basename(req["filename"])
    check_filename(content, filename)
    return node, s, content, filename


def _verify(task, got, want):
    if got != want.lower():
        raise TaskError("checksum mismatch: got '%s' != expect '%s'"
                        % (got, want))
    task.log("checksum verified")


def _add_file(sim, node, storage, content, filename, size, sha512):
    """Record a file a task put on a storage.  When its content is an image
    the simulator built, the volume names the image's tree: a disk
    imported from it boots that tree (guests.py)."""
    from .mirror import rootfs_for
    vol = {"size": size, "content": content,
           "format": filename.rsplit(".", 1)[-1], "ctime": int(time.time())}
    rootfs = rootfs_for(sha512)
    if rootfs:
        vol["rootfs"] = rootfs
    with sim.state.lock:
        sim.state.volumes(where(sim, node, storage))["%s/%s" % (
            content, filename)] = vol
        sim.state.save()


class _LoopbackRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect may not lead off the simulator's loopback network."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not _loopback(newurl):
            raise urllib.error.URLError("redirected off loopback to '%s'"
                                        % newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_LoopbackRedirects)


@route("POST", "/nodes/{node}/storage/{storage}/download-url")
def download_url(sim, req):
    node, s, content, filename = _file_target(sim, req)
    url = req["url"]
    algo, want = req.get("checksum-algorithm"), req.get("checksum")

    def work(task):
        task.log("downloading %s to %s" % (url, filename))
        # The simulator's network holds loopback only (DESIGN.md 3).
        if not _loopback(url):
            raise TaskError("download failed: the simulator reaches only "
                            "loopback addresses, not '%s'" % url)
        dest = os.path.join(content_dir(sim, node, s, content), filename)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        h = hashlib.new(algo) if algo else None
        whole = hashlib.sha512()
        size = 0
        try:
            with _opener.open(url, timeout=60) as r, \
                    open(dest + ".part", "wb") as f:
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    size += len(chunk)
                    if h:
                        h.update(chunk)
                    whole.update(chunk)
                    f.write(chunk)
        except OSError as e:
            raise TaskError("download failed: %s" % e)
        if h:
            task.log("calculating checksum...")
            try:
                _verify(task, h.hexdigest(), want)
            except TaskError:
                os.unlink(dest + ".part")
                raise
        os.replace(dest + ".part", dest)
        _add_file(sim, node, s, content, filename, size, whole.hexdigest())
        task.log("download of '%s' to '%s' finished" % (url, dest))

    return sim.tasks.start(node, "download", filename, req.who, work,
                           sim.task_seconds())


@route("POST", "/nodes/{node}/storage/{storage}/upload")
def upload(sim, req):
    """Status.pm upload: the file arrived with the request; the task checks it."""
    if req.upload is None:
        raise param_error({"filename": "no file uploaded"})
    node, s, content, filename = _file_target(sim, req)
    data = req.upload
    algo, want = req.get("checksum-algorithm"), req.get("checksum")

    def work(task):
        task.log("starting file import from: upload")
        if algo:
            _verify(task, hashlib.new(algo, data).hexdigest(), want)
        dest = os.path.join(content_dir(sim, node, s, content), filename)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data)
        _add_file(sim, node, s, content, filename, len(data),
                  hashlib.sha512(data).hexdigest())
        task.log("target file: %s" % dest)

    return sim.tasks.start(node, "imgcopy", "", req.who, work,
                           sim.task_seconds())


def _real_volume_id(storage, volume):
    """Content.pm real_volume_id: a volume id, or a name on the storage."""
    if ":" in volume:
        sid = volume.split(":", 1)[0]
        if sid != storage:
            raise param_error({"volume": "storage ID mismatch (%s != %s)"
                               % (sid, storage)})
        return volume
    return "%s:%s" % (storage, volume)


@route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
def content_delete(sim, req):
    """Content.pm delete: an imgdel task frees the volume; a backup's
    .notes and .log go with it.  The simulator deletes backups and files
    (iso, vztmpl, import, snippets); a VM's disks leave with their VM."""
    from .api_vzdump import archive_path, check_access, remove_backup
    node, s = req["node"], req["storage"]
    spec = storage_or_fail(sim, node, s)
    volid = _real_volume_id(s, req["volume"])
    volname = volid.split(":", 1)[1]
    check_access(sim, req, s)
    if volname.startswith("backup/"):
        _, path = archive_path(sim, node, volid)
        owner = re.search(r"-([1-9][0-9]{2,8})-", volname)
    else:
        content = volname.split("/", 1)[0]
        if spec["type"] not in FILE_TYPES or content not in SUBDIRS or \
                content in ("images", "backup"):
            raise fail("the simulator deletes backups and files only, not "
                       "'%s' (a VM's disk goes with its VM)" % volid)
        path = os.path.join(content_dir(sim, node, s, content),
                            volname.split("/", 1)[1])
        owner = None
    if not os.path.isfile(path):
        raise fail("volume '%s' does not exist" % volid)

    def work(task):
        if os.path.exists(path + ".protected"):
            raise TaskError("cannot remove protected volume '%s' on '%s'"
                            % (volname, s))
        if volname.startswith("backup/"):
            remove_backup(path)
        else:
            os.unlink(path)
            with sim.state.lock:
                sim.state.volumes(where(sim, node, s)).pop(volname, None)
                sim.state.save()
        task.log("Removed volume '%s'" % volid)

    tid = ("%s@" % owner.group(1) if owner else "") + s
    upid = sim.tasks.start(node, "imgdel", tid, req.who, work,
                           sim.task_seconds())
    delay = req.get("delay")
    if delay:
        t = sim.tasks.get(upid)
        if t.done.wait(int(delay)) and t.exitstatus == "OK":
            return None
    return upid
