"""Tasks: UPIDs, workers that take time, logs, status (PVE's fork_worker).

Formats follow pve-common src/PVE/UPID.pm (encode/decode) and
src/PVE/RESTEnvironment.pm (fork_worker, the TASK OK / TASK ERROR /
TASK WARNINGS lines); the task endpoints follow pve-manager
PVE/API2/Tasks.pm.
"""

import itertools
import os
import threading
import time
import traceback

from .errors import ApiError, TaskError

_pids = itertools.count(os.getpid() * 16)


def make_upid(node, ttype, tid, user):
    """UPID:node:PID:PSTART:STARTTIME:type:id:user: (pve-common UPID.pm)."""
    pid = next(_pids) & 0xFFFFFFFF
    pstart = int(time.monotonic() * 100) & 0xFFFFFFFF
    start = int(time.time())
    return "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % (node, pid, pstart, start,
                                                ttype, tid, user)


def encode_id(tid):
    """A task id safe inside a UPID: ':' and what is not printable ASCII
    become %XX (PVE::Tools encode_text keeps ':' out the same way)."""
    return "".join(c if " " < c < "\x7f" and c != ":" and c != "%" else
                   "%%%02X" % ord(c) for c in str(tid))


def parse_upid(upid):
    """The UPID's fields, or None when it is not one (PVE: 'unable to parse')."""
    parts = upid.split(":")
    if len(parts) != 9 or parts[0] != "UPID" or parts[8] != "":
        return None
    try:
        pid, pstart, start = (int(parts[i], 16) for i in (2, 3, 4))
    except ValueError:
        return None
    return {"node": parts[1], "pid": pid, "pstart": pstart,
            "starttime": start, "type": parts[5], "id": parts[6],
            "user": parts[7]}


class Task:
    """One worker: its log lines, and its status once it has stopped."""

    def __init__(self, upid, fields):
        self.upid = upid
        self.fields = fields
        self.lines = []
        self.warnings = 0
        self.exitstatus = None      # None while running
        self.endtime = None
        self.done = threading.Event()
        self.cancel = threading.Event()

    def log(self, line):
        self.lines.append(line)

    def warn(self, line):
        self.warnings += 1
        self.lines.append("WARN: " + line)

    def status(self):
        out = dict(self.fields)
        out["upid"] = self.upid
        out["status"] = "running" if self.exitstatus is None else "stopped"
        if self.exitstatus is not None:
            out["exitstatus"] = self.exitstatus
        if "!" in self.fields["user"]:
            out["tokenid"] = self.fields["user"].split("!", 1)[1]
        return out


class Tasks:
    """Every task of the simulator, running or finished."""

    def __init__(self, duration_s, on_change=None):
        self.duration_s = duration_s
        self.tasks = {}
        self.lock = threading.Lock()
        self.on_change = on_change

    def start(self, node, ttype, tid, user, work, duration_s=None,
              cleanup=None):
        """Dispatch work(task) after the task's duration; returns the UPID.

        work may log, raise TaskError (or ApiError) for a failure, and
        returns nothing.  cleanup(), when given, runs whenever the task does
        not end well, interrupted before its work included: what the call
        set up at once (a locked config) never outlives a failed task.
        """
        upid = make_upid(node, ttype, encode_id(tid), user)
        task = Task(upid, parse_upid(upid))
        with self.lock:
            self.tasks[upid] = task
        delay = self.duration_s if duration_s is None else duration_s
        threading.Thread(target=self._run, args=(task, work, delay, cleanup),
                         daemon=True, name=upid).start()
        return upid

    def _run(self, task, work, delay, cleanup):
        # Half the time before the work, half after: a task is seen running.
        task.cancel.wait(delay / 2)
        try:
            if task.cancel.is_set():
                raise TaskError("received interrupt")
            work(task)
            task.cancel.wait(delay / 2)
            if task.warnings:
                task.exitstatus = "WARNINGS: %d" % task.warnings
                task.log("TASK WARNINGS: %d" % task.warnings)
            else:
                task.exitstatus = "OK"
                task.log("TASK OK")
        except (TaskError, ApiError) as e:
            msg = e.message if isinstance(e, ApiError) else str(e)
            task.exitstatus = msg
            task.log("TASK ERROR: %s" % msg)
        except Exception as e:      # a simulator bug: say so in the task
            traceback.print_exc()
            task.exitstatus = "internal error: %s" % e
            task.log("TASK ERROR: internal error: %s" % e)
        if task.exitstatus not in ("OK",) and not task.warnings and cleanup:
            try:
                cleanup()
            except Exception:
                traceback.print_exc()
        task.endtime = int(time.time())
        task.done.set()
        if self.on_change:
            self.on_change()

    def get(self, upid):
        with self.lock:
            return self.tasks.get(upid)

    def list(self, node):
        with self.lock:
            return [t for t in self.tasks.values()
                    if t.fields["node"] == node]

    def wait_all(self, timeout=10):
        with self.lock:
            tasks = list(self.tasks.values())
        for t in tasks:
            t.done.wait(timeout)
