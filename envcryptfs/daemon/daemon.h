/* daemon.h - private declarations of the envcryptfs FUSE daemon, in sections per .c file. */
#ifndef ECFS_DAEMON_H
#define ECFS_DAEMON_H

#define FUSE_USE_VERSION 34

#include "envcryptfs.h"
#include "inode.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Timeouts for attributes and entries: only this daemon changes the backing directory, and
 * the kernel drops what it cached itself for every change made through the mount, so the
 * kernel may keep them long (a 1 s timeout cost a LOOKUP or GETATTR per file for any walk of
 * a tree that takes longer). Absent names are kept briefly: the kernel cannot know of a name
 * put back into the backing directory by hand. */
#define FS_TIMEOUT     60.0
#define FS_NEG_TIMEOUT 1.0
/* Largest write (and read) request we negotiate; libfuse 3.14 raises max_pages to match. */
#define FS_MAX_WRITE (1024u * 1024u)
/* Readahead for the mount (the kernel's default is 128 KiB, and INIT can only lower it): with
 * 1 MiB read requests, four in flight keep both cores decrypting during sequential reads. */
#define FS_READAHEAD_KB 4096u

/* The state of one mounted volume; set up by main.c before the session starts, then
 * read-only except where a field says otherwise. */
struct ecfs_fs {
	struct ecfs_volume *vol;
	const char *backing_dir; /* canonical path of DIR, for messages */
	uint32_t chunk_size;
	bool read_only;
	bool want_writeback; /* -o writeback_cache (default) or no_writeback_cache */
	bool writeback;	     /* the kernel agreed to the writeback cache (set by init) */
	bool is_root;	     /* new entries are chowned to the caller */
	gid_t egid;	     /* the group new backing entries get outside set-group-ID dirs */
	bool fd_mode;	     /* serving /dev/fd/N, mounted by the parent (fdmount.c) */
	bool killpriv;	     /* the kernel agreed to killpriv v2 (set by INIT, killpriv.c) */
	unsigned max_write;
	unsigned max_read;
	struct inode_table itab;
	struct inode *root;
	struct fuse_session *se;
	/* For `envcryptfsctl status`; counters are updated with atomic adds. */
	int unlocked_slot;
	const char *mountpoint;
	int64_t started;
	uint64_t bytes_read, bytes_written, auth_failures;
	uint64_t read_ops, write_ops; /* read and write requests answered with data */
	uint64_t write_errors;	      /* write requests answered with an error (stop.c) */
	uint64_t writes_taken;	      /* write requests begun, answered or not (stop.c) */
};

/* The one file system this process serves. */
extern struct ecfs_fs fs;

/* Node IDs are inode addresses. */
_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t), "fuse_ino_t cannot hold a pointer");

static inline struct inode *inode_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? fs.root : (struct inode *)(uintptr_t)ino;
}

static inline fuse_ino_t ino_of(const struct inode *inode)
{
	return inode == fs.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)inode;
}

/* ---- handles.c: open files and directories the kernel has not released ----------------- */

/* Every open file and directory stream is listed, so that an unmount by signal with some still
 * open (their RELEASE or RELEASEDIR never comes) frees them. */
struct fs_handle {
	struct fs_handle *prev, *next; /* protected by the list's lock in handles.c */
	/* Frees the handle; calls fs_handle_untrack first. */
	void (*close)(struct fs_handle *h);
};

void fs_handle_track(struct fs_handle *h, void (*close)(struct fs_handle *h));
void fs_handle_untrack(struct fs_handle *h);
/* Closes the handles the kernel never released, at the end of the session. */
void fs_close_all_handles(void);

/* An open regular file: fi->fh points to one. */
struct open_file {
	struct fs_handle h; /* first: the list gives back this address */
	struct inode *inode;
	int fd;	       /* the backing file, O_RDWR whenever possible, never O_APPEND */
	bool append;   /* the daemon appends (O_APPEND without the writeback cache) */
	bool writable; /* opened for writing (fd is O_RDWR for reads too) */
};

static inline struct open_file *fh_of(const struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

/* ---- mountpoint.c: the mount point before unlocking ------------------------------------ */

/* A dead mount at mnt (ENOTCONN after its daemon died): detaches it when it was the volume in
 * dir's, else says what to run. Returns -1 to go on, or an exit code. */
int mountpoint_clear_dead(const char *mnt, const char *dir);
/* Refuses a mount point that is not a directory or (unless nonempty) not empty, with a
 * message. Returns -1 to go on, or an exit code. */
int mountpoint_check(const char *mnt, bool nonempty);
/* True when field f of a /proc/self/mountinfo line, with its octal escapes (\040 for a
 * space), is s. */
bool mountinfo_field_is(const char *f, size_t len, const char *s);

/* ---- fdmount.c: serving a /dev/fuse descriptor a parent mounted ------------------------ */

/* N for a mount point "/dev/fd/N", else -1. */
int fdmount_parse(const char *mountpoint);
/* Drops every capability (bounding, ambient, effective, permitted, inheritable) and sets
 * no_new_privs; -errno when any capability remains. */
int fdmount_drop_privileges(void);

/* ---- sdnotify.c: systemd's readiness protocol ------------------------------------------ */

/* Takes $NOTIFY_SOCKET (and removes it from the environment); without it the rest does
 * nothing. */
void sdnotify_init(void);
/* Sends READY=1 from a thread of its own once the mount at mnt answers (the session loop must
 * be about to serve); sdnotify_ready_join waits for that thread, after the unmount. With mnt
 * NULL (a passed descriptor, INIT served) READY=1 goes at once. */
void sdnotify_ready_start(const char *mnt);
void sdnotify_ready_join(void);
/* Sends STOPPING=1: the daemon is unmounting. */
void sdnotify_stopping(void);

/* ---- stop.c: SIGTERM, SIGINT and SIGHUP flush the mount, then end the session ---------- */

/* Takes over the stop signals from libfuse's handlers, once se is mounted at mnt and about to
 * serve; mnt NULL (a passed descriptor): nothing to flush through, the loop just ends. */
void fs_stop_start(struct fuse_session *se, const char *mnt);
/* After the session loop has returned: ends the stop thread; later stop signals are ignored. */
void fs_stop_finish(void);

/* ---- killpriv.c: FUSE_HANDLE_KILLPRIV_V2 through libfuse's custom-I/O hooks ------------ */

/* In fi->flags of a write or open: the kernel asks us to clear the set-ID bits. */
#define FS_O_KILL_SUIDGID (1 << 30)
/* Installs the hooks on the mounted session, before INIT is read. */
int fs_killpriv_hook(struct fuse_session *se);
/* Amends a request (len bytes, /dev/fuse's layout) before libfuse sees it: the set-ID flags
 * of writes and opens; notes what INIT offers. */
void fs_killpriv_request(void *buf, size_t len);
/* Clears set-user-ID, and set-group-ID when group-executable, of the regular file open as fd
 * (or at path when fd < 0), as a local file system does on an unprivileged write. Returns 1
 * when it changed the mode, 0 when there was nothing to clear, or -errno. */
int fs_kill_suidgid(int fd, const char *path);
/* The same for inode's open fd during a write or open, telling the kernel the mode changed. */
void fs_kill_suidgid_notify(struct inode *inode, int fd);

/* ---- uring.c: FUSE over io_uring (-o io_uring), with /dev/fuse as the fallback ---------- */

struct fuse_init_in;
struct fuse_init_out;
struct iovec;
/* -o io_uring: accept the transport in INIT when the kernel offers it. */
void fs_uring_want(bool on);
/* From the INIT hooks (killpriv.c): what the kernel offers (len bytes of fuse_init_in), and
 * the reply (len bytes of fuse_init_out), which accepts the transport when wanted and the
 * rings on dev_fd could be made. */
void fs_uring_init_request(const struct fuse_init_in *in, size_t len);
void fs_uring_init_reply(struct fuse_init_out *out, size_t len, int dev_fd);
/* After INIT: registers ring entries on every CPU queue and serves them, or logs why not
 * (the /dev/fuse loop serves everything then). */
void fs_uring_start(struct fuse_session *se);
/* After the session loop: ends the ring threads and frees the rings. */
void fs_uring_stop(void);
/* From the writev hook: true when the reply belongs to a ring entry, and was stored there
 * (*res as writev would return). */
bool fs_uring_capture(const struct iovec *iov, int count, ssize_t *res);

/* ---- log.c: a log file, syslog or stderr, and things logged once ---------------------- */

/* Opens (creates 0600, appends) the log file of -o log_file=, before the daemon forks; the
 * messages go there from fs_log_mounted on. 0 or -errno. */
int fs_log_open_file(const char *path);
/* Once mounted: to the log file if one is open; else, in the background, to syslog when one
 * listens on /dev/log. Returns true when the messages still go to stderr (which must then
 * stay open). */
bool fs_log_mounted(bool background);
/* From the SIGHUP handler (async-signal-safe): reopens the log file at its path (logrotate
 * moved it). False when there is no log file. */
bool fs_log_reopen_on_hup(void);
void fs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True the first time a key is seen (keys identify a file or a name); false afterwards. */
bool fs_log_first(uint64_t key);
enum fs_damage {
	FS_DAMAGE_CHUNK,
	FS_DAMAGE_HEADER,
	FS_DAMAGE_SIZE,
	FS_DAMAGE_SYMLINK,
	FS_DAMAGE_XATTR,
	FS_DAMAGE_PLACE, /* format 2: an object bound to another place */
};
/* Logs damage of one kind to inode's file once, with its plaintext and backing paths. */
void fs_log_damage(struct inode *inode, enum fs_damage kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs a chunk that failed authentication in inode's file, once per file. */
void fs_log_bad_chunk(struct inode *inode, uint64_t bad_chunk);
/* Logs a backing name of directory dir that cannot be used (why says so), once per name. */
void fs_log_bad_name(struct inode *dir, const char *disk_name, const char *why);
/* Logs that the backing file system is full (err: -ENOSPC or -EDQUOT), at most once a
 * minute: a writer retrying on a full disk must not fill the log as well. */
void fs_log_full(int err);

/* ---- times.c: the daemon's own writes keep an object's times --------------------------- */

struct kept_times {
	struct timespec ts[2]; /* atime, mtime */
	bool kept;	       /* noted: put back after the write */
};
/* Notes the access and modification times of st, or of fd (0 or -errno; nothing is put back
 * after a failure). */
void times_keep(const struct stat *st, struct kept_times *k);
int times_note(int fd, struct kept_times *k);
/* Puts the noted times back on fd, after the daemon wrote into it on its own account; a
 * failure is logged once. */
void times_put_back(int fd, const struct kept_times *k);

/* ---- thread.c: per-worker crypto context and I/O buffer --------------------------------- */

struct ecfs_crypto *fs_crypto(void);
/* A per-thread buffer of at least len bytes (len <= the negotiated request size). */
void *fs_buffer(size_t len);
int fs_thread_init(void);
void fs_thread_cleanup(void);
/* Starts (one per core beyond the first) and stops the helpers that share the cipher work of
 * large reads and writes; stop before fs_thread_cleanup. */
void fs_helpers_start(void);
void fs_helpers_stop(void);

/* ---- attr.c: stat translation and permission checks ------------------------------------- */

/* Backing stat -> plaintext view (sizes of files and symlinks); never decrypts. */
void fs_translate_stat(struct inode *inode, struct stat *st);
int fs_stat_inode(struct inode *inode, struct stat *st);
int fs_check_access(fuse_req_t req, const struct stat *st, int mask);
/* "/proc/self/fd/N" for an O_PATH descriptor, for calls that take no descriptor. */
void fs_proc_path(int fd, char buf[32]);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		   struct fuse_file_info *fi);
void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);

/* ---- names.c: plaintext names <-> backing entries ---------------------------------------- */

/* The ID of directory dir; on format 2 its ID file is checked against the directory's place
 * the first time (-EIO, logged, when it is bound to another place). */
int names_dir_id(struct inode *dir, uint8_t id[ECFS_DIR_ID_SIZE]);
/* True on a format-2 volume: objects are bound to their place. */
bool names_bound(void);
/* Format 2: records where inode was found (parent's ID, full encoded name); else nothing. */
void names_set_place(struct inode *inode, const uint8_t parent[ECFS_DIR_ID_SIZE], const char *full);
/* Format 2: the place recorded for inode, its name copied into name; -EIO when unknown. */
int names_get_place(struct inode *inode, struct ecfs_place *at, char name[ECFS_ENCODED_NAME_MAX]);
/* The same, and whether that place is gone (place_gone), read together: a lookup may record
 * another place (and clear place_gone) at any time. */
int names_get_place_gone(struct inode *inode, struct ecfs_place *at,
			 char name[ECFS_ENCODED_NAME_MAX], bool *gone);
/* The backing name of name in dir; -ENAMETOOLONG, -EINVAL as ecfs_name_encrypt. */
int names_encrypt(struct inode *dir, const char *name, struct ecfs_disk_name *dn);
/* Looks up backing entry disk (full encoded name full) of dir and fills e (the inode gets one
 * more lookup and, on format 2, full as its place). */
int names_lookup_disk(struct inode *dir, const char *disk, const char *full,
		      struct fuse_entry_param *e);
/* Checks a long name's side file against dn->full (-EIO when it does not match). */
int names_check_side(struct inode *dir, const struct ecfs_disk_name *dn);
/* Writes the side file of a long name before its entry is made; *made says whether it was
 * new (and must be removed when making the entry fails). */
int names_side_create(int dirfd, const struct ecfs_disk_name *dn, bool *made);
void names_side_remove(int dirfd, const struct ecfs_disk_name *dn);
/* Decrypts backing entry disk of dir into out (ECFS_NAME_MAX + 1 bytes), and its full encoded
 * name into full (ECFS_ENCODED_NAME_MAX bytes) when full is not NULL. Returns 0, 1 to skip
 * the entry silently (reserved, side files, not ours), or -EBADMSG / -errno. */
int names_decode(struct inode *dir, int dirfd, const char *disk, char *out, char *full);
/* The plaintext path of inode inside the mount, best effort, for messages. */
int names_describe(struct inode *inode, char *out, size_t outsz);
/* Random "envcryptfs.tmp.<hex>" names for entries being built or taken apart. */
int names_tmp(char out[64]);

/* ---- symlink.c: stored symlink targets, inline or in a side file at the root ------------- */

/* Makes backing symlink disk in dirfd for stored text (a side file first when it is long). */
int symlink_store(int dirfd, const char *disk, const char *stored);
/* The stored text of inode's backing symlink, open as fd, into stored
 * (ECFS_SYMLINK_STORED_MAX bytes); a missing or damaged side file is -EBADMSG, logged when
 * inode is not NULL. */
int symlink_load(struct inode *inode, int fd, char *stored);
/* The plaintext target length of a symlink whose backing stat is st; never decrypts. */
off_t symlink_plain_size(struct inode *inode, const struct stat *st);
/* When disk in dirfd is a symlink with a side file and this is its last link, puts the side
 * file's name in side and returns 1 (remove it once disk is gone); else 0. st: disk's lstat
 * when the caller has it, else NULL. */
int symlink_side_if_last(int dirfd, const char *disk, const struct stat *st,
			 char side[ECFS_LINK_REF_LEN + 1]);
void symlink_side_remove(const char *side);
/* Format 2: -ESTALE when the backing symlink open as fd has no name left. A rename replaces
 * a symlink by a copy sealed for its new place, so the kernel's inode of a renamed link
 * names the removed original (whose side file went with it); the kernel looks the name up
 * again on ESTALE and finds the copy. */
int symlink_check_linked(int fd);

/* ---- holes.c: format 2: the chunks of a file that may be holes ------------------------- */

/* With the key (inode->lock held), from header h: loads the holes map of a SPARSE file into
 * inode->holes and hands it to the key (-EIO, logged, when missing, damaged or stale). */
int holes_load(struct inode *inode, const struct ecfs_blob_header *h);
void holes_drop(struct inode *inode);
/* io held exclusively, key loaded: lists chunks [first, end) as holes before they are made
 * (map, then header, both synced). Nothing when they are listed already, or on format 1. */
int holes_allow(struct inode *inode, int fd, uint64_t first, uint64_t end);
/* Before writing at plaintext offset off: the chunks a write there skips past the end, listed
 * in memory until holes_sync. */
int holes_before_write(struct inode *inode, int fd, uint64_t off);
/* After chunks [first, end) were written (or cut off): they leave the map at the next sync. */
void holes_note_written(struct inode *inode, uint64_t first, uint64_t end);
/* Whether holes_sync has anything to commit (gaps skipped, or listed chunks written). */
bool holes_pending(const struct inode *inode);
/* fsync and close, before the header's size goes up: syncs the blob, then commits the map
 * without the chunks written since (gaps still unwritten stay listed). */
int holes_sync(struct inode *inode, int fd);
/* Before a truncate cuts the blob to chunks [0, end): commits the map without the chunks
 * from end on, so that zero chunks appended later are not taken for listed holes. */
int holes_clip(struct inode *inode, int fd, uint64_t end);
/* The last name of a SPARSE file (inode: NULL when the daemon does not know it) is gone: its
 * map goes now, or when the kernel forgets the inode (holes_forget, from inode_free). A map
 * a crash leaves meanwhile is fsck's. */
void holes_unlinked(struct inode *inode, const uint8_t file_id[ECFS_FILE_ID_SIZE]);
void holes_forget(struct inode *inode);

/* ---- bindfile.c: regular files bound to their names (format 2) ---------------------------- */

/* Gives a fresh header the name tag of place at (format 1: no tags). */
int bind_file_new(struct ecfs_blob_header *h, const struct ecfs_place *at);
/* Checks that h (the header of inode's blob) or, when LINKED, its link file names the place
 * inode was found at: -EIO and a log line naming the file otherwise. Format 1: nothing. */
int bind_file_check(struct inode *inode, const struct ecfs_blob_header *h);

/* A regular file being renamed: its header names both places until rebind_file_end. */
struct rebind_file {
	int fd;		     /* the blob, -1 when nothing is to be done */
	struct inode *inode; /* its inode when the kernel knows it, io held exclusively */
	bool carry;	     /* the header names both places: keep the right one at the end */
	bool linked;	     /* the link file holds tag_to too: drop the one not used at the end */
	uint8_t file_id[ECFS_FILE_ID_SIZE], tag_to[ECFS_BIND_TAG_SIZE];
	const struct ecfs_place *from, *to;
	struct kept_times times; /* put back at the end: a rename is no change to the file */
};

/* Format 2, when disk in parent is a regular file: checks that its header names from (-EIO
 * and a log line otherwise), then writes it with the tags of from and to and syncs it.
 * held: an inode whose io lock the caller holds already (the other file of an exchange), or
 * NULL; disk leading to it now (the backing directory changed since the caller's stat) is
 * -EIO, not a second lock. */
int rebind_file_begin(struct inode *parent, const char *disk, const struct ecfs_place *from,
		      const struct ecfs_place *to, const struct inode *held, struct rebind_file *b);
/* After the rename(2) (moved) or its failure: keeps only the tag of the place it is at, and
 * gives the file's inode its new place. */
void rebind_file_end(struct rebind_file *b, bool moved);

/* A name of a regular file being removed (unlink, or replaced by a rename). */
struct unbind_file {
	int fd;
	struct inode *inode; /* io held exclusively */
	bool linked;	     /* a LINKED file: its link file loses tag afterwards */
	bool sparse;	     /* a SPARSE file: its holes map goes with its last name */
	bool later;	     /* its last name, header not read: see bind_file_forget */
	uint8_t file_id[ECFS_FILE_ID_SIZE], tag[ECFS_BIND_TAG_SIZE];
	const struct ecfs_place *at;
	struct kept_times times; /* put back at the end, for the names left */
};
/* Before removing name disk (at place at) of parentfd; format 2 only. st: disk's lstat when
 * the caller has it, else NULL. held: an inode whose io lock the caller holds already (the
 * file a rename moves), or NULL; disk leading to it now (the backing directory changed since
 * the caller's stat) is served under that lock, not locked twice. */
void unbind_file_begin(int parentfd, const char *disk, const struct stat *st,
		       const struct ecfs_place *at, const struct inode *held,
		       struct unbind_file *u);
/* After it (removed: it is gone): drops its tag from the link file, or the link file with
 * the file's last name. */
void unbind_file_end(struct unbind_file *u, bool removed);
/* Before inode (out of the table, its descriptor still open) is freed: when its last name
 * went before the daemon read its header, reads it now and removes what went with the file
 * (its link file, its holes map). */
void bind_file_forget(struct inode *inode);
/* Gives inode (open as linkfd) the name disk in dirfd with link(2). Format 2, regular files:
 * first checks the name it was found at, writes the link file with the tags of every name
 * and the new one and marks the header LINKED, all under the inode's io lock (-ENOENT when
 * its last name went meanwhile); a failed link(2) takes the new tag out again. */
int bind_file_link(struct inode *inode, int linkfd, const struct ecfs_place *to, int dirfd,
		   const char *disk);

/* ---- rebind.c: format 2: renames and links keep every object bound to its place ------- */

/* A directory being renamed: its ID file names both places until rebind_dir_end. */
struct rebind_dir {
	int fd; /* the directory, -1 when nothing is to be done */
	struct kept_times times;
	uint8_t id[ECFS_DIR_ID_SIZE];
	const struct ecfs_place *from, *to;
};

/* Format 2, when disk in parent is a directory: checks its ID file against from (-EIO and a
 * log line when bound elsewhere) and rewrites it with the tags of from and to. Else nothing
 * (b->fd = -1). */
int rebind_dir_begin(struct inode *parent, const char *disk, const struct ecfs_place *from,
		     const struct ecfs_place *to, struct rebind_dir *b);
/* After the rename(2) (moved) or its failure: keeps only the tag of the place it is at, and
 * gives the directory's inode its new place. */
void rebind_dir_end(struct rebind_dir *b, bool moved);
/* The plaintext target (PATH_MAX + 1 bytes) of the symlink open as fd, sealed at place at
 * (NULL: format 1);
 * failures of authentication are logged for inode (when not NULL). */
int symlink_read_target(struct inode *inode, int fd, const struct ecfs_place *at, char target[]);
/* Makes to_disk in tofd a copy of symlink from_disk in fromfd (or of inode's symlink open as
 * fd), sealed for place to, with the same owner and times; target (PATH_MAX + 1 bytes)
 * receives the target. */
int symlink_copy_fd(struct inode *inode, int fd, const struct ecfs_place *from, int tofd,
		    const char *to_disk, const struct ecfs_place *to, char target[]);
/* The same for a copy that replaces its original (rename, exchange): the kernel's inode of
 * the original, when it holds one, keeps the target (symlink_kept_target). */
int symlink_copy(int fromfd, const char *from_disk, const struct ecfs_place *from, int tofd,
		 const char *to_disk, const struct ecfs_place *to);
/* True, with the target in target (PATH_MAX + 1 bytes), when inode is a symlink replaced by
 * a copy (symlink_copy). */
bool symlink_kept_target(struct inode *inode, char target[]);
/* Removes symlink disk in dirfd, and its target's side file when it was the last link. */
void symlink_remove(int dirfd, const char *disk);

/* ---- ops_entry.c: lookup and namespace changes ------------------------------------------ */

/* Replies with e, undoing the lookup it carries when the kernel never gets it. */
void fs_reply_entry(fuse_req_t req, const struct fuse_entry_param *e);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
/* Makes regular file name in dir with its blob header and looks it up; leaves the backing
 * file open (O_RDWR) in *fd when fd is not NULL. */
int fs_make_file(fuse_req_t req, struct inode *dir, const char *name, mode_t mode,
		 struct fuse_entry_param *e, int *fd);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
/* Gives a new entry the caller's owner when the daemon runs as root for every user: fd when
 * it is open (>= 0), else disk in parentfd. The group stays when parentfd is set-group-ID. */
int fs_chown_new(fuse_req_t req, int parentfd, int fd, const char *disk);

/* ---- dirid.c: directories that always carry their ID ------------------------------------ */

/* Makes directory disk in dirfd with a fresh ID, atomically (temporary name, then rename);
 * on format 2 the ID is bound to place at. */
int dir_make(int dirfd, const char *disk, mode_t mode, fuse_req_t req, const struct ecfs_place *at,
	     uint8_t id[ECFS_DIR_ID_SIZE]);
/* Before removing (or renaming over) directory disk: checks that it holds nothing but its ID
 * and moves the ID file out to tmp in dirfd, so that a failed removal can put it back. */
int dir_detach_id(int dirfd, const char *disk, char tmp[64]);
void dir_restore_id(int dirfd, const char *disk, const char *tmp);
void dir_discard_id(int dirfd, const char *tmp);

/* ---- ops_dir.c: directory streams -------------------------------------------------------- */

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* ---- file.c: blobs: keys, headers, sizes, truncation, holes ------------------------------ */

/* Opens the backing file of inode for I/O (O_RDWR, or O_RDONLY when that is all we may). */
int file_open_backing(struct inode *inode, int flags);
/* The file key, read from the blob header; with create, an empty blob gets its header
 * first (the caller holds inode->io exclusively). *key is NULL for an empty blob. */
int file_key(struct inode *inode, int fd, bool create, const struct ecfs_file_key **key);
/* Format 2: reads and checks the blob header of a file being opened (the MAC; damage is
 * logged); format 1: nothing. Either way *st is the blob's fstat, and *cut says whether
 * the blob holds less than the header says (file_is_cut). */
int file_check_open(struct inode *inode, int fd, struct stat *st, bool *cut);
/* Reads and authenticates the blob header of inode's backing file (also one with no name
 * left), through its own descriptor. */
int file_header_read(struct inode *inode, struct ecfs_blob_header *h);
/* The file ID of inode's blob, read from its header once (damage is logged). */
int file_id(struct inode *inode, uint8_t id[ECFS_FILE_ID_SIZE]);
/* Records the LINKED and SPARSE flags of header h, just read (authenticated) or written by
 * the daemon, as inode's (struct inode: header_flags); takes inode->lock. */
void file_note_header(struct inode *inode, const struct ecfs_blob_header *h);
/* Counts an open handle (-ENOMEM: no room for the file's inode_content); at the last close
 * the file key is dropped. A handle opened for writing (writable) records the size the blob
 * reached. */
int file_opened(struct inode *inode);
void file_closed(struct inode *inode, int fd, bool writable);
/* Frees inode->content with the key and maps in it (the inode is going). */
void file_content_free(struct inode *inode);
/* Format 2, at fsync and close: commits the holes map, then (through a writable fd) brings
 * the blob header's size up to what the blob holds, keeping the blob's times (what the
 * daemon records is no change to the file); inode->io held exclusively. */
int file_commit(struct inode *inode, int fd, bool writable);
/* Format 2, XTS: after a write or truncate that wrote a short tail (under the key's fresh
 * next nonce), records that nonce in the blob header; inode->io held exclusively. */
int file_tail_sync(struct inode *inode, int fd);
/* Writes the header of a new, empty blob (format 2: bound to place at) and caches its key. */
int file_init_blob(struct inode *inode, int fd, const struct ecfs_place *at);
int file_plain_size(int fd, uint64_t *size);
/* Sets the plaintext size; caller holds inode->io exclusively. */
int file_truncate(struct inode *inode, int fd, uint64_t size);
int file_fallocate(struct inode *inode, int fd, int mode, uint64_t off, uint64_t len);
int file_seek(struct inode *inode, int fd, uint64_t off, int whence, uint64_t *out);

/* ---- cut.c: format 2, a blob shorter than its header's size ------------------------------ */

/* Logs (once per file) that inode's header says size bytes while its blob holds holds. */
void file_log_cut(struct inode *inode, uint64_t size, uint64_t holds);
/* The size the loaded blob header records (the file is open; format 2), else 0: what stat
 * shows at least. Caller holds inode->io. */
uint64_t file_size_floor(const struct inode *inode);
/* True when the open file's blob (st: its fstat) holds less than its header says (reads then
 * go to the daemon, past the kernel's idea of the size, and fail where the blob ends). Caller
 * holds inode->io, under which st was taken. */
bool file_is_cut(const struct inode *inode, const struct stat *st);
/* A read of want bytes at off that got got: -EIO (logged) when it stopped before the size
 * the header records, because the blob is shorter; else 0. Caller holds inode->io. */
int file_read_check(struct inode *inode, int fd, uint64_t off, size_t want, size_t got);

/* ---- ops_file.c: open files ----------------------------------------------------------- */

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* After a change the daemon made to inode's blob (with io held exclusively): the state it left
 * is what the kernel has cached, so the next open may keep the cache (keep_cache). */
void fs_note_own_change(struct inode *inode, int fd);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi);

/* ---- seek.c: SEEK_DATA and SEEK_HOLE, answered off the worker threads ------------------ */

/* Starts the thread that answers LSEEK with the write-back cache (before the session loop). */
void fs_seek_start(void);
/* Stops it after the session loop; false when it stayed blocked in the kernel and was left
 * behind (then the session must not be freed: close its descriptor instead). */
bool fs_seek_stop(void);
void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);

/* ---- xattr.c: user.* extended attributes, names and values encrypted ---------------------- */

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- errors ------------------------------------------------------------------------------ */

/* A library error as the errno a local file system would give: a chunk, name or value that
 * fails authentication, or a structure that is corrupt, is EIO. */
static inline int fs_errno(int err)
{
	if (err == -ENOSPC || err == -EDQUOT)
		fs_log_full(err);
	if (err == -EBADMSG || err == -EUCLEAN || err == -EPROTONOSUPPORT)
		return EIO;
	return err < 0 ? -err : err;
}

#endif /* ECFS_DAEMON_H */
