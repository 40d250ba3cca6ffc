/* SPDX-License-Identifier: MIT */
/*
 * status.h - the status socket: a mounted daemon answers `envcryptfsctl status` on a Unix
 * stream socket, and envcryptfsctl asks it.
 *
 * Where: <dir>/<uuid>.sock, where <dir> is /run/envcryptfs for a daemon running as root,
 * else $XDG_RUNTIME_DIR/envcryptfs, else /tmp/envcryptfs-<uid>. The directory is created
 * with mode 0700 when missing and refused unless it is a directory owned by the daemon's
 * user (a mode wider than 0700 is narrowed).
 *
 * Protocol: the client connects and sends nothing; the server checks the peer with
 * SO_PEERCRED (uid 0 or the daemon's own uid, else it answers {"error": "permission denied"}),
 * writes one line of JSON (the fields of struct ecfs_status, plus "version": 1) and closes.
 */
#ifndef ECFS_STATUS_H
#define ECFS_STATUS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#define ECFS_STATUS_VERSION 1

/* What a daemon reports. Strings are NUL-terminated and truncated to fit. */
struct ecfs_status {
	char uuid[37];		 /* set by the server from ecfs_status_server_start's uuid_str */
	int64_t pid;		 /* set by the server: the daemon's pid */
	char cipher[32];	 /* ecfs_cipher_name() */
	int unlocked_slot;	 /* the slot that unlocked the volume, or ECFS_UNLOCKED_BY_EXPORT */
	uint64_t kek_generation; /* that slot's KEK generation (0 for an export) */
	int64_t started;	 /* time(NULL) when the mount went live */
	uint64_t bytes_read;	 /* plaintext bytes returned by read requests */
	uint64_t bytes_written;	 /* plaintext bytes accepted by write requests */
	uint64_t auth_failures;	 /* chunks, names and values that failed authentication */
	uint64_t read_ops;	 /* read requests answered (optional on the wire) */
	uint64_t write_ops;	 /* write requests answered (optional on the wire) */
	char backing_dir[PATH_MAX];
	char mountpoint[PATH_MAX];
	/* A daemon unlocked by a KMS slot (kms_url is "" otherwise); optional on the wire. */
	char kms_url[512];
	char kms_key[128];
	uint64_t kms_key_version; /* the slot's key version (its KEK generation) */
	int64_t kms_last_rewrap;  /* when the slot's ciphertext was last made */
	int64_t kms_last_check;	  /* when the daemon last asked the KMS (0: only to unlock) */
	char kms_last_error[512]; /* why that failed, "" when the KMS answered */
	/* Why the last KMS rewrap could not be recorded in the header (the metadata lock held
	 * too long, the slot gone, a failed write); "" when it could. */
	char kms_rewrap_error[512];
};

/* ---- server (the daemon) ----------------------------------------------------------------- */

struct ecfs_status_server;

/*
 * Creates the socket for volume uuid_str (ecfs_volume_info.uuid_str) and starts one server
 * thread (all signals blocked in it). For every permitted client the thread calls
 * fill(arg, st) with st zeroed except uuid and pid; fill sets the other fields and returns
 * 0, or a negative errno to answer with an error. fill runs on the server thread, one call at
 * a time, concurrently with the daemon's workers: read counters atomically.
 * A stale socket of a dead daemon is replaced; -EADDRINUSE when a live one answers there.
 * The sockets of other dead daemons in the same directory (refusing connections, bound more
 * than 2 s ago) are removed.
 * Returns 0 or a negative errno (-EPERM: the directory is not ours; -ENAMETOOLONG: the path
 * does not fit in sun_path; -ENOENT: /run is missing).
 * Call it in the process that serves the mount, after any fork(2) (threads do not survive
 * one), once the mount is live; call ecfs_status_server_stop before the process exits.
 */
int ecfs_status_server_start(const char *uuid_str, int (*fill)(void *arg, struct ecfs_status *st),
			     void *arg, struct ecfs_status_server **out);
/* Stops the thread, removes the socket and frees s. NULL is fine. */
void ecfs_status_server_stop(struct ecfs_status_server *s);

/* ---- client (envcryptfsctl) ------------------------------------------------------------- */

/*
 * Asks the daemon of volume uuid_str, run by uid owner (the user_id= of its mount), for its
 * status, waiting at most timeout_ms. path (pathlen bytes) receives the socket asked, for
 * messages. Returns 0, -ENOENT (no socket: no daemon, or one without a status server),
 * -ECONNREFUSED (a stale socket, which is then removed when it was bound more than 2 s ago
 * and may be: the caller is root or the daemon's user), -EACCES (the daemon refused us),
 * -ETIMEDOUT, -EPROTO (a reply that does not parse) or another negative errno.
 */
int ecfs_status_query(const char *uuid_str, uid_t owner, int timeout_ms, struct ecfs_status *st,
		      char *path, size_t pathlen);

/* Parses one reply line into st: 0, -EACCES (the daemon refused us), -EPROTO or -EIO. */
int ecfs_status_parse(const char *text, size_t len, struct ecfs_status *st);

#endif /* ECFS_STATUS_H */
