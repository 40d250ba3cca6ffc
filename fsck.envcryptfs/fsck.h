/* SPDX-License-Identifier: MIT */
/* fsck.h - what the parts of fsck.envcryptfs share: options, the run's state, the passes. */
#ifndef FSCK_H
#define FSCK_H

#include "envcryptfs.h"
#include "tool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PROG "fsck.envcryptfs"

/* fsck(8) exit codes; the result is the bitwise OR of every condition that applies. */
enum fsck_exit {
	FSCK_OK = 0,
	FSCK_CORRECTED = 1,
	FSCK_UNCORRECTED = 4,
	FSCK_OPERROR = 8,
	FSCK_USAGE = 16,
	FSCK_CANCELLED = 32,
};

enum fsck_mode {
	MODE_ASK,   /* no -n/-p/-y: ask on the terminal */
	MODE_NO,    /* -n: never write */
	MODE_PREEN, /* -p: repair what is safe */
	MODE_YES,   /* -y: repair everything */
};

enum fsck_pass { PASS_HEADER, PASS_TREE, PASS_BLOB, PASS_LEFTOVER };

struct fsck_opts {
	enum fsck_mode mode;
	bool explicit_n; /* -n itself, not its stand-in when there is no terminal */
	bool force, verbose, json, no_key;
	struct ecfs_keyopts keys;
	const char *dir;
};

struct fsck_counts {
	atomic_uint_fast64_t dirs, files, bytes;
};

struct report;
struct progress;
struct blob_pool;

struct fsck {
	struct fsck_opts o;
	struct ecfs_volume *vol;
	struct ecfs_volume_info opened; /* as ecfs_volume_open found the header copies */
	struct ecfs_volume_info info;	/* after unlocking, when a key was given */
	char open_note[512];		/* what the open said about a header copy, if anything */
	bool have_key;
	bool verify_chunks;	    /* a key and an authenticated cipher */
	struct ecfs_crypto *crypto; /* the walking thread's */
	int lock_fd;		    /* held flock on the lock file, or -1 */
	struct fsck_counts n;
	struct report *rep;
	struct progress *prog;
	struct blob_pool *pool;
	/* Side files of long symlink targets at the root, in name order, and whether a symlink
	 * names each (check_links.c; the walking thread only). */
	struct link_side *link_sides;
	size_t n_link_sides;
	atomic_bool tree_incomplete; /* an operational error in the tree pass */
};

/* Set by SIGINT and SIGTERM; every loop polls it and stops cleanly. */
extern volatile sig_atomic_t fsck_cancelled;

/* ---- problems (repair.c decides, report.c prints and records) ------------------------- */

struct problem {
	enum fsck_pass pass;
	const char *path;    /* plaintext path, or the backing path when it is not known */
	const char *backing; /* the backing path */
	const char *kind;    /* a short stable ID, e.g. "chunk-auth" */
	const char *what;    /* a phrase: "chunk fails authentication" */
	const char *detail;  /* the specifics */
	int64_t chunk;	     /* -1 when not about a chunk */
	int64_t offset;	     /* plaintext byte offset, -1 when none */
};

enum fix_safety {
	FIX_SAFE,  /* loses nothing: -p does it */
	FIX_LOSSY, /* drops bytes that cannot be read: only -y or a yes on the terminal */
};

struct fix {
	enum fix_safety safety;
	bool needs_key;
	const char *question; /* "Remove it" */
	const char *done;     /* "removed" */
	int (*fn)(void *arg); /* 0 or a negative errno */
	void *arg;
};

struct problem problem_of(enum fsck_pass pass, const char *path, const char *backing,
			  const char *kind, const char *what, const char *detail);
/* A problem with one chunk; offset is its plaintext offset. */
struct problem problem_chunk(enum fsck_pass pass, const char *path, const char *backing,
			     const char *kind, const char *what, const char *detail, int64_t chunk,
			     int64_t offset);

struct fix fix_of(enum fix_safety safety, const char *question, const char *done,
		  int (*fn)(void *arg), void *arg);

/* Reports a problem and, when fix is not NULL and the mode allows, repairs it. Thread-safe.
 * Returns true when it was repaired. */
bool fsck_problem(struct fsck *f, struct problem p, const struct fix *fix);
/* Reports an operational error (exit code 8) about path; does not stop the check. */
void fsck_operr(struct fsck *f, enum fsck_pass pass, const char *path, const char *backing,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Repairs (repair.c), in the form struct fix wants. */
struct fix_at {
	int dirfd;
	const char *name;
	int fd;
	uint64_t size;
	/* fix_blob_size; fix_dirid on a format-2 volume: the new ID is bound to place (NULL:
	 * format 1). */
	const struct ecfs_volume *vol;
	const struct ecfs_place *place;
	const char *new_name; /* fix_rename: the name in dirfd that name replaces */
};
int fix_unlink(void *at);    /* removes at->name from at->dirfd */
int fix_rename(void *at);    /* renames at->name over at->new_name in at->dirfd */
int fix_rmdir_tmp(void *at); /* removes the half-made directory at->name and its ID */
int fix_truncate(void *at);  /* cuts at->fd to at->size bytes (format 2, at->vol set: and
			      * lowers the header's size to match first) */
int fix_dirid(void *at);     /* gives the empty directory at->dirfd a new ID */
int fix_blob_size(void *at); /* sets the size in at->fd's (format-2) blob header to at->size */
int fix_header(void *vol);   /* rewrites both header copies from the one in use */

/* ---- report.c ------------------------------------------------------------------------- */

int report_new(struct fsck *f);
void report_free(struct report *r);
void report_lock(struct report *r);
void report_unlock(struct report *r);
/* With the lock held: prints a line on stderr, first wiping a progress line. */
void report_line_locked(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* With the lock held: records a problem, its line having been printed. */
void report_record_locked(struct report *r, const struct problem *p, bool repaired, int bits);
void report_add_exit(struct report *r, int bits);
int report_exit_code(struct report *r);
/* Something the check could not verify, for the summary and the JSON report. */
void report_not_checked(struct report *r, const char *what);
/* The volume error that stopped the check early (mounted, wrong key). */
void report_fatal(struct fsck *f, int bits, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -v: one checked file or directory. */
void report_checked(struct fsck *f, const char *path);
/* Rewrites the progress line (stderr is a terminal). */
void report_status(struct report *r, const char *text);
/* The summary (text) or the JSON report; returns the exit code. */
int report_finish(struct fsck *f);

/* ---- progress.c ----------------------------------------------------------------------- */

int progress_start(struct fsck *f);
void progress_stop(struct fsck *f);

/* ---- the passes ----------------------------------------------------------------------- */

/* lock.c: refuses a mounted volume unless -n; returns exit bits (0 to go on). */
int lock_check(struct fsck *f);
void lock_release(struct fsck *f);

/* unlock.c: opens the volume and unlocks it when a key is given; returns exit bits. */
int volume_open_unlock(struct fsck *f);

/* check_header.c: pass 1. */
void check_header(struct fsck *f);

/* check_tree.c: passes 2 to 4, walking the tree and handing blobs to the pool. */
void check_tree(struct fsck *f);

/* check_blob.c: pass 3 on worker threads. */
int blob_pool_start(struct fsck *f, int nthreads);
/* Checks the blob disk in dirfd (a regular file); the work is queued. */
void blob_submit(struct fsck *f, int dirfd, const char *disk, const char *path,
		 const char *backing);
void blob_pool_finish(struct fsck *f);

/* check_tail.c: format 2, all-zero chunks past the header's size that no holes map lists (a
 * crash before the holes of a write past the end were recorded): reported, and listed as
 * holes or cut off when the mode allows. Returns the blob's size after any repair; *zero_from is
 * the first such chunk when they stay (UINT64_MAX otherwise), for the chunk check not to report
 * them again. */
uint64_t tail_check(struct fsck *f, int fd, const char *path, const char *backing, uint64_t size,
		    uint64_t *zero_from);

/* util.c */
char *path_join(const char *dir, const char *name);
/* The path shown for an entry: plaintext when names are known, else the backing path. */
const char *shown_path(const char *plain, const char *backing);
/* openat for reading (O_NOATIME when allowed); writable asks for O_RDWR and falls back. */
int open_entry(int dirfd, const char *name, int flags, bool writable, bool *got_writable);

#endif /* FSCK_H */
