/*
 * The hosts' records under .hl/hosts/ (hostrec.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "core/lock.h"
#include "spec/spec.h"
#include "state/hostrec.h"

#define REC_MAX (1u << 20)

jv
hl_hostrec_read(const struct hl_lab *lab, const char *host)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	jv doc;

	snprintf(path, sizeof(path), "%s/.hl/hosts/%s.json", lab->root, host);
	if (hl_file_read(path, REC_MAX, &text, &len) != HL_FILE_OK)
		return jv_object();
	doc = jv_parse_sized(text, (int)len);
	free(text);
	if (jv_get_kind(doc) != JV_KIND_OBJECT) {
		jv_free(doc);
		return jv_object();
	}
	return doc;
}

int
hl_hostrec_update(const struct hl_lab *lab, const char *host,
    const char *section, jv rec, int clear, struct hl_err *e)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct hl_buf text = { 0 };
	jv doc, sec, s;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/.hl/hosts", lab->root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		jv_free(rec);
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, host);
	fd = hl_lock_file(path);	/* waits for another writer */
	doc = hl_hostrec_read(lab, host);
	sec = hl_json_get(jv_copy(doc), section);
	if (jv_get_kind(sec) != JV_KIND_OBJECT) {
		jv_free(sec);
		sec = jv_object();
	}
	if (clear)
		sec = jv_object_delete(sec, jv_string("applied"));
	if (hl_json_get_kind(rec, "ok") == JV_KIND_TRUE)
		sec = jv_object_set(sec, jv_string("applied"), jv_copy(rec));
	sec = jv_object_set(sec, jv_string("last"), rec);
	doc = jv_object_set(doc, jv_string(section), sec);
	s = jv_dump_string(doc, JV_PRINT_SORTED | JV_PRINT_PRETTY |
	    JV_PRINT_SPACE1);
	hl_buf_printf(&text, "%s\n", jv_string_value(s));
	jv_free(s);
	rc = hl_file_write(path, &text, 0600, e);
	hl_buf_free(&text);
	hl_unlock_file(fd);
	return rc;
}
