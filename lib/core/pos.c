#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pos.h"

struct entry {
	char *path;		/* in the arena; NULL for an empty slot */
	uint32_t hash;
	uint32_t kline, line;
	uint16_t kcol, col;	/* columns past 65535 read as 65535 */
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct hl_pos_table {
	char *file;
	struct entry *slots;
	size_t cap;		/* a power of two */
	size_t count;
	struct chunk *arena;
};

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static char *
arena_strdup(struct hl_pos_table *t, const char *s)
{
	size_t n = strlen(s) + 1;
	struct chunk *c = t->arena;

	/* Chunks grow with the table: small files stay small. */
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = c ? (c->cap < 65536 ? c->cap * 2 : 65536) : 2048;

		if (cap < n)
			cap = n;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = t->arena;
		c->used = 0;
		c->cap = cap;
		t->arena = c;
	}
	memcpy(c->data + c->used, s, n);
	c->used += n;
	return c->data + c->used - n;
}

struct hl_pos_table *
hl_pos_table_new(const char *file)
{
	struct hl_pos_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->file = strdup(file);
	t->cap = 64;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (t->file == NULL || t->slots == NULL) {
		hl_pos_table_free(t);
		return NULL;
	}
	return t;
}

void
hl_pos_table_free(struct hl_pos_table *t)
{
	struct chunk *c, *next;

	if (t == NULL)
		return;
	for (c = t->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slots);
	free(t->file);
	free(t);
}

const char *
hl_pos_table_file(const struct hl_pos_table *t)
{
	return t->file;
}

static struct entry *
find(struct entry *slots, size_t cap, const char *path, uint32_t h)
{
	size_t i = h & (cap - 1);

	while (slots[i].path && (slots[i].hash != h || strcmp(slots[i].path, path)))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int
grow(struct hl_pos_table *t)
{
	size_t cap = t->cap * 2, i;
	struct entry *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].path)
			*find(slots, cap, t->slots[i].path, t->slots[i].hash) =
			    t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

int
hl_pos_put(struct hl_pos_table *t, const char *path, struct hl_pos key,
    struct hl_pos val)
{
	uint32_t h = fnv1a(path);
	struct entry *e;

	if ((t->count + 1) * 4 > t->cap * 3 && grow(t) < 0)
		return -1;
	e = find(t->slots, t->cap, path, h);
	if (e->path == NULL) {
		e->path = arena_strdup(t, path);
		if (e->path == NULL)
			return -1;
		e->hash = h;
		t->count++;
	}
	e->kline = (uint32_t)key.line;
	e->kcol = (uint16_t)(key.col > 65535 ? 65535 : key.col);
	e->line = (uint32_t)val.line;
	e->col = (uint16_t)(val.col > 65535 ? 65535 : val.col);
	return 0;
}

int
hl_pos_get(const struct hl_pos_table *t, const char *path,
    struct hl_pos *key, struct hl_pos *val)
{
	struct entry *e = find(t->slots, t->cap, path, fnv1a(path));

	if (e->path == NULL)
		return -1;
	if (key)
		*key = (struct hl_pos){ t->file, (int)e->kline, e->kcol };
	if (val)
		*val = (struct hl_pos){ t->file, (int)e->line, e->col };
	return 0;
}
