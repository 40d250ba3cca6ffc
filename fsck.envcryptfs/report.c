/* SPDX-License-Identifier: MIT */
/* report.c - every line fsck prints, the problems it keeps for --json, and the exit code. */
#include "fsck.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Problems kept for the JSON report; a volume that is garbage throughout still prints every
 * line, but the report stays bounded and says how many it left out. */
#define MAX_RECORDS	10000
#define MAX_NOT_CHECKED 8

struct record {
	enum fsck_pass pass;
	char *path, *backing, *kind, *message;
	int64_t chunk, offset;
	bool repaired;
};

struct report {
	pthread_mutex_t mu;
	int bits;
	bool status_shown; /* a progress line is on the terminal */
	struct record *rec;
	size_t n, cap;
	uint64_t omitted, nproblems, nrepaired;
	char *not_checked[MAX_NOT_CHECKED];
	size_t nnc;
	char *fatal; /* the error that stopped the check early */
};

static struct report *log_target; /* for the tool library's messages */

static const char *pass_name(enum fsck_pass p)
{
	static const char *const names[] = {"header", "tree", "blob", "leftover"};

	return names[p];
}

/* A line stays one line whatever bytes a name holds. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void wipe_status(struct report *r)
{
	if (r->status_shown)
		fputs("\r\033[K", stderr);
	r->status_shown = false;
}

static void vline(struct report *r, FILE *out, const char *fmt, va_list ap)
{
	char line[8192];

	vsnprintf(line, sizeof(line), fmt, ap);
	sanitize(line);
	wipe_status(r);
	fprintf(out, "%s\n", line);
	fflush(out);
}

void report_line_locked(struct report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(r, stderr, fmt, ap);
	va_end(ap);
}

static void save_fatal(struct report *r, const char *msg)
{
	if (!r->fatal)
		r->fatal = strdup(msg);
}

/* The tool library's errors and warnings (key files, prompts) go through here. */
static void tool_log(int is_error, const char *line)
{
	struct report *r = log_target;
	const char *msg = line;

	report_lock(r);
	report_line_locked(r, "%s", line);
	if (is_error && !strncmp(msg, PROG ": ", strlen(PROG) + 2))
		msg += strlen(PROG) + 2;
	if (is_error)
		save_fatal(r, msg);
	report_unlock(r);
}

int report_new(struct fsck *f)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	f->rep = r;
	log_target = r;
	ecfs_tool_set_log(tool_log);
	return 0;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	ecfs_tool_set_log(NULL);
	for (size_t i = 0; i < r->n; i++) {
		free(r->rec[i].path);
		free(r->rec[i].backing);
		free(r->rec[i].kind);
		free(r->rec[i].message);
	}
	for (size_t i = 0; i < r->nnc; i++)
		free(r->not_checked[i]);
	free(r->rec);
	free(r->fatal);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void report_lock(struct report *r)
{
	pthread_mutex_lock(&r->mu);
}

void report_unlock(struct report *r)
{
	pthread_mutex_unlock(&r->mu);
}

static bool grow(struct report *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64;
	struct record *rec;

	if (r->n < r->cap)
		return true;
	rec = realloc(r->rec, cap * sizeof(*rec));
	if (!rec)
		return false;
	r->rec = rec;
	r->cap = cap;
	return true;
}

void report_record_locked(struct report *r, const struct problem *p, bool repaired, int bits)
{
	struct record *rec;
	char msg[1024];

	r->bits |= bits;
	r->nproblems++;
	r->nrepaired += repaired;
	if (r->n >= MAX_RECORDS || !grow(r)) {
		r->omitted++;
		return;
	}
	snprintf(msg, sizeof(msg), "%s: %s", p->what, p->detail);
	rec = &r->rec[r->n++];
	*rec = (struct record){p->pass,	    strdup(p->path), strdup(p->backing), strdup(p->kind),
			       strdup(msg), p->chunk,	     p->offset,		 repaired};
}

void report_add_exit(struct report *r, int bits)
{
	report_lock(r);
	r->bits |= bits;
	report_unlock(r);
}

int report_exit_code(struct report *r)
{
	int bits;

	report_lock(r);
	bits = r->bits;
	report_unlock(r);
	return bits;
}

void report_not_checked(struct report *r, const char *what)
{
	report_lock(r);
	if (r->nnc < MAX_NOT_CHECKED)
		r->not_checked[r->nnc++] = strdup(what);
	report_unlock(r);
}

void report_fatal(struct fsck *f, int bits, const char *fmt, ...)
{
	struct report *r = f->rep;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_lock(r);
	report_line_locked(r, "%s: %s", PROG, msg);
	save_fatal(r, msg);
	r->bits |= bits;
	report_unlock(r);
}

static void line_to(struct report *r, FILE *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(r, out, fmt, ap);
	va_end(ap);
}

void report_checked(struct fsck *f, const char *path)
{
	struct report *r = f->rep;

	if (!f->o.verbose)
		return;
	report_lock(r);
	/* stdout belongs to the JSON report when there is one. */
	line_to(r, f->o.json ? stderr : stdout, "%s", path);
	report_unlock(r);
}

void report_status(struct report *r, const char *text)
{
	report_lock(r);
	fprintf(stderr, "\r%s\033[K", text);
	fflush(stderr);
	r->status_shown = true;
	report_unlock(r);
}

/* ---- the end: summary or JSON ----------------------------------------------------------- */

static json_object *record_json(const struct record *rec)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pass", json_object_new_string(pass_name(rec->pass)));
	json_object_object_add(o, "path", json_object_new_string(rec->path ? rec->path : ""));
	json_object_object_add(o, "backing_path",
			       json_object_new_string(rec->backing ? rec->backing : ""));
	json_object_object_add(o, "kind", json_object_new_string(rec->kind ? rec->kind : ""));
	json_object_object_add(o, "message",
			       json_object_new_string(rec->message ? rec->message : ""));
	if (rec->chunk >= 0)
		json_object_object_add(o, "chunk", json_object_new_int64(rec->chunk));
	if (rec->offset >= 0)
		json_object_object_add(o, "offset", json_object_new_int64(rec->offset));
	json_object_object_add(o, "repaired", json_object_new_boolean(rec->repaired));
	return o;
}

static json_object *checked_json(const struct fsck *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "directories", json_object_new_int64((int64_t)f->n.dirs));
	json_object_object_add(o, "files", json_object_new_int64((int64_t)f->n.files));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)f->n.bytes));
	return o;
}

static void print_json(const struct fsck *f, const struct report *r, int code)
{
	json_object *o = json_object_new_object(), *p = json_object_new_array();
	json_object *nc = json_object_new_array();

	json_object_object_add(o, "volume", json_object_new_string(f->o.dir));
	json_object_object_add(o, "uuid",
			       f->vol ? json_object_new_string(f->opened.uuid_str) : NULL);
	json_object_object_add(o, "clean", json_object_new_boolean(code == 0));
	json_object_object_add(o, "exit_code", json_object_new_int(code));
	json_object_object_add(o, "checked", checked_json(f));
	for (size_t i = 0; i < r->n; i++)
		json_object_array_add(p, record_json(&r->rec[i]));
	json_object_object_add(o, "problems", p);
	if (r->omitted)
		json_object_object_add(o, "problems_omitted",
				       json_object_new_int64((int64_t)r->omitted));
	for (size_t i = 0; i < r->nnc; i++)
		json_object_array_add(nc, json_object_new_string(r->not_checked[i]));
	json_object_object_add(o, "not_checked", nc);
	if (r->fatal)
		json_object_object_add(o, "error", json_object_new_string(r->fatal));
	if (code & FSCK_CANCELLED)
		json_object_object_add(o, "cancelled", json_object_new_boolean(true));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_summary(const struct fsck *f, const struct report *r, int code)
{
	const char *state = code == 0		      ? "clean"
			    : code & FSCK_CANCELLED   ? "check cancelled"
			    : code & FSCK_UNCORRECTED ? "errors left uncorrected"
			    : code & FSCK_OPERROR     ? "check incomplete"
						      : "errors corrected";
	char problems[100] = "";

	if (r->nproblems)
		snprintf(problems, sizeof(problems), "%llu problem%s (%llu repaired); ",
			 (unsigned long long)r->nproblems, r->nproblems == 1 ? "" : "s",
			 (unsigned long long)r->nrepaired);
	printf("%s: %s: %s%llu directories, %llu files, %llu bytes checked\n", f->o.dir, state,
	       problems, (unsigned long long)f->n.dirs, (unsigned long long)f->n.files,
	       (unsigned long long)f->n.bytes);
}

int report_finish(struct fsck *f)
{
	struct report *r = f->rep;
	int code;

	report_lock(r);
	wipe_status(r);
	code = r->bits;
	for (size_t i = 0; i < r->nnc; i++)
		report_line_locked(r, "%s: %s: %s", PROG, f->o.dir, r->not_checked[i]);
	if (f->o.json)
		print_json(f, r, code);
	else if (!r->fatal)
		print_summary(f, r, code);
	fflush(stdout);
	report_unlock(r);
	return code;
}
