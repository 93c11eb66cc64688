/* Inside template builds: shared by template.c and template_prepare.c. */
#ifndef HL_TEMPLATE_IMPL_H
#define HL_TEMPLATE_IMPL_H

#include <stddef.h>
#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"
#include "template/template.h"

struct build {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const char *name, *node;
	const struct hl_tpl_opts *o;
	struct hl_err *e;
	jv def;			/* the template definition */
	char digest[65];
	char id[32];		/* the artifact id: UTC YYYYmmddTHHMMSSZ */
	char disk_storage[128], import_storage[128], snippets_storage[128];
	char snippets_dir[300];	/* the snippets storage's directory */
	char import_vol[512];
	int vmid;		/* > 0 once this build created it */
	jv upids;
	jv source, mirrored;	/* {url, checksum}; mirrored null if none */
	int download;		/* a dry run: the source is not there yet */
};

void tb_log(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tb_task(struct build *b, const char *method, const char *path, jv params,
    double timeout);
void tb_vm_path(struct build *b, char *out, size_t len, const char *rest);
void tb_discard(struct build *b);

/* 1 when this digest is built on the node (*artifact set), 0 when not
 * (an interrupted build's VM removed first), -1 on error (one still
 * locked past the wait among them). */
int tb_existing(struct build *b, jv *artifact);

/* The import, disk and snippets storages exist on the node as needed. */
int tb_storages(struct build *b);

/* The node's SSH answers with the host key lab.yaml pins (agent: install
 * needs it for the vendor-data): checked before anything is downloaded. */
int tb_node_ssh(struct build *b);

/* agent: install: vendor-data over SFTP, boot, cloud-init clean, down. */
int tb_prepare(struct build *b);

#endif
