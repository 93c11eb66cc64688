"""Backups: vzdump, extractconfig, and the backups a storage holds.

Follows pve-manager PVE/API2/VZDump.pm (vzdump, extractconfig) and
PVE/VZDump.pm (new, storage_info, exec_backup, exec_backup_task: the log
lines, the names, the notes template, pruning), qemu-server
PVE/VZDump/QemuServer.pm (which disks go in, the config as archived, the
'backup' lock) and pve-storage (a dir storage's dump/ directory, the
.notes and .protected files beside an archive, prune_mark_backup_group,
Content.pm delete).  The archive itself is the simulator's (archive.py).
"""

import json
import os
import re
import shutil
import time
import uuid

from . import archive, vmconfig
from .api_cluster import node_or_fail
from .api_storage import (FILE_TYPES, content_dir, node_root,
                          storage_or_fail, storage_path, volume)
from .errors import ApiError, TaskError, fail, param_error
from .routes import route
from .schema import SchemaError, parse_property_string, parse_size

# pve-storage Plugin.pm $BACKUP_EXT_RE_2 and archive_info's name pattern
BACKUP_RE = re.compile(r"^(.+)\.(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2))?)$")
NAME_RE = re.compile(r"^vzdump-(qemu|lxc|openvz)-(\d+)-(\d{4})_(\d{2})_"
                     r"(\d{2})-(\d{2})_(\d{2})_(\d{2})\.")


def dump_dir(sim, node, storage):
    """Where a storage keeps backups, and that directory as the node
    shows it (what PVE's log lines name)."""
    path = content_dir(sim, node, storage, "backup")
    root = node_root(sim, node)
    if path.startswith(root + os.sep):
        return path, path[len(root):]
    return path, storage_path(sim, storage) + "/dump"


def _ctime(name):
    """archive_info: the time in the name, as local time."""
    m = NAME_RE.match(name)
    if not m:
        return None
    return int(time.mktime(tuple(int(x) for x in m.groups()[2:]) +
                           (0, 0, -1)))


def backups(sim, node, storage, vmid=None):
    """The backups on a file storage, as list_volumes shows them."""
    spec = sim.cfg["storages"][storage]
    if spec["type"] not in FILE_TYPES or "backup" not in spec["content"]:
        return []
    d, _ = dump_dir(sim, node, storage)
    out = []
    for f in sorted(os.listdir(d)):
        m = BACKUP_RE.match(f)
        path = os.path.join(d, f)
        if not m or not os.path.isfile(path):
            continue
        if vmid is not None and "-%s-" % vmid not in f:
            continue
        item = {"volid": "%s:backup/%s" % (storage, f), "content": "backup",
                "format": m.group(2), "size": os.path.getsize(path)}
        n = NAME_RE.match(f)
        ctime = _ctime(f)
        if ctime is not None:
            item["ctime"] = ctime
        item["subtype"] = n.group(1) if n else "unknown"
        own = re.search(r"-([1-9][0-9]{2,8})-[^/]+\.%s$" % re.escape(
            m.group(2)), f)
        if vmid is not None or own:
            item["vmid"] = int(vmid if vmid is not None else own.group(1))
        try:
            with open(path + ".notes", encoding="utf-8") as nf:
                item["notes"] = nf.readline().rstrip("\n")
        except OSError:
            pass
        if os.path.exists(path + ".protected"):
            item["protected"] = 1
        out.append(item)
    return out


def archive_path(sim, node, volid):
    """The file of a backup volume id, or a 500 as PVE's path() says."""
    storage, _, volname = volid.partition(":")
    storage_or_fail(sim, node, storage)
    if not volname.startswith("backup/") or "/" in volname[7:] or \
            not BACKUP_RE.match(volname[7:]):
        raise fail("unable to parse volume name '%s'" % volname)
    path = os.path.join(dump_dir(sim, node, storage)[0], volname[7:])
    return storage, path


def remove_backup(path):
    """archive_remove and archive_auxiliaries_remove: the archive, its
    .notes and .log."""
    os.unlink(path)
    base = re.sub(r"\.(tgz|(?:tar|vma)(?:\.\w+)?)$", "", path)
    for aux in (path + ".notes", base + ".log"):
        if os.path.exists(aux):
            os.unlink(aux)


def check_access(sim, req, storage):
    """check_volume_access for a backup: Datastore.AllocateSpace on its
    storage (the owner's VM.Backup would do too; not modelled)."""
    privs = sim.auth.privs(req.who, "/storage/" + storage)
    if not {"Datastore.AllocateSpace", "Datastore.Allocate"} & privs:
        raise ApiError(403, "Permission check failed (/storage/%s, "
                       "Datastore.AllocateSpace)" % storage)


# --- vzdump -----------------------------------------------------------------

def _command_line(params):
    """PVE/VZDump/Common.pm command_line: what the first log line shows."""
    out = "vzdump"
    for k in ("vmid",):
        if params.get(k):
            out += " " + " ".join(str(v) for v in re.split(r"[,;\s]+",
                                                           str(params[k]))
                                  if v)
    for k in sorted(params):
        if k in ("vmid", "node"):
            continue
        v = params[k]
        if isinstance(v, str) and re.search(r"[^\w./=:,+-]", v) or v == "":
            v = "'%s'" % str(v).replace("'", "'\"'\"'")
        out += " --%s %s" % (k, v)
    if params.get("node"):
        out += " --node %s" % params["node"]
    return out


def _notes(template, sim, node, vmid, name):
    """$generate_notes: {{cluster}}, {{guestname}}, {{node}}, {{vmid}};
    \\n and \\\\ escapes."""
    def unescape(m):
        c = m.group(1)
        if c == "\\":
            return "\\"
        if c == "n":
            return "\n"
        raise TaskError("unexpected escape character '%s'" % c)
    text = re.sub(r"\\(.)", unescape, template)
    info = {"cluster": sim.cfg.get("cluster") or "", "guestname": name or "",
            "node": node, "vmid": str(vmid)}
    text = re.sub(r"\{\{(cluster|guestname|node|vmid)\}\}",
                  lambda m: info[m.group(1)], text)
    bad = re.search(r"\{\{([^\s}]+)\}\}", text)
    if bad:
        raise TaskError("unexpected variable name '%s'" % bad.group(1))
    return text


def _size_text(n):
    """PVE/VZDump.pm format_size."""
    if n / 1024 < 1024:
        return "%dKB" % (n // 1024)
    if n / (1 << 20) < 1024:
        return "%dMB" % (n // (1 << 20))
    if n / (1 << 30) < 1024:
        return "%.2fGB" % (n / (1 << 30))
    return "%.2fTB" % (n / (1 << 40))


def _duration(s):
    return "%02d:%02d:%02d" % (s // 3600, s % 3600 // 60, s % 60)


def prune_mark(entries, keep):
    """pve-storage Storage.pm prune_mark_backup_group: entries (with
    ctime, protected) get mark keep, remove or protected."""
    keep = dict(keep)
    keep_all = keep.pop("keep-all", None)
    for e in entries:
        if e.get("protected"):
            e["mark"] = "protected"
    if keep_all or not any(int(v) > 0 for v in keep.values()):
        for e in entries:
            e.setdefault("mark", "keep")
        return entries
    entries.sort(key=lambda e: -e["ctime"])
    ids = [("keep-last", lambda t: t),
           ("keep-hourly", lambda t: time.strftime("%Y/%m/%d/%H",
                                                   time.localtime(t))),
           ("keep-daily", lambda t: time.strftime("%Y/%m/%d",
                                                  time.localtime(t))),
           ("keep-weekly", lambda t: time.strftime("%G/%V",
                                                   time.localtime(t))),
           ("keep-monthly", lambda t: time.strftime("%Y/%m",
                                                    time.localtime(t))),
           ("keep-yearly", lambda t: time.strftime("%Y",
                                                   time.localtime(t)))]
    for opt, idf in ids:
        count = int(keep.get(opt) or 0)
        if not count:
            continue
        already = {idf(e["ctime"]) for e in entries if e.get("mark") == "keep"}
        new = set()
        for e in entries:
            i = idf(e["ctime"])
            if "mark" in e or i in already:
                continue
            if i not in new:
                if len(new) >= count:
                    break
                new.add(i)
                e["mark"] = "keep"
            else:
                e["mark"] = "remove"
    for e in entries:
        e.setdefault("mark", "remove")
    return entries


def archived_config(conf, disks):
    """The config as VZDump/QemuServer.pm assemble writes it."""
    keep = {k: v for k, v in conf.items()
            if k != "lock" and k != "parent" and not k.startswith("unused")}
    text = vmconfig.render(keep)
    for d in disks:
        text += "#qmdump#map:%s:drive-%s:%s:%s:\n" % (
            d["virtdev"], d["virtdev"], d["storage"], d["format"])
    return text


def backup_disks(sim, node, conf, log):
    """get_backup_volumes: each disk but cdroms (so the cloud-init drive)
    and backup=0 ones; their trees, topmost first."""
    out = []
    for k in sorted(conf):
        if not vmconfig.is_drive(k):
            continue
        props = vmconfig.parse_props(str(conf[k]), "file")
        volid = props.get("file", "")
        if props.get("media") == "cdrom" or volid == "none":
            continue
        if props.get("backup") in ("0", "no", "off", "false"):
            log("exclude disk '%s' '%s' (backup=no)" % (k, volid))
            continue
        size = parse_size(props.get("size", "0")) or 0
        log("include disk '%s' '%s'%s" % (
            k, volid, " " + vmconfig.format_size(size) if size else ""))
        vol = volume(sim, node, volid) or {}
        storage = volid.split(":")[0] if ":" in volid else ""
        trees, base = [], None
        if vol.get("layers"):
            trees = [os.path.join(vol["data"], "upper")] + vol["layers"][:-1]
            base = vol["layers"][-1]
        out.append({"virtdev": k, "volid": volid, "storage": storage,
                    "format": vol.get("format", "raw"), "size": size,
                    "trees": trees, "base": base})
    return out


def _prune_opts(sim, req, storage):
    text = req.get("prune-backups") or sim.cfg["storages"][storage].get(
        "prune-backups") or "keep-all=1"
    try:
        return parse_property_string("prune-backups", text)
    except SchemaError as e:
        raise param_error({"prune-backups": "invalid format - %s" % e})


@route("POST", "/nodes/{node}/vzdump")
def vzdump(sim, req):
    node = req["node"]
    node_or_fail(sim, node)
    p = req.params
    who = req.who
    # verify_vzdump_parameters
    if p.get("all") and p.get("vmid"):
        raise param_error({"all": "option conflicts with option 'vmid'"})
    if p.get("exclude") and not p.get("all"):
        raise param_error({"exclude": "option requires option 'all'"})
    if not (p.get("all") or p.get("stop") or p.get("pool")) and \
            not p.get("vmid"):
        raise param_error({"vmid": "property is missing and it is not "
                           "optional"})
    # assert_param_permission_vzdump
    if who != "root@pam":
        for k in ("tmpdir", "dumpdir", "script", "job-id"):
            if k in p:
                raise param_error({k: "Only root may set this option."})
        if any(p.get(k) is not None for k in ("bwlimit", "ionice",
                                              "performance")) and \
                "Sys.Modify" not in sim.auth.privs(who, "/"):
            raise ApiError(403, "Permission check failed (/, Sys.Modify)")
        if p.get("prune-backups") is not None and "Datastore.Allocate" not \
                in sim.auth.privs(who, "/storage/%s" % (p.get("storage") or
                                                       "local")):
            raise ApiError(403, "Permission check failed (/storage/%s, "
                           "Datastore.Allocate)" % (p.get("storage") or
                                                    "local"))
    if p.get("dumpdir") or p.get("stdout"):
        raise fail("the simulator writes backups to a storage only "
                   "(dumpdir, stdout)")
    storage = p.get("storage") or "local"
    if p.get("storage"):
        privs = sim.auth.privs(who, "/storage/" + storage)
        if "Datastore.AllocateSpace" not in privs:
            raise ApiError(403, "Permission check failed (/storage/%s, "
                           "Datastore.AllocateSpace)" % storage)
    # VZDump->new: storage_info
    spec = sim.cfg["storages"].get(storage)
    if spec is None or node not in spec.get("nodes", sim.cfg["nodes"]):
        raise fail("could not get storage information for '%s': storage "
                   "'%s' does not exist" % (storage, storage))
    if "backup" not in spec["content"]:
        raise fail("could not get storage information for '%s': can't use "
                   "storage '%s' for backups - wrong content type"
                   % (storage, storage))
    ext, cmd = None, None
    try:
        ext, cmd = archive.compressor(p.get("compress"))
    except archive.ArchiveError as e:
        raise fail(str(e))
    prune = _prune_opts(sim, req, storage)
    remove = p.get("remove", 1) and not prune.get("keep-all")
    with sim.state.lock:
        if p.get("all") or (p.get("pool") and not p.get("vmid")):
            excl = set(re.split(r"[,;\s]+", p.get("exclude") or ""))
            vmids = [int(v) for v, vm in sim.state.vms.items()
                     if vm["node"] == node and v not in excl and
                     (not p.get("pool") or vm.get("pool") == p["pool"])]
        else:
            vmids = [int(v) for v in re.split(r"[,;\s]+", str(p["vmid"]))
                     if v]
            # VMs on other nodes are theirs to back up (skiplist)
            vmids = [v for v in vmids if (sim.state.vm(v) or {}).get(
                "node", node) == node]
    vmids = sorted(set(vmids))
    if not vmids and not p.get("all"):
        return "OK"
    cmdline = _command_line({k: v for k, v in p.items()})

    def work(task):
        task.log("INFO: starting new backup job: %s" % cmdline)
        errors = 0
        for vmid in vmids:
            # a VM the caller may not back up is left out (exec_backup)
            if sim.state.vm(vmid) is not None and "VM.Backup" not in \
                    sim.auth.privs(who, "/vms/%d" % vmid):
                continue
            if not _backup_one(sim, task, node, vmid, storage, p, ext, cmd,
                               prune, remove):
                errors += 1
        if errors:
            task.log("INFO: Backup job finished with errors")
            raise TaskError("job errors")
        task.log("INFO: Backup job finished successfully")

    tid = vmids[0] if len(vmids) == 1 else ""
    return sim.tasks.start(node, "vzdump", tid, who, work,
                           sim.task_seconds())


def _backup_one(sim, task, node, vmid, storage, p, ext, cmd, prune,
                remove):
    """exec_backup_task for one VM: True when it succeeded."""
    from .api_qemu import _do_start, _power_lock, check_lock
    started = time.time()
    vmlog = []

    def log(msg, level="INFO"):
        line = "%s: %s" % (level, msg)
        task.log(line)
        vmlog.append("%s %s" % (time.strftime("%Y-%m-%d %H:%M:%S"), line))

    locked = restart = False
    d, shown = dump_dir(sim, node, storage)
    basename = "vzdump-qemu-%d-%s" % (vmid, time.strftime(
        "%Y_%m_%d-%H_%M_%S", time.localtime(started)))
    target = basename + ".vma" + ("." + ext if ext else "")
    staging = os.path.join(d, basename + ".tmp")
    tmptar = os.path.join(d, basename + ".vma.dat")
    err = None
    with _power_lock(vmid):
        try:
            with sim.state.lock:
                vm = sim.state.vm(vmid)
                if vm is None or vm["node"] != node:
                    raise TaskError("unable to find VM '%d'" % vmid)
            # the retention limit when not pruning (max backup limit)
            limit = 0 if prune.get("keep-all") else sum(
                int(v) for v in prune.values())
            if limit and not remove:
                count = len([b for b in backups(sim, node, storage, vmid)
                             if b["subtype"] == "qemu" and
                             not b.get("protected")])
                if count >= limit:
                    raise TaskError(
                        "There is a max backup limit of %d enforced by the "
                        "target storage or the vzdump parameters. Either "
                        "increase the limit or delete old backups." % limit)
            log("Starting Backup of VM %d (qemu)" % vmid)
            log("Backup started at %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
            with sim.state.lock:
                vm = sim.state.vm(vmid)
                running = vm["status"] == "running"
                log("status = %s" % ("running" if running else "stopped"))
                # lock_vm: set_lock dies on a locked VM
                check_lock(vm)
                vm["config"]["lock"] = "backup"
                locked = True
                sim.state.save()
                conf = {k: v for k, v in vm["config"].items()}
            mode = (p.get("mode") or "snapshot") if running else "stop"
            if conf.get("name"):
                log("VM Name: %s" % conf["name"])
            disks = backup_disks(sim, node, conf, log)
            log("backup mode: %s" % mode)
            if p.get("bwlimit"):
                log("bandwidth limit: %s KB/s" % p["bwlimit"])
            log("ionice priority: %s" % p.get("ionice", 7))
            if mode == "stop" and running:
                log("stopping virtual guest")
                _power_off(sim, node, vmid)
                restart = True
                stopped_at = time.time()
            elif mode == "suspend":
                log("suspending guest")
            shutil.rmtree(staging, ignore_errors=True)
            os.makedirs(staging)
            log("creating vzdump archive '%s/%s'" % (shown, target))
            if not running:
                log("starting kvm to execute backup task")
            log("started backup task '%s'" % uuid.uuid4())
            if mode == "suspend":
                log("resuming VM again")
            elif running and mode == "snapshot":
                log("resuming VM again")
            total = _stage(staging, conf, disks)
            # the copy takes time: the VM is seen locked meanwhile
            task.cancel.wait(sim.task_seconds() / 2)
            log("100%% (%s of %s) in %ds, read: %s/s, write: %s/s" % (
                _human(total), _human(total), max(1, int(time.time() -
                                                          started)),
                _human(total), _human(total)))
            log("transferred %s in %d seconds" % (
                _human(total), max(1, int(time.time() - started))))
            if not running:
                log("stopping kvm after backup task")
            members = [archive.CONF, archive.DISKS] + sorted(
                f for f in os.listdir(staging) if f.endswith(".tar"))
            archive.write(staging, members, tmptar, cmd)
            os.replace(tmptar, os.path.join(d, target))
            log("archive file size: %s" % _size_text(os.path.getsize(
                os.path.join(d, target))))
            if p.get("notes-template"):
                log("adding notes to backup")
                try:
                    text = _notes(p["notes-template"], sim, node, vmid,
                                  conf.get("name"))
                    with open(os.path.join(d, target) + ".notes", "w",
                              encoding="utf-8") as f:
                        f.write(text)
                except TaskError as e:
                    task.warn("unable to add notes - %s" % e)
                    vmlog.append("WARN: unable to add notes - %s" % e)
            if p.get("protected"):
                log("marking backup as protected")
                open(os.path.join(d, target) + ".protected", "w").close()
            if remove:
                log("prune older backups with retention: %s" % ", ".join(
                    "%s=%s" % (k, prune[k]) for k in sorted(prune)))
                group = [b for b in backups(sim, node, storage, vmid)
                         if b["subtype"] == "qemu" and "ctime" in b]
                pruned = 0
                for b in prune_mark(group, prune):
                    if b["mark"] == "remove":
                        pruned += 1
                        log("removing backup '%s'" % b["volid"])
                        remove_backup(os.path.join(d, b["volid"].split(
                            "/", 1)[1]))
                log("pruned %d backup(s)%s" % (
                    pruned, " not covered by keep-retention policy"
                    if pruned else ""))
        except (TaskError, ApiError, archive.ArchiveError, OSError) as e:
            err = e.message if isinstance(e, ApiError) else str(e)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if os.path.exists(tmptar):
                os.unlink(tmptar)
            if locked:
                with sim.state.lock:
                    vm = sim.state.vm(vmid)
                    if vm and vm["config"].get("lock") == "backup":
                        del vm["config"]["lock"]
                        sim.state.save()
        if restart:
            try:
                log("restarting vm")
                _do_start(sim, node, vmid, task)
                log("guest is online again after %d seconds" % max(
                    1, int(time.time() - stopped_at)))
            except (TaskError, ApiError) as e:
                task.warn(str(e))
    took = _duration(int(time.time() - started))
    if err:
        log("Backup of VM %d failed - %s" % (vmid, err), "ERROR")
        log("Failed at %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
    else:
        log("Finished Backup of VM %d (%s)" % (vmid, took))
        log("Backup finished at %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
        # the VM's log beside the archive, as PVE copies it there
        with open(os.path.join(d, basename + ".log"), "w",
                  encoding="utf-8") as f:
            f.write("\n".join(vmlog) + "\n")
    return err is None


def _human(n):
    """PVE::Format render_bytes."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return "%.1f %s" % (n / (1 << shift), unit)
    return "%d B" % n


def _stage(staging, conf, disks):
    """The archive's members in the staging directory; the bytes of disk
    data they hold."""
    total = 0
    info = []
    for disk in disks:
        for n, tree in enumerate(disk["trees"]):
            if not os.path.isdir(tree):
                raise TaskError("disk layer '%s' of %s is missing"
                                % (tree, disk["virtdev"]))
            name = "drive-%s.%d.tar" % (disk["virtdev"], n)
            archive.add_tree(staging, name, tree)
            total += os.path.getsize(os.path.join(staging, name))
        info.append({"virtdev": disk["virtdev"], "size": disk["size"],
                     "format": disk["format"], "storage": disk["storage"],
                     "trees": len(disk["trees"]), "base": disk["base"]})
    with open(os.path.join(staging, archive.CONF), "w",
              encoding="utf-8") as f:
        f.write(archived_config(conf, disks))
    with open(os.path.join(staging, archive.DISKS), "w",
              encoding="utf-8") as f:
        json.dump({"disks": info}, f, indent=1, sort_keys=True)
    return total


def _power_off(sim, node, vmid):
    """qm shutdown --skiplock: the guest runs its init scripts down."""
    if sim.guests is not None:
        sim.guests.stop(vmid, True, 60)
    with sim.state.lock:
        vm = sim.state.vm(vmid)
        vm["status"] = "stopped"
        sim.state.save()


@route("GET", "/nodes/{node}/vzdump/extractconfig")
def extractconfig(sim, req):
    node = req["node"]
    node_or_fail(sim, node)
    storage, path = archive_path(sim, node, req["volume"])
    check_access(sim, req, storage)
    if not os.path.isfile(path):
        raise fail("volume '%s' does not exist" % req["volume"])
    try:
        return archive.read_config(path)
    except archive.ArchiveError as e:
        raise fail(str(e))

