"""VMs: create, clone, config, pending, resize, power, template, destroy
(restore, create with archive=, is in restore.py).

Follows qemu-server src/PVE/API2/Qemu.pm (create_vm, clone_vm, update_vm,
resize_vm, vm_start/stop/shutdown/reboot, template, destroy_vm) and the
locks of pve-guest-common src/PVE/AbstractConfig.pm (check_lock).  A
started VM whose boot disk came from a built image is a real guest
(guests.py); the agent endpoints are in agent.py.
"""

import re
import threading
import time

from . import agent, cloudinit, guests, vmconfig
from .api_cluster import node_or_fail
from .api_storage import (allocate, free_volume, storage_or_fail, volume,
                          where)
from .errors import ApiError, TaskError, fail, param_error
from .routes import route
from .schema import parse_boolean, parse_size, parse_startup_order

# Parameters that steer a call and are not VM options.
CONTROL = {"node", "vmid", "digest", "delete", "revert", "skiplock", "force",
           "background_delay", "start", "pool", "storage", "unique",
           "archive", "live-restore", "bwlimit"}


def require(sim, req, path, priv):
    """A privilege checked in the handler, as qemu-server does for create."""
    if priv not in sim.auth.privs(req.who, path):
        raise ApiError(403, "Permission check failed (%s, %s)" % (path, priv))


def vm_or_fail(sim, node, vmid):
    vm = sim.state.vm(vmid)
    if vm is None or vm["node"] != node:
        raise fail("Configuration file 'nodes/%s/qemu-server/%s.conf' does "
                   "not exist" % (node, vmid))
    return vm


def check_lock(vm, skiplock=False):
    """AbstractConfig.pm check_lock.  Also inside tasks: a task turns the
    error into its exit status."""
    lock = vm["config"].get("lock")
    if lock and not skiplock:
        raise fail("VM is locked (%s)" % lock)


def check_digest(vm, digest):
    if digest and digest != vmconfig.digest(vm["config"], vm["pending"]):
        raise fail("checksum mismatch (file change by other user?)")


def options(params):
    return {k: v for k, v in params.items() if k not in CONTROL}


# --- disks -----------------------------------------------------------------

def _new_disk(sim, node, vmid, key, value):
    """Allocate what a drive option asks for; the drive string to store.

    '<storage>:<GiB>' a new disk, '<storage>:0,import-from=<volid>' an
    imported one, '<storage>:cloudinit' the cloud-init drive, anything else
    (an existing volume, 'none', a cdrom) as it is.
    """
    props = vmconfig.parse_props(str(value), "file")
    f = props.get("file", "")
    base = None
    storage, sep, rest = f.partition(":")
    if not sep or storage not in sim.cfg["storages"]:
        return value
    if rest == "cloudinit":
        volid = allocate(sim, node, storage, vmid, 4 << 20,
                         name="vm-%s-cloudinit" % vmid)
        return "%s,media=cdrom" % volid
    src = props.pop("import-from", None)
    if src is not None:
        if rest != "0":
            raise TaskError("'import-from' requires special syntax - use "
                            "<storage ID>:0,import-from=<source>")
        sv = volume(sim, node, src)
        if sv is None or sv["content"] not in ("images", "import"):
            raise TaskError("volume '%s' does not exist or is not an "
                            "image or import volume" % src)
        size = sv["size"]
        base = sv
    elif re.fullmatch(r"\d+(\.\d+)?", rest):
        size = int(float(rest) * (1 << 30))
    else:
        return value    # an existing volume
    props["file"] = allocate(sim, node, storage, vmid, size,
                             fmt=props.pop("format", None))
    if base is not None:
        _give_layers(sim, node, props["file"], base)
    props["size"] = vmconfig.format_size(size)
    return vmconfig.format_props(props, "file")


def _give_layers(sim, node, volid, base, linked=False):
    """The new volume's tree: the image's rootfs under an imported image,
    a copy (full) or a stack (linked) of a VM disk's."""
    st, _, volname = volid.partition(":")
    vol = volume(sim, node, volid)
    if base.get("rootfs"):
        guests.image_layers(sim, where(sim, node, st), volname, vol,
                            base["rootfs"])
    else:
        guests.new_layers(sim, where(sim, node, st), volname, vol, base,
                          linked)


def drives(conf):
    """(key, volid, props) for each drive with a volume."""
    out = []
    for k, v in conf.items():
        if vmconfig.is_drive(k) or k.startswith("unused"):
            props = vmconfig.parse_props(str(v), "file")
            f = props.get("file", "")
            if ":" in f:
                out.append((k, f, props))
    return out


def owned(volid, vmid):
    """Whether the VM owns the volume (PVE frees only those on destroy)."""
    volname = volid.split(":", 1)[-1]
    last = volname.split("/")[-1]
    return bool(re.match(r"^(vm|base)-%s-" % vmid, last)) or \
        volname.startswith("%s/" % vmid)


def cloudinit_keys(conf):
    return [k for k, v in conf.items() if vmconfig.is_drive(k) and
            "cloudinit" in str(v).split(",")[0]]


def disk_size(sim, node, conf):
    return sum(parse_size(p.get("size", "0")) or 0
               for k, f, p in drives(conf) if "media=cdrom" not in
               ",".join("%s=%s" % kv for kv in p.items()))


# --- list, create ------------------------------------------------------------

@route("GET", "/nodes/{node}/qemu")
def vm_list(sim, req):
    node_or_fail(sim, req["node"])
    from .api_cluster import _vm_resource
    with sim.state.lock:
        return [{k: v for k, v in _vm_resource(vmid, vm).items()
                 if k not in ("id", "type", "node")}
                for vmid, vm in sim.state.vms.items()
                if vm["node"] == req["node"] and "VM.Audit" in
                sim.auth.privs(req.who, "/vms/" + vmid)]


def _drop(sim, vmid, lock):
    """A task's cleanup: remove the VM its call made, still under lock."""
    def cleanup():
        with sim.state.lock:
            vm = sim.state.vm(vmid)
            if vm is not None and vm["config"].get("lock") == lock:
                del sim.state.vms[str(vmid)]
                sim.state.save()
    return cleanup


def _exists_error(sim, vmid):
    vm = sim.state.vm(vmid)
    node = vm["node"] if vm else "pve1"
    return fail("unable to create VM %s - VM %s already exists on node '%s'"
                % (vmid, vmid, node))


@route("POST", "/nodes/{node}/qemu")
def create(sim, req):
    node, vmid = req["node"], req["vmid"]
    node_or_fail(sim, node)
    pool = req.get("pool")
    if pool and pool not in sim.cfg["pools"]:
        raise fail("pool '%s' does not exist" % pool)
    # create_vm: VM.Allocate on the VM, or on its pool.
    if not (pool and "VM.Allocate" in sim.auth.privs(req.who,
                                                      "/pool/" + pool)):
        require(sim, req, "/vms/%s" % vmid, "VM.Allocate")
    if req.get("archive"):
        from . import restore
        return restore.start(sim, req, require)
    conf = options(req.params)
    for k, v in list(conf.items()):
        if k == "tags":
            conf[k] = vmconfig.normalize_tags(v)
        if k == "cipassword":
            conf[k] = vmconfig.hash_password(v)
        if vmconfig.is_drive(k):
            storage = str(v).split(",")[0].split(":")[0]
            if storage in sim.cfg["storages"]:
                storage_or_fail(sim, node, storage)
                require(sim, req, "/storage/" + storage,
                        "Datastore.AllocateSpace")
            if "import-from" in str(v) and not re.match(r"^[^:,]+:0,", str(v)):
                raise param_error({k: "'import-from' requires special syntax "
                                   "- use <storage ID>:0,import-from=<source>"})
    ci = cloudinit_keys(conf)
    if len(ci) > 1:
        raise fail("unable to create VM %s - cloud-init drive is already "
                   "attached at '%s'" % (vmid, sorted(ci)[0]))
    with sim.state.lock:
        if sim.state.vm(vmid) is not None or sim.faults.take_collision():
            raise _exists_error(sim, vmid)
        # The config exists, locked, from the first moment (create_vm).
        sim.state.vms[str(vmid)] = {"node": node, "status": "stopped",
                                    "config": {"lock": "create"},
                                    "pending": {}, "pending_delete": [],
                                    "pool": pool}
        sim.state.save()

    def work(task):
        made = {}
        try:
            with sim.state.lock:
                for k in sorted(conf):
                    if vmconfig.is_drive(k):
                        made[k] = _new_disk(sim, node, vmid, k, conf[k])
                        task.log("%s: %s" % (k, made[k]))
                full = dict(conf, **made)
                vmconfig.add_defaults(full, vmid)
                vm = sim.state.vm(vmid)
                vm["config"] = full
                vm["maxdisk"] = disk_size(sim, node, full)
                sim.state.save()
        except TaskError:
            with sim.state.lock:
                for v in made.values():
                    free_volume(sim, node, vmconfig.parse_props(v, "file")
                                ["file"])
                sim.state.save()
            raise
        if req.get("start"):
            _do_start(sim, node, vmid, task)

    # A failed create leaves nothing (create_vm removes the config).
    return sim.tasks.start(node, "qmcreate", vmid, req.who, work,
                           sim.task_seconds(), _drop(sim, vmid, "create"))


# --- config ------------------------------------------------------------------

def _with_pending(vm):
    conf = dict(vm["config"])
    conf.update(vm["pending"])
    for k in vm["pending_delete"]:
        conf.pop(k, None)
    return conf


@route("GET", "/nodes/{node}/qemu/{vmid}/config")
def config_get(sim, req):
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        conf = dict(vm["config"]) if req.get("current") else _with_pending(vm)
        conf["digest"] = vmconfig.digest(vm["config"], vm["pending"])
        return vmconfig.masked(conf)


@route("GET", "/nodes/{node}/qemu/{vmid}/pending")
def pending_get(sim, req):
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        out = []
        keys = set(vm["config"]) | set(vm["pending"]) | set(
            vm["pending_delete"])
        for k in sorted(keys):
            item = {"key": k}
            if k in vm["config"]:
                item["value"] = vmconfig.masked(vm["config"])[k]
            if k in vm["pending"]:
                item["pending"] = vmconfig.masked(vm["pending"])[k]
            if k in vm["pending_delete"]:
                item["delete"] = 1
            out.append(item)
        return out


CI_KEYS = ("cicustom", "cipassword", "citype", "ciupgrade", "ciuser",
           "nameserver", "searchdomain", "sshkeys")


def _ci_values(conf):
    """The options the cloud-init drive is generated from."""
    return {k: v for k, v in conf.items()
            if k in CI_KEYS or re.match(r"^ipconfig\d+$", k)}


@route("GET", "/nodes/{node}/qemu/{vmid}/cloudinit")
def cloudinit_pending(sim, req):
    """The cloud-init values the drive was last generated from (value) and
    the ones the next generation will use where they differ (pending), as
    qemu-server's [special:cloudinit] section makes them."""
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        now = vmconfig.masked(_ci_values(_with_pending(vm)))
        used = vmconfig.masked(vm.get("cloudinit", {}))
        out = []
        for k in sorted(set(now) | set(used)):
            item = {"key": k}
            if k in used:
                item["value"] = used[k]
            if k not in now:
                item["delete"] = 1
            elif now[k] != used.get(k):
                item["pending"] = now[k]
            out.append(item)
        return out


def _early_checks(sim, req, vm):
    """What update_vm_api checks before it changes anything."""
    vmid = req["vmid"]
    check_lock(vm, req.get("skiplock"))
    check_digest(vm, req.get("digest"))
    injected = sim.faults.lock_timeout(vmid)
    if injected:
        raise injected
    sets = options(req.params)
    deletes = []
    for d in re.split(r"[,;\s]+", req.get("delete") or ""):
        if not d:
            continue
        d = "ide2" if d == "cdrom" else d
        if sim.schema.property_schema(req.entry, d) is None:
            raise param_error({"delete": "unknown option '%s'" % d})
        if d in sets:
            raise param_error({"delete": "cannot set and delete '%s' at the "
                               "same time" % d})
        deletes.append(d)
    reverts = [r for r in re.split(r"[,;\s]+", req.get("revert") or "") if r]
    if not sets and not deletes and not reverts:
        raise fail("no options specified")
    ci = set(cloudinit_keys(vm["config"])) | set(cloudinit_keys(sets))
    if len(ci - set(deletes)) > 1:
        raise fail("cloud-init drive is already attached at '%s'"
                   % sorted(set(cloudinit_keys(vm["config"])))[0])
    return sets, deletes, reverts


def _detach(sim, node, vmid, conf, key, old, force):
    """A drive leaves the config: its cloud-init or unused volume is freed,
    a disk of the VM's becomes unusedN (vmconfig_delete_or_detach_drive)."""
    props = vmconfig.parse_props(str(old), "file")
    volid = props.get("file", "")
    if ":" not in volid or not owned(volid, vmid):
        return
    if key.startswith("unused") or force or "cloudinit" in volid:
        free_volume(sim, node, volid)
        return
    if props.get("media") == "cdrom":
        return
    n = 0
    while "unused%d" % n in conf:
        n += 1
    conf["unused%d" % n] = volid


def _update(sim, req, task=None):
    """update_vm_api: checks, then set and delete, pending when running.

    Works on copies and commits only when everything succeeded, so a
    failed update changes nothing and keeps no volume it allocated.
    """
    node, vmid = req["node"], req["vmid"]
    vm = vm_or_fail(sim, node, vmid)
    sets, deletes, reverts = _early_checks(sim, req, vm)
    conf, pending = dict(vm["config"]), dict(vm["pending"])
    pdel = list(vm["pending_delete"])
    running = vm["status"] == "running"
    made = []
    try:
        for k in reverts:
            pending.pop(k, None)
            if k in pdel:
                pdel.remove(k)
        for k, v in sets.items():
            if k == "tags":
                v = vmconfig.normalize_tags(v)
            if k == "cipassword":
                v = vmconfig.hash_password(v)
            if vmconfig.is_drive(k):
                v = _new_disk(sim, node, vmid, k, v)
                if v != sets[k]:
                    made.append(vmconfig.parse_props(v, "file")["file"])
            if running and not vmconfig.hotpluggable(k):
                pending[k] = v
            else:
                if k in conf and vmconfig.is_drive(k) and conf[k] != v:
                    _detach(sim, node, vmid, conf, k, conf[k], False)
                conf[k] = v
                pending.pop(k, None)
        for k in deletes:
            if running and not vmconfig.hotpluggable(k):
                if k not in pdel:
                    pdel.append(k)
                continue
            old = conf.pop(k, None)
            pending.pop(k, None)
            if old is not None and (vmconfig.is_drive(k) or
                                    k.startswith("unused")):
                _detach(sim, node, vmid, conf, k, old, req.get("force"))
    except TaskError as e:
        for v in made:
            free_volume(sim, node, v)
        raise fail(str(e))
    vmconfig.fill_macs(conf)
    vmconfig.fill_macs(pending)
    # cleanup_pending: a pending value equal to the current one, or a
    # pending delete of an option not set, is no change
    pending = {k: v for k, v in pending.items() if conf.get(k) != v}
    pdel = [k for k in pdel if k in conf]
    vm["config"], vm["pending"], vm["pending_delete"] = conf, pending, pdel
    vm["maxdisk"] = disk_size(sim, node, conf)
    sim.state.save()


@route("PUT", "/nodes/{node}/qemu/{vmid}/config")
def config_put(sim, req):
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        _update(sim, req)
    return None


@route("POST", "/nodes/{node}/qemu/{vmid}/config")
def config_post(sim, req):
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        _early_checks(sim, req, vm)

    def work(task):
        with sim.state.lock:
            _update(sim, req, task)
    return sim.tasks.start(req["node"], "qmconfig", req["vmid"], req.who,
                           work, sim.task_seconds())


@route("PUT", "/nodes/{node}/qemu/{vmid}/resize")
def resize(sim, req):
    node, vmid, disk = req["node"], req["vmid"], req["disk"]
    node_or_fail(sim, node)
    with sim.state.lock:
        vm_or_fail(sim, node, vmid)

    def work(task=None):
        with sim.state.lock:
            vm = vm_or_fail(sim, node, vmid)
            check_lock(vm, req.get("skiplock"))
            check_digest(vm, req.get("digest"))
            if disk not in vm["config"]:
                raise TaskError("disk '%s' does not exist" % disk)
            props = vmconfig.parse_props(str(vm["config"][disk]), "file")
            if props.get("media") == "cdrom":
                raise TaskError("you can't resize a cdrom")
            cur = parse_size(props.get("size", "0")) or 0
            text = req["size"]
            new = parse_size(text.lstrip("+"))
            if text.startswith("+"):
                new += cur
            if new < cur:
                raise TaskError("shrinking disks is not supported")
            if task:
                task.log("resizing %s to %d bytes" % (disk, new))
            props["size"] = vmconfig.format_size(new)
            vm["config"][disk] = vmconfig.format_props(props, "file")
            v = volume(sim, node, props["file"])
            if v is not None:
                v["size"] = new
            vm["maxdisk"] = disk_size(sim, node, vm["config"])
            sim.state.save()

    # PVE 8.0 made resize a task; the 8.4 knob keeps the older sync answer
    # for clients that must handle both (NOTES.md quirk 9).
    if sim.cfg["version"] == "8.4":
        try:
            work()
        except TaskError as e:
            raise fail(str(e))
        return None
    return sim.tasks.start(node, "resize", vmid, req.who, work,
                           sim.task_seconds())


# --- clone, template, destroy -----------------------------------------------

@route("POST", "/nodes/{node}/qemu/{vmid}/clone")
def clone(sim, req):
    node, vmid, newid = req["node"], req["vmid"], req["newid"]
    node_or_fail(sim, node)
    target = req.get("target") or node
    with sim.state.lock:
        src = vm_or_fail(sim, node, vmid)
        check_lock(src)
        is_template = bool(int(src["config"].get("template", 0)))
        full = req.get("full")
        full = (0 if is_template else 1) if full is None else full
        if not full and not is_template:
            raise fail("Linked clone feature is not supported for "
                       "non-template VMs")
        if not full and (req.get("storage") or req.get("format")):
            raise param_error({"storage": "parameter 'storage' not allowed "
                               "for linked clones"})
        if target != node:
            node_or_fail(sim, target)
            for k, volid, props in drives(src["config"]):
                st = volid.split(":")[0]
                if st in sim.cfg["storages"] and not sim.cfg["storages"][
                        st].get("shared"):
                    raise fail("can't clone VM to node '%s' (VM uses local "
                               "storage)" % target)
        if sim.state.vm(newid) is not None or sim.faults.take_collision():
            raise fail("unable to create VM %s: config file already exists"
                       % newid)
        pool = req.get("pool")
        if pool and pool not in sim.cfg["pools"]:
            raise fail("pool '%s' does not exist" % pool)
        if req.get("storage"):
            storage_or_fail(sim, target, req["storage"])
        name = req.get("name") or "Copy-of-VM-%s" % src["config"].get(
            "name", vmid)
        sim.state.vms[str(newid)] = {
            "node": target, "status": "stopped", "pending": {},
            "pending_delete": [], "pool": pool,
            "config": {"lock": "clone", "name": name}}
        sim.state.save()
        storage = req.get("storage")

    def work(task):
        made = []
        try:
            with sim.state.lock:
                conf = {k: v for k, v in sim.state.vm(vmid)["config"].items()
                        if k not in ("lock", "template", "smbios1", "vmgenid",
                                     "meta")}
                for k, volid, props in drives(conf):
                    st, _, volname = volid.partition(":")
                    if st not in sim.cfg["storages"]:
                        continue
                    if props.get("media") == "cdrom":
                        if "cloudinit" in volname:
                            conf[k] = "%s,media=cdrom" % allocate(
                                sim, target, st, newid, 4 << 20,
                                name="vm-%s-cloudinit" % newid)
                            made.append(conf[k].split(",")[0])
                        continue
                    size = parse_size(props.get("size", "0")) or 0
                    if full:
                        nv = allocate(sim, target, storage or st, newid, size,
                                      fmt=req.get("format"))
                    else:
                        nv = _linked(sim, target, st, volname, newid, size)
                    made.append(nv)
                    src_vol = volume(sim, node, volid)
                    if src_vol and src_vol.get("layers"):
                        _give_layers(sim, target, nv, src_vol, not full)
                    props["file"] = nv
                    conf[k] = vmconfig.format_props(props, "file")
                    task.log("clone %s: %s -> %s" % (k, volid, nv))
                # A clone gets new MACs, a new uuid and generation id.
                for k in list(conf):
                    if vmconfig.NET_RE.match(k):
                        conf[k] = vmconfig.reset_mac(conf[k])
                conf["name"] = name
                if req.get("description") is not None:
                    conf["description"] = req["description"]
                vmconfig.add_defaults(conf, newid)
                nvm = sim.state.vm(newid)
                nvm["config"] = conf
                nvm["maxdisk"] = disk_size(sim, target, conf)
                sim.state.save()
        except (TaskError, ApiError) as e:
            with sim.state.lock:
                for v in made:
                    free_volume(sim, target, v)
                sim.state.save()
            raise TaskError("clone failed: %s" % (
                e.message if isinstance(e, ApiError) else e))

    # A failed clone leaves nothing (clone_vm removes the new config).
    return sim.tasks.start(node, "qmclone", vmid, req.who, work,
                           sim.task_seconds(), _drop(sim, newid, "clone"))


def _linked(sim, node, storage, base, newid, size):
    """A linked clone's volume on its template's base (thin: no space)."""
    vols = sim.state.volumes(where(sim, node, storage))
    n = 0
    while any(v.split("/")[-1].split(".")[0] == "vm-%s-disk-%d" % (newid, n)
              for v in vols):
        n += 1
    if sim.cfg["storages"][storage]["type"] in ("dir",):
        ext = base.rsplit(".", 1)[-1] if "." in base else "qcow2"
        volname = "%s/%s/vm-%s-disk-%d.%s" % (base, newid, newid, n, ext)
    else:
        volname = "%s/vm-%s-disk-%d" % (base, newid, n)
    vols[volname] = {"size": size, "content": "images", "vmid": str(newid),
                     "format": "raw", "ctime": int(time.time()),
                     "thin": True}
    return "%s:%s" % (storage, volname)


@route("POST", "/nodes/{node}/qemu/{vmid}/template")
def template(sim, req):
    node, vmid = req["node"], req["vmid"]
    node_or_fail(sim, node)
    with sim.state.lock:
        vm = vm_or_fail(sim, node, vmid)
        check_lock(vm)
        if vm["status"] == "running":
            raise fail("you can't convert a VM to template if VM is running")
        if int(vm["config"].get("template", 0)):
            raise fail("you can't convert a template to a template")

    def work(task):
        with sim.state.lock:
            vm = vm_or_fail(sim, node, vmid)
            check_lock(vm)
            if vm["status"] == "running":
                raise TaskError("you can't convert a VM to template if VM "
                                "is running")
            conf = vm["config"]
            for k, volid, props in drives(conf):
                st, _, volname = volid.partition(":")
                if st not in sim.cfg["storages"] or "cloudinit" in volname \
                        or props.get("media") == "cdrom":
                    continue
                base = volname.replace("vm-%s-disk" % vmid,
                                       "base-%s-disk" % vmid)
                vols = sim.state.volumes(where(sim, node, st))
                if volname in vols:
                    vols[base] = vols.pop(volname)
                props["file"] = "%s:%s" % (st, base)
                conf[k] = vmconfig.format_props(props, "file")
                task.log("%s: %s -> %s" % (k, volid, props["file"]))
            conf["template"] = 1
            sim.state.save()

    return sim.tasks.start(node, "qmtemplate", vmid, req.who, work,
                           sim.task_seconds())


@route("DELETE", "/nodes/{node}/qemu/{vmid}")
def destroy(sim, req):
    node, vmid = req["node"], req["vmid"]
    node_or_fail(sim, node)
    with sim.state.lock:
        vm = vm_or_fail(sim, node, vmid)
        check_lock(vm, req.get("skiplock"))
        if vm["status"] == "running":
            raise fail("VM %s is running - destroy failed" % vmid)
        if int(vm["config"].get("protection", 0)):
            raise fail("can't remove VM %s - protection mode enabled" % vmid)

    def work(task):
        with sim.state.lock:
            vm = vm_or_fail(sim, node, vmid)
            # destroy_vm checks again under the lock: things move meanwhile
            check_lock(vm, req.get("skiplock"))
            if vm["status"] == "running":
                raise TaskError("VM %s is running - destroy failed" % vmid)
            ours = [volid for k, volid, p in drives(vm["config"])
                    if owned(volid, vmid)]
            for v in ours:
                st, _, volname = v.partition(":")
                if st not in sim.cfg["storages"]:
                    continue
                for other, ovm in sim.state.vms.items():
                    if other != str(vmid) and any(
                            vn.split(":", 1)[1].startswith(volname + "/")
                            for _, vn, _ in drives(ovm["config"])):
                        raise TaskError("base volume '%s' is still in use by "
                                        "linked cloned VM %s" % (v, other))
            for v in ours:
                free_volume(sim, node, v)
                task.log("Removed volume '%s'" % v)
            if req.get("destroy-unreferenced-disks", 0):
                for st in sim.cfg["storages"]:
                    vols = sim.state.volumes(where(sim, node, st))
                    for name in [n for n, v in vols.items()
                                 if v.get("vmid") == str(vmid)]:
                        del vols[name]
                        task.log("Removed unreferenced volume '%s:%s'"
                                 % (st, name))
            del sim.state.vms[str(vmid)]
            sim.state.save()
            if sim.guests is not None:
                sim.guests.forget(vmid)
            if req.get("purge"):
                task.log("purging VM %s from related configurations" % vmid)

    return sim.tasks.start(node, "qmdestroy", vmid, req.who, work,
                           sim.task_seconds())


# --- power ---------------------------------------------------------------------

@route("GET", "/nodes/{node}/qemu/{vmid}/status/current")
def status_current(sim, req):
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        conf = vm["config"]
        mem = vmconfig.memory_bytes(conf)
        running = vm["status"] == "running"
        out = {"vmid": req["vmid"], "status": vm["status"],
               "qmpstatus": vm["status"], "cpus": int(conf.get("cores", 1)),
               "maxmem": mem, "mem": mem // 4 if running else 0,
               "maxdisk": vm.get("maxdisk", 0), "disk": 0, "cpu": 0,
               "uptime": int(time.time() - vm["started"]) if running else 0,
               "ha": {"managed": 0}, "netin": 0, "netout": 0,
               "diskread": 0, "diskwrite": 0}
        for k in ("name", "lock", "tags"):
            if conf.get(k):
                out[k] = conf[k]
        if int(conf.get("template", 0)):
            out["template"] = 1
        if agent.enabled(conf):
            out["agent"] = 1
        if running:
            g = sim.guests.get(req["vmid"]) if sim.guests else None
            out["pid"] = g.proc.pid if g else 4242
            out["running-machine"] = "pc-i440fx-9.2+pve0"
            out["running-qemu"] = "9.2.0"
        return out


def _apply_pending(vm):
    vm["config"] = _with_pending(vm)
    vm["pending"], vm["pending_delete"] = {}, []


_power_locks = {}


def _power_lock(vmid):
    """One power change of a VM at a time (qemu-server's config lock)."""
    with _power_locks.setdefault("", threading.Lock()):
        return _power_locks.setdefault(str(vmid), threading.Lock())


def _do_start(sim, node, vmid, task):
    with sim.state.lock:
        vm = vm_or_fail(sim, node, vmid)
        check_lock(vm)
        if int(vm["config"].get("template", 0)):
            raise TaskError("you can't start a vm if it's a template")
        if vm["status"] == "running":
            raise TaskError("VM %s already running" % vmid)
        _apply_pending(vm)
        vm["cloudinit"] = _ci_values(vm["config"])
        sim.state.save()
        conf = dict(vm["config"])
    task.log("starting VM %s" % vmid)
    # the guest boots outside the state lock; the power lock keeps others
    # off this VM meanwhile
    if sim.guests is not None:
        sim.guests.start(node, vmid, conf, task)
    with sim.state.lock:
        vm = vm_or_fail(sim, node, vmid)
        vm["status"] = "running"
        vm["started"] = time.time()
        sim.state.save()


def _power(sim, req, ttype, work):
    node, vmid = req["node"], req["vmid"]
    node_or_fail(sim, node)
    with sim.state.lock:
        vm_or_fail(sim, node, vmid)

    def locked(task):
        with _power_lock(vmid):
            return work(task)
    return sim.tasks.start(node, ttype, vmid, req.who, locked,
                           sim.task_seconds())


@route("POST", "/nodes/{node}/qemu/{vmid}/status/start")
def start(sim, req):
    return _power(sim, req, "qmstart",
                  lambda t: _do_start(sim, req["node"], req["vmid"], t))


def _stop(sim, req, task, graceful):
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        check_lock(vm, req.get("skiplock"))
        if vm["status"] != "running":
            if graceful:
                raise TaskError("VM %s not running" % req["vmid"])
            return
    if sim.guests is not None:
        timeout = req.get("timeout")
        # qemu-server QemuServer.pm _do_vm_stop: a shutdown that outlasts
        # its timeout fails unless forceStop, which stops the VM instead
        force = not graceful or parse_boolean(req.get("forceStop", 0)) == 1
        if not sim.guests.stop(req["vmid"], graceful,
                               60 if timeout is None else int(timeout),
                               force):
            raise TaskError("VM quit/powerdown failed - got timeout")
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        vm["status"] = "stopped"
        sim.state.save()


@route("POST", "/nodes/{node}/qemu/{vmid}/status/stop")
def stop(sim, req):
    return _power(sim, req, "qmstop", lambda t: _stop(sim, req, t, False))


@route("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown")
def shutdown(sim, req):
    return _power(sim, req, "qmshutdown", lambda t: _stop(sim, req, t, True))


@route("POST", "/nodes/{node}/qemu/{vmid}/status/reboot")
def reboot(sim, req):
    """A shutdown and a start: the pending config applies, the guest boots
    again (a new instance-id when its identity changed)."""
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        if vm["status"] != "running":
            raise fail("VM %s not running" % req["vmid"])

    def work(task):
        _stop(sim, req, task, True)
        _do_start(sim, req["node"], req["vmid"], task)
    return _power(sim, req, "qmreboot", work)


# --- node boot -----------------------------------------------------------------

def _start_order(conf):
    """A VM's place in its node's boot: startup order=N first, lowest
    first, the rest after; by vmid within (PVE/API2/Nodes.pm
    get_start_stop_list)."""
    startup = parse_startup_order(conf.get("startup", "")) or {}
    order = startup.get("order")
    return int(order) if order is not None else float("inf")


def start_onboot(sim):
    """What a node does when it boots (pve-guests.service runs the node's
    startall, PVE/API2/Nodes.pm): one startall task per node starts each
    of its VMs with onboot=1, one after the other, through the start
    API's own path (_do_start), so real guests boot.  A VM that fails to
    start is a warning in the task's log and the others go on.  Returns
    the tasks' UPIDs."""
    per_node = {}
    with sim.state.lock:
        for vmid, vm in sim.state.vms.items():
            conf = vm["config"]
            if parse_boolean(conf.get("onboot", 0)) == 1 and \
                    not int(conf.get("template", 0)):
                per_node.setdefault(vm["node"], []).append(
                    (_start_order(conf), int(vmid)))

    def startall(node, vms):
        def work(task):
            for _, vmid in sorted(vms):
                task.log("Starting VM %d" % vmid)
                try:
                    with _power_lock(vmid):
                        _do_start(sim, node, vmid, task)
                except Exception as e:  # one VM's failure, not the node's
                    task.warn("Starting VM %d failed: %s" % (vmid, e))
        return work
    return [sim.tasks.start(node, "startall", "", "root@pam",
                            startall(node, vms), sim.task_seconds())
            for node, vms in sorted(per_node.items())]


def seed_vms(sim, count, node, first, storage, vms=None):
    """Stopped VMs whose disks exist in name only (lazy), for benchmarks:
    count from vmid first (named seed-N), or as vms lists them."""
    made = []
    with sim.state.lock:
        if vms is None:
            vms, vmid = [], first
            while len(vms) < count:
                if sim.state.vm(vmid) is None:
                    vms.append({"vmid": vmid})
                vmid += 1
        for want in vms:
            vmid = int(want["vmid"])
            if sim.state.vm(vmid) is not None:
                raise ApiError(400, "VM %d already exists" % vmid)
            where_ = want.get("node", node)
            node_or_fail(sim, where_)
            conf = {"name": want.get("name", "seed-%d" % vmid),
                    "cores": int(want.get("cores", 1)),
                    "memory": int(want.get("memory", 512)),
                    "scsi0": "%s:vm-%d-disk-0,size=8G" % (storage, vmid),
                    "net0": "virtio,bridge=vmbr0",
                    "tags": vmconfig.normalize_tags(want.get("tags", "seed"))}
            vmconfig.add_defaults(conf, vmid)
            sim.state.vms[str(vmid)] = {
                "node": where_, "status": "stopped", "config": conf,
                "pending": {}, "pending_delete": [], "maxdisk": 8 << 30}
            made.append(vmid)
        sim.state.save()
    return made


@route("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump")
def cloudinit_dump(sim, req):
    """What the cloud-init drive holds (Qemu.pm cloudinit_generated_config_dump)."""
    node_or_fail(sim, req["node"])
    with sim.state.lock:
        vm = vm_or_fail(sim, req["node"], req["vmid"])
        return cloudinit.dump(_with_pending(vm), req["vmid"], req["type"])
