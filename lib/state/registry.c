/*
 * The template registry (registry.h): artifact files and channels under
 * layers/L1/, read for every layer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/diag.h"
#include "core/file.h"
#include "core/json.h"
#include "core/pos.h"
#include "spec/yamldoc.h"
#include "state/registry.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load a JSON artifact file; null when unreadable. */
static jv
load_json(const char *path, const char *rel)
{
	struct hl_diag d;
	struct hl_pos_table *pt = NULL;
	jv doc;

	hl_diag_init(&d);
	doc = hl_yamldoc_load(path, rel, &d, &pt);
	hl_pos_table_free(pt);
	hl_diag_free(&d);
	if (jv_get_kind(doc) != JV_KIND_OBJECT) {
		jv_free(doc);
		return jv_null();
	}
	return doc;
}

static jv
node_artifacts(const struct hl_lab *lab, const char *name, const char *node,
    jv out)
{
	char dir[4096], **ids = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s/%s", lab->root,
	    name, node);
	d = opendir(dir);
	if (d == NULL)
		return out;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(ids, 2 * (cap ? cap : 8) *
			    sizeof(*ids));

			if (grown == NULL)
				break;	/* the artifacts listed so far */
			ids = grown;
			cap = 2 * (cap ? cap : 8);
		}
		ids[n] = strndup(de->d_name, len - 5);
		if (ids[n] != NULL)
			n++;
	}
	closedir(d);
	if (ids)
		qsort(ids, n, sizeof(*ids), cmp_str);
	for (i = 0; i < n; i++) {
		char path[8192], rel[4096];
		jv a;

		snprintf(rel, sizeof(rel), "layers/L1/artifacts/%s/%s/%s.json",
		    name, node, ids[i]);
		snprintf(path, sizeof(path), "%s/%s", lab->root, rel);
		a = load_json(path, rel);
		if (jv_get_kind(a) == JV_KIND_OBJECT) {
			a = jv_object_set(a, jv_string("id"), jv_string(ids[i]));
			a = jv_object_set(a, jv_string("node"), jv_string(node));
			a = jv_object_set(a, jv_string("file"), jv_string(rel));
			out = jv_array_append(out, a);
		} else {
			jv_free(a);
		}
		free(ids[i]);
	}
	free(ids);
	return out;
}

jv
hl_registry_artifact(const struct hl_lab *lab, const char *name, const char *node,
    const char *id)
{
	char rel[4096], path[8192];
	jv a;

	if (strchr(id, '/') || strchr(name, '/') || strchr(node, '/') ||
	    id[0] == '.')
		return jv_null();
	snprintf(rel, sizeof(rel), "layers/L1/artifacts/%s/%s/%s.json", name,
	    node, id);
	snprintf(path, sizeof(path), "%s/%s", lab->root, rel);
	if (access(path, F_OK) != 0)
		return jv_null();
	a = load_json(path, rel);
	if (jv_get_kind(a) == JV_KIND_OBJECT) {
		a = jv_object_set(a, jv_string("id"), jv_string(id));
		a = jv_object_set(a, jv_string("node"), jv_string(node));
		a = jv_object_set(a, jv_string("file"), jv_string(rel));
	}
	return a;
}

char *
hl_registry_channel_artifact(jv channels, const char *name, const char *channel,
    const char *node)
{
	jv v = hl_json_get(hl_json_get(hl_json_get(jv_copy(channels), name),
	    channel), node);
	char *out = jv_get_kind(v) == JV_KIND_STRING ?
	    strdup(jv_string_value(v)) : NULL;

	jv_free(v);
	return out;
}

jv
hl_registry_channels(const struct hl_lab *lab)
{
	char path[4096];
	jv doc;

	snprintf(path, sizeof(path), "%s/layers/L1/channels.yaml", lab->root);
	if (access(path, F_OK) != 0)
		return jv_object();
	doc = load_json(path, "layers/L1/channels.yaml");
	return jv_get_kind(doc) == JV_KIND_OBJECT ? doc : jv_object();
}

jv
hl_registry_artifacts(const struct hl_lab *lab, const char *name, const char *node)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	jv out = jv_array();

	if (node)
		return node_artifacts(lab, name, node, out);
	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s", lab->root,
	    name);
	d = opendir(dir);
	if (d == NULL)
		return out;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			out = node_artifacts(lab, name, de->d_name, out);
	closedir(d);
	return out;
}


char *
hl_registry_host_artifact(jv channels, jv h, const char *node)
{
	jv tpl = hl_json_get(jv_copy(h), "template");
	const char *name = hl_json_get_str(tpl, "name");
	char *out;

	if (node == NULL)
		node = hl_json_get_str(h, "node");
	out = name && node ? hl_registry_channel_artifact(channels, name,
	    hl_json_get_str(tpl, "channel"), node) : NULL;
	jv_free(tpl);
	return out;
}

void
hl_registry_digest(const struct hl_lab *lab, const char *name, char *out)
{
	jv def = hl_json_get(jv_copy(lab->templates), name);
	jv s = jv_dump_string(def, JV_PRINT_SORTED);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0, i;

	EVP_Digest(jv_string_value(s), (size_t)jv_string_length_bytes(
	    jv_copy(s)), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = '\0';
	jv_free(s);
}

void
hl_registry_new_id(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y%m%dT%H%M%SZ", &tm);
}

jv
hl_registry_artifact_new(const struct hl_registry_made *m, jv source)
{
	char when[32];
	jv a;

	hl_clock_utc(when, sizeof(when));
	a = JV_OBJECT(jv_string("id"), jv_string(m->id),
	    jv_string("template"), jv_string(m->template), jv_string("node"),
	    jv_string(m->node), jv_string("vmid"), jv_number(m->vmid),
	    jv_string("digest"), jv_string(m->digest), jv_string("source"),
	    source, jv_string("storage"), m->storage ? jv_string(m->storage) :
	    jv_null(), jv_string("created_at"), jv_string(when),
	    jv_string("spec_commit"), m->commit ? jv_string(m->commit) :
	    jv_null());
	return jv_object_set(a, jv_string("tool_version"),
	    jv_string(m->version ? m->version : ""));
}

int
hl_registry_write(const struct hl_lab *lab, jv a, struct hl_err *e)
{
	char dir[4096], path[4200];
	struct hl_buf text = { 0 };
	jv s;
	int rc;

	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s/%s", lab->root,
	    hl_json_get_str(a, "template"), hl_json_get_str(a, "node"));
	snprintf(path, sizeof(path), "%s/%s.json", dir, hl_json_get_str(a,
	    "id"));
	if (hl_file_mkdirs(dir, 0755) < 0)
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	s = jv_dump_string(jv_copy(a), JV_PRINT_SORTED | JV_PRINT_PRETTY |
	    JV_PRINT_SPACE1);
	hl_buf_printf(&text, "%s\n", jv_string_value(s));
	jv_free(s);
	rc = hl_file_write(path, &text, 0644, e);
	hl_buf_free(&text);
	return rc;
}
