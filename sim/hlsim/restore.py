"""Restore: POST /nodes/{node}/qemu with archive=, a qmrestore task.

Follows qemu-server src/PVE/API2/Qemu.pm create_vm (the restore branch:
disk options conflict with archive, create_and_lock_config with force,
'vm is running', the autostart) and src/PVE/QemuServer.pm
restore_vma_archive / restore_update_config_line (disks allocated anew on
the target storage or their own, the cloud-init drive made again, a new
vmgenid, new MACs and smbios1 uuid with unique, the old VM's disks freed,
options given with the call laid over the archived ones).  The archive is
the simulator's (archive.py); the disks' trees come back byte for byte.
"""

import os
import shutil
import time
import urllib.parse
import uuid

from . import archive, guests, vmconfig
from .api_storage import (allocate, free_volume, storage_or_fail, volume,
                          where)
from .api_vzdump import archive_path, check_access, dump_dir
from .errors import ApiError, TaskError, fail, param_error
from .schema import parse_size


def parse_config(text):
    """A config file's main section: key: value, the description from the
    leading comment lines; #qmdump# lines skipped (parse_vm_config)."""
    conf, desc = {}, []
    for line in text.splitlines():
        if line.startswith("["):
            break
        if line.startswith("#qmdump#") or line.startswith("#vzdump#"):
            continue
        if line.startswith("#"):
            desc.append(urllib.parse.unquote(line[1:]))
            continue
        k, sep, v = line.partition(":")
        if sep:
            conf[k.strip()] = v.strip()
    if desc:
        conf["description"] = "\n".join(desc)
    return conf


def typed(sim, entry, conf):
    """Values as the config parser types them (numbers and booleans as
    numbers, as GET config shows them), by create's schema."""
    for k, v in conf.items():
        prop = sim.schema.property_schema(entry, k) or {}
        try:
            if prop.get("type") in ("integer", "boolean"):
                conf[k] = int(v)
            elif prop.get("type") == "number":
                conf[k] = float(v) if "." in v else int(v)
        except ValueError:
            pass
    return conf


def _device_path(sim, storage, volname):
    """Where PVE would map a restored disk (the log line only)."""
    kind = sim.cfg["storages"][storage]["type"]
    if kind == "lvmthin":
        return "/dev/pve/" + volname
    if kind == "zfspool":
        return "/dev/zvol/rpool/data/" + volname
    base = "/var/lib/vz" if storage == "local" else "/mnt/pve/" + storage
    return "%s/images/%s" % (base, volname)


def start(sim, req, require):
    """The restore branch of create_vm; returns the UPID."""
    node, vmid = req["node"], req["vmid"]
    for k in sorted(req.params):
        if vmconfig.is_drive(k):
            raise param_error({k: "option conflicts with option 'archive'"})
    if req["archive"] == "-":
        raise fail("pipe requires cli environment")
    bstore, path = archive_path(sim, node, req["archive"])
    check_access(sim, req, bstore)
    target = req.get("storage")
    if target:
        storage_or_fail(sim, node, target)
        require(sim, req, "/storage/" + target, "Datastore.AllocateSpace")
    emsg = "unable to restore VM %s -" % vmid
    with sim.state.lock:
        old = sim.state.vm(vmid)
        if old is not None or sim.faults.take_collision():
            onode = old["node"] if old else node
            if old is None or not req.get("force") or onode != node:
                raise fail("%s VM %s already exists on node '%s'"
                           % (emsg, vmid, onode))
            if old["config"].get("lock"):
                raise fail("%s VM is locked (%s)"
                           % (emsg, old["config"]["lock"]))
            old["config"]["lock"] = "create"
        else:
            sim.state.vms[str(vmid)] = {
                "node": node, "status": "stopped", "config": {"lock": "create"},
                "pending": {}, "pending_delete": [], "pool": req.get("pool")}
        sim.state.save()
    existed = old is not None

    def work(task):
        _restore(sim, req, task, path, existed, emsg)

    def cleanup():
        with sim.state.lock:
            vm = sim.state.vm(vmid)
            if vm is None or vm["config"].get("lock") != "create":
                return
            if existed:
                del vm["config"]["lock"]
            else:
                del sim.state.vms[str(vmid)]
            sim.state.save()

    return sim.tasks.start(node, "qmrestore", vmid, req.who, work,
                           sim.task_seconds(), cleanup)


def _restore(sim, req, task, path, existed, emsg):
    from .api_qemu import _do_start, disk_size, drives, options, owned
    node, vmid = req["node"], req["vmid"]
    with sim.state.lock:
        vm = sim.state.vm(vmid)
        if existed and int(vm["config"].get("protection", 0) or 0):
            raise TaskError("%s protection mode enabled" % emsg)
        if vm["status"] == "running":
            raise TaskError("%s vm is running" % emsg)
    if req.get("live-restore"):
        raise TaskError("live-restore is only compatible with backup images "
                        "from a Proxmox Backup Server")
    if not os.path.isfile(path):
        raise TaskError("unable to open file '%s' - No such file or "
                        "directory" % path)
    tmp = os.path.join(sim.state_dir, "restore", "vzdumptmp%d"
                       % task.fields["pid"])
    shutil.rmtree(tmp, ignore_errors=True)
    made = []
    try:
        cmd = archive.decompressor(path)
        shown = dump_dir(sim, node, req["archive"].split(":")[0])[1] + "/" + \
            os.path.basename(path)
        task.log("restore vma archive: %svma extract -v -r %s.fifo - %s" % (
            "%s %s | " % (" ".join(cmd), shown) if cmd else "cat %s | "
            % shown, "/var/tmp/" + os.path.basename(tmp),
            "/var/tmp/" + os.path.basename(tmp)))
        info = archive.unpack(path, tmp)
        with open(os.path.join(tmp, archive.CONF), encoding="utf-8") as f:
            text = f.read()
        task.log("CFG: size: %d name: %s" % (len(text.encode()),
                                             archive.CONF))
        for n, disk in enumerate(info["disks"], 1):
            task.log("DEV: dev_id=%d size: %d devname: drive-%s"
                     % (n, disk["size"], disk["virtdev"]))
        task.log("CTIME: %s" % time.ctime(os.path.getmtime(path)))
        conf = typed(sim, req.entry, parse_config(text))
        with sim.state.lock:
            vm = sim.state.vm(vmid)
            # restore_cleanup_oldconf: the old VM's disks go first
            if existed:
                for _, v, _ in drives(vm["config"]):
                    if owned(v, vmid):
                        free_volume(sim, node, v)
                if sim.guests is not None:
                    sim.guests.forget(vmid)
            for disk in info["disks"]:
                dev = disk["virtdev"]
                st = req.get("storage") or disk["storage"]
                if st not in sim.cfg["storages"]:
                    raise TaskError("storage '%s' does not exist" % st)
                props = vmconfig.parse_props(str(conf.get(dev, "")), "file")
                size = disk["size"] or parse_size(props.get("size", "0")) or 0
                fmt = disk["format"] if sim.cfg["storages"][st]["type"] == \
                    "dir" else None
                volid = allocate(sim, node, st, vmid, size, fmt=fmt)
                made.append(volid)
                task.log("new volume ID is '%s'" % volid)
                volname = volid.split(":", 1)[1]
                task.log("map 'drive-%s' to '%s' (write zeros = 0)"
                         % (dev, _device_path(sim, st, volname)))
                _trees(sim, node, st, volname, disk, tmp)
                props["file"] = volid
                props["size"] = vmconfig.format_size(size)
                conf[dev] = vmconfig.format_props(props, "file")
            # cloud-init drives are made again on the target storage
            for k in sorted(conf):
                props = vmconfig.parse_props(str(conf[k]), "file")
                f = props.get("file", "")
                if not vmconfig.is_drive(k) or "cloudinit" not in f:
                    continue
                st = req.get("storage") or f.split(":")[0]
                volid = allocate(sim, node, st, vmid, 4 << 20,
                                 name="vm-%s-cloudinit" % vmid)
                made.append(volid)
                props["file"] = volid
                conf[k] = vmconfig.format_props(props, "file")
            # restore_update_config_line
            if req.get("unique"):
                for k in list(conf):
                    if vmconfig.NET_RE.match(k):
                        conf[k] = vmconfig.reset_mac(conf[k])
                if conf.get("smbios1"):
                    smb = vmconfig.parse_props(conf["smbios1"], "uuid")
                    smb["uuid"] = str(uuid.uuid4())
                    conf["smbios1"] = ",".join("%s=%s" % kv
                                               for kv in smb.items())
            if conf.get("vmgenid", "0") != "0":
                conf["vmgenid"] = str(uuid.uuid4())
            # options given with the call override the archived ones
            for k, v in options(req.params).items():
                if k == "tags":
                    v = vmconfig.normalize_tags(v)
                if k == "cipassword":
                    v = vmconfig.hash_password(v)
                conf[k] = v
            vmconfig.fill_macs(conf)
            vm = sim.state.vm(vmid)
            vm.update({"config": conf, "pending": {}, "pending_delete": [],
                       "status": "stopped", "cloudinit": {},
                       "maxdisk": disk_size(sim, node, conf)})
            if req.get("pool"):
                vm["pool"] = req["pool"]
            sim.state.save()
        task.log("rescan volumes...")
    except (TaskError, ApiError, archive.ArchiveError, OSError) as e:
        with sim.state.lock:
            for v in made:
                free_volume(sim, node, v)
            sim.state.save()
        if isinstance(e, TaskError):
            raise
        raise TaskError(e.message if isinstance(e, ApiError) else str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if req.get("start"):
        task.log("Execute autostart")
        _do_start(sim, node, vmid, task)


def _trees(sim, node, storage, volname, disk, tmp):
    """The restored volume's trees: its own upper/ and, below it, a linked
    clone's bases (lower-N), over the image it was made from."""
    if not disk.get("trees"):
        return
    base = disk.get("base")
    if base and not os.path.isdir(base):
        raise TaskError("the image tree '%s' below drive-%s is missing "
                        "(image rebuilt or removed?)" % (base, disk["virtdev"]))
    vol = volume(sim, node, "%s:%s" % (storage, volname))
    d = guests.data_dir(sim, where(sim, node, storage), volname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "work"))
    lowers = []
    for n in range(disk["trees"]):
        dest = os.path.join(d, "upper" if n == 0 else "lower-%d" % n)
        archive.extract_tree(os.path.join(tmp, "drive-%s.%d.tar" % (
            disk["virtdev"], n)), dest)
        if n:
            lowers.append(dest)
    vol["layers"] = lowers + ([base] if base else [])
    vol["data"] = d
