/*
 * One ansible-playbook run (converge.h): the run's own directory below
 * .hl/converge/ with hl's ansible.cfg, the inventory and the playbook;
 * external hosts' pinned keys into .hl/known_hosts; the child, its events
 * read as they come; its SSH masters closed and the directory removed.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "converge/converge_impl.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "core/proc.h"
#include "spec/spec.h"
#include "ssh/known_hosts.h"
#include "state/restic.h"
#include "ssh/ssh.h"

#define RUN_TIMEOUT 3600.0

struct run {
	const struct hl_lab *lab;
	const struct hl_cv_opts *o;
	char dir[4300];			/* .hl/converge/run-PID */
	char playbook[4400];
	jv hostvars;			/* NAME -> vars, the reachable ones */
	jv skipped;			/* NAME -> why it is not in the run */
	struct hl_err *e;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Each SSH master of the run told to exit, then the directory removed:
 * no connection outlives the run (a host rebuilt meanwhile is checked
 * afresh next time). */
static void
cleanup(struct run *r)
{
	char cp[4400], sock[4700], opt[4800];
	struct dirent *d;
	DIR *dir;

	snprintf(cp, sizeof(cp), "%s/cp", r->dir);
	if ((dir = opendir(cp)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			char *argv[] = { "ssh", "-O", "exit", "-o", opt,
				"hl-converge", NULL };

			if (d->d_name[0] == '.')
				continue;
			snprintf(sock, sizeof(sock), "%s/%s", cp, d->d_name);
			snprintf(opt, sizeof(opt), "ControlPath=%s", sock);
			hl_proc_run(argv, 10, NULL, NULL, NULL);
		}
		closedir(dir);
	}
	nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
write_file(struct run *r, const char *name, const struct hl_buf *b)
{
	char path[4500];

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	return hl_file_write(path, b, 0600, r->e);
}

/* hl's ansible.cfg: nothing of the operator's (ANSIBLE_CONFIG names this
 * file, the environment has no other ANSIBLE_*). */
static int
write_cfg(struct run *r)
{
	struct hl_buf b = { 0 };
	int rc;

	hl_buf_printf(&b, "# written by hl-converge for one run\n"
	    "[defaults]\n"
	    "roles_path = %s/layers/L3/roles\n"
	    "host_key_checking = True\n"
	    "retry_files_enabled = False\n"
	    "stdout_callback = ansible.posix.jsonl\n"
	    "callbacks_enabled =\n"
	    "forks = %d\n"
	    "gathering = explicit\n"
	    "interpreter_python = /usr/bin/python3\n"
	    "local_tmp = %s/tmp\n"
	    "nocolor = True\n"
	    /* a host that fails after a change asked for a restart still
	     * restarts: the next run would find nothing to change */
	    "force_handlers = True\n"
	    "[ssh_connection]\n"
	    "pipelining = True\n"
	    "control_path_dir = %s/cp\n"
	    "ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s\n",
	    r->lab->root, r->o->forks > 0 ? r->o->forks : 8, r->dir, r->dir);
	rc = write_file(r, "ansible.cfg", &b);
	hl_buf_free(&b);
	return rc;
}

/* The inventory as the yaml plugin reads it (JSON is YAML). */
static int
write_inventory(struct run *r)
{
	jv hosts = jv_copy(r->hostvars), children = jv_object(), inv, groups;
	struct hl_buf b = { 0 };
	int rc;

	groups = cv_groups(jv_copy(r->hostvars));
	jv_object_foreach(groups, g, m) {
		jv members = jv_object();

		jv_array_foreach(m, i, h)
			members = jv_object_set(members, h, jv_object());
		jv_free(m);
		children = jv_object_set(children, g, jv_object_set(
		    jv_object(), jv_string("hosts"), members));
	}
	jv_free(groups);
	inv = jv_object_set(jv_object(), jv_string("all"), jv_object_set(
	    jv_object_set(jv_object(), jv_string("hosts"), hosts),
	    jv_string("children"), children));
	inv = jv_dump_string(inv, JV_PRINT_SORTED);
	hl_buf_adds(&b, jv_string_value(inv));
	jv_free(inv);
	rc = write_file(r, "inventory.json", &b);
	hl_buf_free(&b);
	return rc;
}

/* A task {name, MODULE: args, ...}. */
static jv
task(const char *name, const char *module, jv args)
{
	return jv_object_set(jv_object_set(jv_object(), jv_string("name"),
	    jv_string(name)), jv_string(module), args);
}

/* t tagged always: run whatever --tags says. */
static jv
always(jv t)
{
	return jv_object_set(t, jv_string("tags"), jv_array_append(jv_array(),
	    jv_string("always")));
}

/*
 * The play: hl's version task, each host's roles in its order (a host
 * includes only its own), its handlers flushed, then the commit recorded
 * on the host (not in check mode, nor when --tags runs part of the
 * roles).  hl's tasks and the role includes are tagged always: --tags
 * picks among the roles' own tasks.  JSON is YAML: no quoting to get
 * wrong.  Tasks named "hl: ..." are hl's, not counted.
 */
static int
write_playbook(struct run *r)
{
	jv tasks = jv_array(), t, play, rec;
	struct hl_buf b = { 0 };
	char content[400];
	int rc;

	t = task("hl: ansible version", "ansible.builtin.debug",
	    jv_object_set(jv_object(), jv_string("msg"),
	    jv_string("{{ ansible_version.full }}")));
	t = jv_object_set(t, jv_string("run_once"), jv_true());
	tasks = jv_array_append(tasks, always(t));
	t = task("roles", "ansible.builtin.include_role", jv_object_set(
	    jv_object(), jv_string("name"), jv_string("{{ hl_role }}")));
	t = jv_object_set(t, jv_string("loop"), jv_string("{{ hl_roles }}"));
	t = jv_object_set(t, jv_string("loop_control"), jv_object_set(
	    jv_object(), jv_string("loop_var"), jv_string("hl_role")));
	tasks = jv_array_append(tasks, always(t));
	tasks = jv_array_append(tasks, always(task("hl: handlers",
	    "ansible.builtin.meta", jv_string("flush_handlers"))));
	if (r->o->mode == HL_CV_APPLY && r->o->tags == NULL) {
		t = task("hl: state directory", "ansible.builtin.file",
		    jv_parse("{\"path\": \"/var/lib/hl\", \"state\": "
		    "\"directory\", \"owner\": \"root\", \"group\": \"root\", "
		    "\"mode\": \"0700\"}"));
		tasks = jv_array_append(tasks, t);
		snprintf(content, sizeof(content), "{\"commit\": %s%s%s, "
		    "\"dirty\": %s, \"roles\": {{ hl_roles | to_json }}}\n",
		    r->o->commit ? "\"" : "", r->o->commit ? r->o->commit :
		    "null", r->o->commit ? "\"" : "", r->o->dirty ? "true" :
		    "false");
		rec = jv_parse("{\"dest\": \"/var/lib/hl/converge.json\", "
		    "\"owner\": \"root\", \"group\": \"root\", \"mode\": "
		    "\"0600\"}");
		rec = jv_object_set(rec, jv_string("content"),
		    jv_string(content));
		tasks = jv_array_append(tasks, task("hl: record the commit",
		    "ansible.builtin.copy", rec));
	}
	play = jv_parse("{\"name\": \"hl converge\", \"hosts\": \"all\", "
	    "\"gather_facts\": false, \"become\": true}");
	play = jv_object_set(play, jv_string("tasks"), tasks);
	play = jv_dump_string(jv_array_append(jv_array(), play), 0);
	hl_buf_adds(&b, jv_string_value(play));
	jv_free(play);
	rc = write_file(r, "site.yml", &b);
	hl_buf_free(&b);
	return rc;
}

/* An external host's pinned key into .hl/known_hosts: a key line as it
 * is, a fingerprint through a scan that must find it. */
static int
pin_external(struct run *r, const struct hl_host *h, jv vars)
{
	jv hj = hl_spec_host_json(r->lab, h);
	struct hl_ssh_target t = {
		.address = hl_json_get_str(vars, "ansible_host"),
		.port = (int)jv_number_value(hl_json_get(jv_copy(hj), "port")),
		.host_key = hl_json_get_str(hj, "host_key"),
	};
	struct hl_buf key = { 0 };
	int rc;

	if (t.port <= 0)
		t.port = 22;
	rc = t.host_key && t.address ? hl_ssh_pinned_key(&t, &key, r->e) :
	    hl_err_set(r->e, HL_E_SSH, "no address or host key");
	if (rc == 0)
		rc = hl_known_hosts_set(r->lab->root, h->name,
		    hl_buf_str(&key), r->e);
	hl_buf_free(&key);
	jv_free(hj);
	return rc;
}

/* The hosts in the run, and why the others are not. */
static int
pick(struct run *r, const unsigned char *picked)
{
	jv missing;
	size_t i;

	r->hostvars = cv_hosts(r->lab, picked, &missing);
	r->skipped = jv_object();
	jv_array_foreach(missing, j, m) {
		r->skipped = jv_object_set(r->skipped, m, jv_string("no "
		    "address to reach it at: a DHCP host whose VM hl-vm has "
		    "not seen running (hl-vm apply)"));
	}
	jv_free(missing);
	for (i = 0; i < r->lab->nhosts; i++) {
		const struct hl_host *h = &r->lab->hosts[i];
		jv v;
		struct hl_err pe;
		struct hl_err *keep = r->e;

		if (!h->external || (picked && !picked[i]))
			continue;
		v = hl_json_get(jv_copy(r->hostvars), h->name);
		r->e = &pe;
		if (jv_get_kind(v) == JV_KIND_OBJECT &&
		    pin_external(r, h, v) < 0) {
			r->skipped = jv_object_set(r->skipped,
			    jv_string(h->name), jv_string(pe.msg));
			r->hostvars = jv_object_delete(r->hostvars,
			    jv_string(h->name));
		}
		r->e = keep;
		jv_free(v);
	}
	return 0;
}

static int
prepare(struct run *r)
{
	char parent[4200];

	snprintf(parent, sizeof(parent), "%s/.hl/converge", r->lab->root);
	snprintf(r->dir, sizeof(r->dir), "%s/run-%ld", parent, (long)getpid());
	snprintf(r->playbook, sizeof(r->playbook), "%s/site.yml", r->dir);
	nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if ((mkdir(parent, 0700) < 0 && errno != EEXIST) ||
	    mkdir(r->dir, 0700) < 0)
		return hl_err_set(r->e, HL_E_INTERNAL, "%s: %s", r->dir,
		    strerror(errno));
	/* the keys capture's clients reach the NAS with: the restic role
	 * installs them, and the NAS's restic_server authorises them */
	if (hl_restic_keys(r->lab, r->e) < 0)
		return -1;
	if (write_cfg(r) < 0 || write_inventory(r) < 0 ||
	    write_playbook(r) < 0)
		return -1;
	return 0;
}

/* The run's exit status from each host's result; e names the worst. */
static int
verdict(struct run *r, jv hosts, int rc, const struct hl_buf *err)
{
	int code = 0, nfail = 0, nunr = 0, drift = 0;
	const char *first_fail = NULL, *first_unr = NULL, *unr_msg = NULL;

	jv_array_foreach(hosts, i, h) {
		if (jv_number_value(hl_json_get(jv_copy(h), "unreachable")) > 0) {
			if (nunr++ == 0) {
				first_unr = hl_json_get_str(h, "name");
				unr_msg = hl_json_get_str(h, "unreachable_msg");
			}
		} else if (jv_number_value(hl_json_get(jv_copy(h),
		    "failed")) > 0) {
			if (nfail++ == 0)
				first_fail = hl_json_get_str(h, "name");
		} else if (hl_json_get_kind(h, "drift") == JV_KIND_ARRAY &&
		    jv_array_length(hl_json_get(jv_copy(h), "drift")) > 0)
			drift++;
		jv_free(h);
	}
	/* the names and messages above are the caller's array's too */
	jv_free(hosts);
	if (nunr > 0) {
		code = hl_err_set(r->e, HL_E_SSH, "%s unreachable: %s%s",
		    first_unr, unr_msg ? unr_msg : "not reached", nunr > 1 ?
		    " (and others: see each host)" : "");
	} else if (nfail > 0) {
		code = hl_err_set(r->e, HL_E_FAILED, "a task failed on %s%s",
		    first_fail, nfail > 1 ? " and others (see each host)" : "");
	} else if (rc != 0) {
		const char *s = hl_buf_str(err);
		size_t n = strlen(s);

		code = hl_err_set(r->e, HL_E_FAILED, "ansible-playbook failed "
		    "(exit %d): %s", rc, n > 800 ? s + n - 800 : s);
	} else if (drift > 0 && r->o->exit_code) {
		return 1;
	}
	return code < 0 ? r->e->code : 0;
}

int
hl_cv_run(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_cv_opts *o, jv *res, struct hl_err *e)
{
	struct run r = { .lab = lab, .o = o, .e = e };
	char cfg[4500], inv[4500], forks[16];
	/* Ansible refuses to run without a UTF-8 locale */
	char *set[] = { cfg, "ANSIBLE_NOCOLOR=1", "LC_ALL=C.UTF-8",
		"LANG=C.UTF-8", NULL };
	char *argv[16];
	struct cv_events ev = { .check = o->mode == HL_CV_CHECK,
		.progress = o->progress };
	struct hl_buf err = { 0 };
	struct hl_proc_spec ps = { .argv = argv, .set = set, .drop_prefix =
		"ANSIBLE_", .timeout_s = RUN_TIMEOUT, .line = cv_event_line,
		.ctx = &ev, .err = &err };
	int n = 0, rc = -1, code = -1;
	jv hosts = jv_array();

	*res = jv_null();
	pick(&r, picked);
	cv_events_init(&ev, jv_keys(jv_copy(r.hostvars)));
	if (prepare(&r) < 0)
		goto done;
	snprintf(cfg, sizeof(cfg), "ANSIBLE_CONFIG=%s/ansible.cfg", r.dir);
	snprintf(inv, sizeof(inv), "%s/inventory.json", r.dir);
	snprintf(forks, sizeof(forks), "%d", o->forks > 0 ? o->forks : 8);
	argv[n++] = "ansible-playbook";
	argv[n++] = "-i";
	argv[n++] = inv;
	argv[n++] = "--forks";
	argv[n++] = forks;
	if (ev.check) {
		argv[n++] = "--check";
		argv[n++] = "--diff";
	}
	if (o->tags) {
		argv[n++] = "--tags";
		argv[n++] = (char *)o->tags;
	}
	argv[n++] = r.playbook;
	argv[n] = NULL;
	/* nobody to reach: no run, each host says why */
	rc = jv_object_length(jv_copy(r.hostvars)) > 0 ? hl_proc_spawn(&ps, e) : 0;
	if (rc < 0)
		goto done;
	/* every picked host, in name order: those left out of the run too */
	for (size_t i = 0; i < lab->nhosts; i++) {
		const char *name = lab->hosts[i].name;
		jv h;

		if (picked && !picked[i])
			continue;
		if (hl_json_get_kind(r.skipped, name) == JV_KIND_STRING) {
			h = jv_object_set(cv_host_new(name),
			    jv_string("unreachable"), jv_number(1));
			h = jv_object_set(h, jv_string("unreachable_msg"),
			    hl_json_get(jv_copy(r.skipped), name));
		} else {
			h = hl_json_get(jv_copy(ev.hosts), name);
		}
		if (ev.check && hl_json_get_kind(h, "drift") == JV_KIND_NULL)
			h = jv_object_set(h, jv_string("drift"), jv_array());
		hosts = jv_array_append(hosts, h);
	}
	code = verdict(&r, jv_copy(hosts), rc, &err);
	*res = jv_object_set(jv_object_set(jv_object(), jv_string("hosts"),
	    hosts), jv_string("ansible"), jv_copy(ev.version));
	hosts = jv_null();
done:
	if (code < 0)
		code = e->code;
	cleanup(&r);
	cv_events_free(&ev);
	jv_free(hosts);
	jv_free(r.hostvars);
	jv_free(r.skipped);
	hl_buf_free(&err);
	return code;
}
