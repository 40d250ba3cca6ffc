/* main.c - the envcryptfs daemon: options, unlocking, the volume lock, mounting, the
 * session loop and unwinding, in that order. */
#include "daemon.h"
#include "kms_rewrap.h"
#include "status.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "envcryptfs"

struct ecfs_fs fs;

/* ---- options ----------------------------------------------------------------------------- */

struct options {
	const char *dir;
	const char *mnt; /* as given; fuse_parse_cmdline resolves it */
	char *key_file;
	char *old_key_file;
	char *passphrase_file;
	char *key_export;
	char *pkcs11_module; /* loaded only from here, never from the header */
	char *pkcs11_pin_file;
	char *tpm2_device;	  /* the TPM of a TPM2 slot (a TCTI string) */
	struct ecfs_kms_opts kms; /* kms_url= ... (tool_kms.h) */
	unsigned kms_wait;	  /* seconds to wait for a KMS that is down */
	char *kms_rewrap_interval;
	uint64_t kms_rewrap_s;
	char *log_file;
	int ro;
	int header_fallback;	 /* a read-only mount may go on when a header copy disagrees */
	int allow_open_key_file; /* key files others may read or another user owns */
	int writeback;		 /* -1 unless given: on, except when serving a passed descriptor */
	unsigned max_write;
	unsigned max_read;
	int nonempty;
	int io_uring;
	bool fsname, subtype, allow_other, default_permissions;
};

enum {
	KEY_KEEP,    /* also for libfuse or the kernel */
	KEY_DISCARD, /* for mount(8) and fstab, nothing to do with us */
	KEY_FSNAME,
	KEY_SUBTYPE,
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS,
};

/* clang-format off */
#define OPT(t, f, v) { t, offsetof(struct options, f), v }
/* clang-format on */

static const struct fuse_opt option_table[] = {
    OPT("key_file=%s", key_file, 0),
    OPT("old_key_file=%s", old_key_file, 0),
    OPT("passphrase_file=%s", passphrase_file, 0),
    OPT("key_export=%s", key_export, 0),
    OPT("pkcs11_module=%s", pkcs11_module, 0),
    OPT("pkcs11_pin_file=%s", pkcs11_pin_file, 0),
    OPT("tpm2_device=%s", tpm2_device, 0),
    OPT("kms_wait=%u", kms_wait, 0),
    OPT("kms_rewrap_interval=%s", kms_rewrap_interval, 0),
    OPT("log_file=%s", log_file, 0),
    OPT("header_fallback", header_fallback, 1),
    OPT("allow_open_key_file", allow_open_key_file, 1),
    OPT("writeback_cache", writeback, 1),
    OPT("no_writeback_cache", writeback, 0),
    OPT("max_write=%u", max_write, 0),
    /* Ours, not libfuse's: it mounts over anything, which mountpoint.c refuses. */
    OPT("nonempty", nonempty, 1),
    OPT("io_uring", io_uring, 1),
    /* max_read is a mount option as well: libfuse checks that init() agrees with it. */
    OPT("max_read=%u", max_read, 0),
    FUSE_OPT_KEY("max_read=", KEY_KEEP),
    OPT("ro", ro, 1),
    FUSE_OPT_KEY("ro", KEY_KEEP),
    OPT("rw", ro, 0),
    FUSE_OPT_KEY("rw", KEY_KEEP),
    FUSE_OPT_KEY("fsname=", KEY_FSNAME),
    FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
    FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
    FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
    /* Generic mount(8) options that libfuse 3.14 does not know; the kernel's defaults
     * (relatime) stand. */
    FUSE_OPT_KEY("defaults", KEY_DISCARD),
    FUSE_OPT_KEY("auto", KEY_DISCARD),
    FUSE_OPT_KEY("noauto", KEY_DISCARD),
    FUSE_OPT_KEY("nofail", KEY_DISCARD),
    FUSE_OPT_KEY("user", KEY_DISCARD),
    FUSE_OPT_KEY("nouser", KEY_DISCARD),
    FUSE_OPT_KEY("users", KEY_DISCARD),
    FUSE_OPT_KEY("_netdev", KEY_DISCARD),
    FUSE_OPT_KEY("relatime", KEY_DISCARD),
    FUSE_OPT_KEY("norelatime", KEY_DISCARD),
    FUSE_OPT_KEY("strictatime", KEY_DISCARD),
    FUSE_OPT_KEY("nostrictatime", KEY_DISCARD),
    FUSE_OPT_KEY("diratime", KEY_DISCARD),
    FUSE_OPT_KEY("nodiratime", KEY_DISCARD),
    FUSE_OPT_KEY("lazytime", KEY_DISCARD),
    FUSE_OPT_KEY("nolazytime", KEY_DISCARD),
    FUSE_OPT_END,
};

static int option_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		/* DIR is ours; MOUNTPOINT goes on to fuse_parse_cmdline. */
		if (!o->dir) {
			o->dir = arg;
			return 0;
		}
		if (!o->mnt)
			o->mnt = arg;
		return 1;
	case FUSE_OPT_KEY_OPT:
		/* x-* (systemd, fstab tools) and comment= are for others. */
		if (!strncmp(arg, "x-", 2) || !strncmp(arg, "comment=", 8))
			return 0;
		/* kms_url= and its kin come from the table every tool shares (tool_kms.c). */
		switch (ecfs_kms_mount_opt(PROG, &o->kms, arg)) {
		case 1:
			return 0;
		case 0:
			return 1;
		default:
			return -1;
		}
	case KEY_DISCARD:
		return 0;
	case KEY_FSNAME:
		o->fsname = true;
		return 1;
	case KEY_SUBTYPE:
		o->subtype = true;
		return 1;
	case KEY_ALLOW_OTHER:
		o->allow_other = true;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		o->default_permissions = true;
		return 1;
	default:
		return 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " DIR MOUNTPOINT [-o OPTIONS] [-f] [-d]\n");
}

static void help(void)
{
	usage(stdout);
	printf("\nServes the plaintext view of the envcryptfs volume in DIR at MOUNTPOINT.\n\n"
	       "envcryptfs options:\n"
	       "    -o key_file=FILE        unlock with this key file (vault:MOUNT/PATH[#FIELD]:\n"
	       "                            from a Vault KV v2 secret, through kms_url=)\n"
	       "    -o old_key_file=FILE    also try this key file (during a key rotation)\n"
	       "    -o passphrase_file=FILE unlock with the passphrase in FILE\n"
	       "                            (with no key option: prompt on the terminal)\n"
	       "    -o key_export=FILE      unlock with an export file (envcryptfsctl export);\n"
	       "                            its password from passphrase_file or the prompt\n"
	       "    -o pkcs11_module=PATH   unlock the volume's PKCS#11 slot through this module\n"
	       "    -o pkcs11_pin_file=FILE the token's user PIN\n"
	       "    -o tpm2_device=TCTI     the TPM of a TPM2 slot (default\n"
	       "                            " ECFS_TPM2_DEVICE_DEFAULT "); with no other key\n"
	       "                            option, a TPM2 slot unlocks\n"
	       "    -o allow_open_key_file  accept key, passphrase, export and PIN files that\n"
	       "                            group or others may read or write, or another user\n"
	       "                            owns\n"
	       "    -o ro                   read-only: changes fail with EROFS\n"
	       "    -o header_fallback      read-only even when a header copy disagrees (a\n"
	       "                            read-write mount repairs it instead)\n"
	       "    -o no_writeback_cache   write through to the volume on every write\n"
	       "    -o max_write=N          largest write request (default and limit 1 MiB)\n"
	       "    -o nonempty             mount over a mount point that is not empty\n"
	       "    -o allow_other          let other users in (adds default_permissions)\n"
	       "    -o log_file=PATH        once mounted, append the messages to PATH (0600;\n"
	       "                            reopened on SIGHUP) instead of syslog or stderr\n"
	       "    -o io_uring             take requests through io_uring where the kernel\n"
	       "                            offers it (fuse's enable_uring), else /dev/fuse\n"
	       "\nKMS options (with no other key option, a KMS slot unlocks):\n");
	ecfs_kms_opts_help(stdout, true);
	printf("    -o kms_wait=SECONDS     wait for a KMS that is down or sealed (1 s\n"
	       "                            doubling to 30 s between attempts; default 0)\n"
	       "    -o kms_rewrap_interval=DURATION\n"
	       "                            rewrap the KMS slot to the key's latest version\n"
	       "                            this often (30s, 10m, 12h, 7d)\n"
	       "\nFUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* fsname=DIR (absolute) and subtype=envcryptfs unless given: the mount's source is then the
 * volume, as mount(8) compares it, so that `findmnt -S DIR`, `umount DIR` and a second
 * `mount -a` find it. Escaped: libfuse splits options at commas. */
static int add_defaults(struct fuse_args *args, const struct options *o)
{
	char *opt = NULL, *name = NULL;
	int r = 0;

	if (!o->fsname && asprintf(&name, "fsname=%s", fs.backing_dir) < 0)
		return -1;
	if (name)
		r = fuse_opt_add_opt_escaped(&opt, name);
	if (r == 0 && !o->subtype)
		r = fuse_opt_add_opt(&opt, "subtype=" PROG);
	/* With other users allowed in, the kernel must check permissions: the daemon itself
	 * acts with its own rights (usually root's) for everyone. */
	if (r == 0 && o->allow_other && !o->default_permissions)
		r = fuse_opt_add_opt(&opt, "default_permissions");
	if (r == 0 && opt)
		r = fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt) ? -1 : 0;
	free(name);
	free(opt);
	return r;
}

/* Parses argv into o, cmd and the arguments left for fuse_session_new. Returns -1 to go on,
 * or an exit code. */
static int parse_args(struct fuse_args *args, struct options *o, struct fuse_cmdline_opts *cmd)
{
	int code;

	o->writeback = -1;
	if (fuse_opt_parse(args, o, option_table, option_proc) < 0) {
		usage(stderr);
		return ECFS_EXIT_USAGE;
	}
	/* Before fuse_parse_cmdline, which cannot resolve a dead mount point's path. */
	if (o->dir && o->mnt && fdmount_parse(o->mnt) < 0 &&
	    (code = mountpoint_clear_dead(o->mnt, o->dir)) >= 0)
		return code;
	if (fuse_parse_cmdline(args, cmd) < 0) {
		usage(stderr);
		return ECFS_EXIT_USAGE;
	}
	if (cmd->show_help) {
		help();
		return ECFS_EXIT_OK;
	}
	if (cmd->show_version) {
		printf(PROG " %s\nFUSE library version %s\n", ECFS_VERSION_STRING,
		       fuse_pkgversion());
		return ECFS_EXIT_OK;
	}
	if (!o->dir || !cmd->mountpoint) {
		ecfs_tool_error(PROG, "%s",
				!o->dir ? "no volume directory given" : "no mount point given");
		usage(stderr);
		return ECFS_EXIT_USAGE;
	}
	if (o->max_write && (o->max_write < 4096 || o->max_write > FS_MAX_WRITE)) {
		ecfs_tool_error(PROG, "max_write must be between 4096 and %u", FS_MAX_WRITE);
		return ECFS_EXIT_USAGE;
	}
	if (o->kms_rewrap_interval &&
	    ecfs_tool_parse_duration(o->kms_rewrap_interval, &o->kms_rewrap_s) < 0) {
		ecfs_tool_error(PROG,
				"kms_rewrap_interval '%s' is not a duration (30s, 10m, 12h, 7d)",
				o->kms_rewrap_interval);
		return ECFS_EXIT_USAGE;
	}
	/* The daemon moves to /, and TLS files are read at every connection to the KMS. */
	if (ecfs_kms_opts_absolute(PROG, &o->kms) < 0 ||
	    ecfs_kms_opts_load_config(PROG, &o->kms) < 0)
		return ECFS_EXIT_ERROR;
	return -1;
}

static const struct ecfs_keyopt_names key_option_names = {
    .key_file = "-o key_file=FILE",
    .kms = "-o kms_url=URL,kms_key=NAME",
    .export_file = "-o key_export=FILE",
    .pkcs11 = "-o pkcs11_module=PATH,pkcs11_pin_file=FILE",
    .tpm2 = "-o tpm2_device=TCTI",
    .allow_open_key_file = "-o allow_open_key_file",
};

/* ---- background ------------------------------------------------------------------------ */

/*
 * The daemon forks before it unlocks the volume, not after mounting (fuse_daemonize): key
 * memory is MADV_WIPEONFORK, so a child forked after unlocking would hold wiped keys. The
 * parent waits on a pipe and exits 0 only once the child reports the mount live, or with
 * the child's exit code when it fails (a wrong key, a held lock, a failed mount).
 */
static int background_fork(int *notify)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		*notify = p[1];
		return 0;
	}
	close(p[1]);
	while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 1)
		_exit(ECFS_EXIT_OK); /* the child runs on, mounted */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		_exit(ECFS_EXIT_ERROR);
	_exit(WEXITSTATUS(status));
}

/* In the child once mounted: leave the terminal, log to the log file or syslog (else keep
 * stderr: messages must go somewhere), release the parent. */
static void background_ready(int *notify)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	bool keep_stderr;

	setsid();
	keep_stderr = fs_log_mounted(true);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (!keep_stderr)
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(*notify, "", 1) < 0)
		fs_log(LOG_WARNING, "cannot tell the parent that the mount is ready: %m");
	close(*notify);
	*notify = -1;
}

/* ---- the volume lock --------------------------------------------------------------------- */

/* Why a read-write mount cannot take the lock (err from ecfs_lock_take). */
static void lock_refuse_rw(const char *dir, int err)
{
	if (err == -EROFS)
		ecfs_tool_error(PROG,
				"cannot mount '%s' read-write: it is on a read-only file system "
				"(mount it with -o ro)",
				dir);
	else if (err == -EBUSY)
		ecfs_tool_error(PROG, "%s", ecfs_last_error());
	else
		ecfs_tool_error(PROG,
				"cannot mount '%s': %s; without it two mounts could change the "
				"volume at once",
				dir, ecfs_last_error());
}

/*
 * Takes the volume lock (lib/volume_lock.c). A read-write mount never runs without it: two
 * daemons writing one volume would corrupt it. A read-only mount opens an existing lock file
 * read-only where it cannot make or write one (a read-only backing), and goes without only
 * where there is none at all. *lockfd is the lock's descriptor, or -1 with no lock. Returns
 * an exit code.
 */
static int lock_volume(const char *dir, bool read_only, int *lockfd)
{
	int dirfd = ecfs_volume_dirfd(fs.vol);
	int fd = ecfs_lock_take(dirfd, dir, ECFS_LOCK_CREATE);

	*lockfd = -1;
	if (read_only && (fd == -EROFS || fd == -EACCES || fd == -EISDIR))
		fd = ecfs_lock_take(dirfd, dir, ECFS_LOCK_EXISTING);
	if (fd == -ENOENT && read_only) {
		ecfs_tool_warn(PROG, "'%s' cannot hold a lock file; mounting read-only without it",
			       dir);
		return ECFS_EXIT_OK;
	}
	if (fd < 0 && !read_only)
		lock_refuse_rw(dir, fd);
	else if (fd == -EBUSY)
		ecfs_tool_error(PROG, "%s", ecfs_last_error());
	else if (fd < 0)
		ecfs_tool_error(PROG, "cannot mount '%s': %s", dir, ecfs_last_error());
	if (fd < 0)
		return ECFS_EXIT_MOUNT;
	*lockfd = fd;
	return ECFS_EXIT_OK;
}

/* ---- the file system ----------------------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = fs.max_write;
	conn->max_read = fs.max_read;
	/* Without it the kernel clears set-ID bits itself, with a setattr we carry out. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Write-back caching gathers small writes into whole chunks; never on a read-only
	 * mount, where nothing may be written back. */
	if (fs.want_writeback && !fs.read_only && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs.writeback = true;
	}
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_op_lookup,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .releasedir = fs_op_releasedir,
    .fsyncdir = fs_op_fsyncdir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .access = fs_op_access,
    .create = fs_op_create,
    .fallocate = fs_op_fallocate,
    .lseek = fs_op_lseek,
};

/* Every inode the kernel knows of holds a descriptor: allow as many as we may. With
 * CAP_SYS_RESOURCE (root) that is the system's per-process ceiling (fs.nr_open), not just the
 * hard limit we were started with (often 1024 to 20000, which a walk of a large tree
 * exhausts: lookups then fail with EMFILE). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (nr_open > rl.rlim_max) {
		struct rlimit up = {.rlim_cur = nr_open, .rlim_max = nr_open};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			ecfs_tool_warn(PROG, "cannot raise the open file limit: %s",
				       strerror(errno));
	}
}

/* Inodes park (keep a file handle instead of a descriptor) past half the open file limit,
 * leaving the rest for open files, directory streams and the like. */
static void enable_parking(void)
{
	struct rlimit rl;
	int fd = openat(ecfs_volume_dirfd(fs.vol), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t budget = 1u << 20;

	if (fd < 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		budget = (size_t)rl.rlim_cur / 2;
	itab_enable_parking(&fs.itab, fd, budget);
}

/* The root inode, from the volume's own directory descriptor. */
static int fs_setup(const struct options *o)
{
	struct ecfs_volume_info info;
	struct stat st;
	int fd, r;

	ecfs_volume_get_info(fs.vol, &info);
	fs.chunk_size = info.chunk_size;
	fs.read_only = o->ro;
	fs.want_writeback = o->writeback;
	/* Served on a passed descriptor, the daemon drops its capabilities: it cannot chown. */
	fs.is_root = geteuid() == 0 && !fs.fd_mode;
	fs.egid = getegid();
	fs.max_write = o->max_write ? o->max_write : FS_MAX_WRITE;
	fs.max_read = o->max_read;
	raise_fd_limit();
	r = itab_init(&fs.itab);
	if (r == 0)
		r = fs_thread_init();
	if (r < 0)
		return r;
	fs_helpers_start();
	fd = fcntl(ecfs_volume_dirfd(fs.vol), F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	fs.root = itab_get(&fs.itab, &fd, &st);
	if (!fs.root) {
		close(fd);
		return -ENOMEM;
	}
	/* The root's place (format 2): no parent, no name. */
	names_set_place(fs.root, (const uint8_t[ECFS_DIR_ID_SIZE]){0}, "");
	enable_parking();
	return 0;
}

static void fs_teardown(void)
{
	fs_close_all_handles();
	if (fs.root)
		itab_destroy(&fs.itab);
	fs_helpers_stop();
	fs_thread_cleanup();
	ecfs_volume_close(fs.vol); /* wipes the keys */
	fs.vol = NULL;
}

/* Answers `envcryptfsctl status` from the server thread. */
static int status_fill(void *arg, struct ecfs_status *st)
{
	struct ecfs_volume_info info;

	(void)arg;
	kms_header_info(&info); /* the KMS rewrap thread may be rewriting the header */
	snprintf(st->cipher, sizeof(st->cipher), "%s", ecfs_cipher_name(info.cipher));
	st->unlocked_slot = fs.unlocked_slot;
	for (int i = 0; i < info.nslots; i++)
		if (info.slots[i].index == fs.unlocked_slot)
			st->kek_generation = info.slots[i].kek_generation;
	st->started = fs.started;
	st->bytes_read = __atomic_load_n(&fs.bytes_read, __ATOMIC_RELAXED);
	st->bytes_written = __atomic_load_n(&fs.bytes_written, __ATOMIC_RELAXED);
	st->auth_failures = __atomic_load_n(&fs.auth_failures, __ATOMIC_RELAXED);
	st->read_ops = __atomic_load_n(&fs.read_ops, __ATOMIC_RELAXED);
	st->write_ops = __atomic_load_n(&fs.write_ops, __ATOMIC_RELAXED);
	snprintf(st->backing_dir, sizeof(st->backing_dir), "%s", fs.backing_dir);
	snprintf(st->mountpoint, sizeof(st->mountpoint), "%s", fs.mountpoint);
	kms_rewrap_fill(&info, st);
	return 0;
}

/* The status socket is a convenience: failing to start it is logged, never fatal. */
static struct ecfs_status_server *status_start(void)
{
	struct ecfs_volume_info info;
	struct ecfs_status_server *srv = NULL;
	int r;

	kms_header_info(&info);
	fs.started = (int64_t)time(NULL);
	r = ecfs_status_server_start(info.uuid_str, status_fill, NULL, &srv);
	if (r < 0)
		fs_log(LOG_WARNING, "no status socket: %s", strerror(-r));
	return srv;
}

/*
 * Raises the readahead of the mount at mnt to FS_READAHEAD_KB. The kernel gives a FUSE mount
 * 128 KiB, and the INIT reply can only lower that: uncached sequential reads then come as
 * 128 KiB requests, one at a time. The mount's backing device (0:N) is found in mountinfo:
 * a stat of the mount point would wait for this daemon, which does not serve yet. Only root
 * may write the setting; failing costs speed, nothing else.
 */
static void raise_readahead(const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, dev[32] = "", path[96];
	size_t cap = 0;
	int fd;

	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		char *p = line, *fld[5];
		int n = 0;

		while (n < 5 && *p) {
			fld[n++] = p;
			p += strcspn(p, " \n");
			if (*p)
				*p++ = '\0';
		}
		if (n == 5 && mountinfo_field_is(fld[4], strlen(fld[4]), mnt))
			snprintf(dev, sizeof(dev), "%s", fld[2]); /* the last mount there wins */
	}
	free(line);
	fclose(f);
	if (!dev[0])
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%u\n", FS_READAHEAD_KB) < 0)
		fs_log(LOG_DEBUG, "cannot raise the readahead in %s: %m", path);
	if (fd >= 0)
		close(fd);
}

/* Serves the first request, INIT, on this thread, then raises the readahead: the INIT reply
 * sets the mount's readahead, so a setting made before it would be lost. Whatever goes
 * wrong is left to the session loop, which then ends at once. */
static void serve_init(struct fuse_session *se)
{
	struct fuse_buf buf = {.mem = NULL};
	int r;

	do
		r = fuse_session_receive_buf(se, &buf);
	while (r == -EINTR && !fuse_session_exited(se));
	if (r > 0)
		fuse_session_process_buf(se, &buf);
	free(buf.mem);
	if (r > 0 && !fuse_session_exited(se) && !fs.fd_mode)
		raise_readahead(fs.mountpoint);
}

/*
 * The session is made before anything is unlocked or prompted for: libfuse checks the
 * options then, and names any it does not know. It opens nothing, so it survives the fork.
 */
static struct fuse_session *session_new(struct fuse_args *args)
{
	struct fuse_session *se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), NULL);

	if (!se) /* libfuse said which option it did not know */
		ecfs_tool_error(PROG, "bad options (see above; " PROG " --help lists them)");
	return se;
}

/* The lseek thread stayed blocked in the kernel at the end of the session (seek.c): the
 * session must then stay allocated for it, and only its descriptor is closed. */
static bool seek_left_behind;

/* Mounts se and serves until unmounted or signalled. Returns an exit code. */
static int serve(struct fuse_session *se, struct fuse_cmdline_opts *cmd, int *notify)
{
	/* libfuse's own defaults unless -o clone_fd or max_idle_threads= are given (its
	 * "unset" value for the latter is out of range for the 3.2 loop API). */
	struct fuse_loop_config loop = {.clone_fd = cmd->clone_fd,
					.max_idle_threads = cmd->max_idle_threads};
	bool defaults = !cmd->clone_fd && cmd->max_idle_threads == UINT_MAX;
	struct ecfs_status_server *status;
	char *mnt_real;
	int r, code = ECFS_EXIT_MOUNT;

	fs.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		return code;
	if (fuse_session_mount(se, cmd->mountpoint) != 0)
		goto out_signals;
	if (fs.fd_mode && (r = fdmount_drop_privileges()) < 0) {
		ecfs_tool_error(PROG, "cannot drop capabilities to serve '%s': %s", cmd->mountpoint,
				strerror(-r));
		goto out_signals;
	}
	if (fs_killpriv_hook(se) != 0)
		fs_log(LOG_WARNING, "cannot hook the FUSE device; writes cost a GETXATTR each");
	if (*notify >= 0)
		background_ready(notify);
	else
		fs_log_mounted(false);
	/* A passed descriptor names no path the daemon may look at: it keeps "/dev/fd/N". */
	mnt_real = fs.fd_mode ? NULL : realpath(cmd->mountpoint, NULL);
	fs.mountpoint = mnt_real ? mnt_real : cmd->mountpoint;
	if (chdir("/") < 0)
		fs_log(LOG_WARNING, "cannot change to /: %m");
	status = status_start();
	serve_init(se);
	fs_seek_start();
	sdnotify_ready_start(fs.fd_mode ? NULL : fs.mountpoint);
	fs_stop_start(se, fs.fd_mode ? NULL : fs.mountpoint);
	fs_uring_start(se); /* -o io_uring: the rings serve beside the loop */
	r = cmd->singlethread ? fuse_session_loop(se)
			      : fuse_session_loop_mt(se, defaults ? NULL : &loop);
	fs_stop_finish();
	sdnotify_stopping();
	seek_left_behind = !fs_seek_stop();
	fs_uring_stop();
	ecfs_status_server_stop(status);
	fs.mountpoint = NULL;
	free(mnt_real);
	/* A signal (SIGTERM, SIGINT, SIGHUP: stop.c flushed first) is a clean unmount; so is
	 * fusermount -u. */
	code = r < 0 ? ECFS_EXIT_ERROR : ECFS_EXIT_OK;
	if (r < 0)
		fs_log(LOG_ERR, "session ended: %s", strerror(-r));
	fuse_session_unmount(se);
	/* The unmount closed the FUSE device: a stat still waiting for an answer has failed. */
	sdnotify_ready_join();
out_signals:
	fuse_remove_signal_handlers(se);
	return code;
}

/* A read-write mount repairs a header copy that disagrees; a read-only one refuses unless
 * header_fallback allows it. */
static enum ecfs_tool_header_policy header_policy(const struct options *o)
{
	if (!o->ro)
		return ECFS_TOOL_HDR_REPAIR;
	return o->header_fallback ? ECFS_TOOL_HDR_WARN : ECFS_TOOL_HDR_REFUSE;
}

/* ---- the KMS ----------------------------------------------------------------------------- */

static const struct ecfs_slot_info *unlocking_kms_slot(const struct ecfs_volume_info *info)
{
	for (int i = 0; i < info->nslots; i++)
		if (info->slots[i].index == fs.unlocked_slot &&
		    info->slots[i].type == ECFS_SLOT_KMS)
			return &info->slots[i];
	return NULL;
}

/* Unlocked by a KMS slot: report the KMS in status and, with kms_rewrap_interval, keep the
 * slot rewrapped. The volume is unlocked already, so nothing here is fatal. */
static void kms_duties_start(const struct options *o)
{
	struct ecfs_volume_info info;
	const struct ecfs_slot_info *s;
	struct ecfs_kms *k = NULL;
	uint64_t every = o->kms_rewrap_s;

	ecfs_volume_get_info(fs.vol, &info);
	s = unlocking_kms_slot(&info);
	if (!s) {
		if (every)
			ecfs_tool_warn(PROG,
				       "kms_rewrap_interval ignored: not unlocked by a KMS slot");
		return;
	}
	if (every && fs.read_only) {
		ecfs_tool_warn(PROG, "kms_rewrap_interval ignored on a read-only mount");
		every = 0;
	}
	/* Quick: a rewrap that fails is tried again at the next interval anyway, and an
	 * unmount waits for a request under way. */
	if (ecfs_tool_kms_new(&o->kms, &s->kms, true, &k) < 0) {
		ecfs_tool_warn(PROG, "no KMS rewrap: %s", ecfs_last_error());
		return;
	}
	if (kms_rewrap_start(k, s->index, every) < 0)
		ecfs_tool_warn(PROG, "cannot start the KMS rewrap thread");
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct options o = {0};
	struct ecfs_keyopts keys = {0};
	struct fuse_session *se = NULL;
	char *real = NULL;
	int code, lockfd = -1, notify = -1;

	ecfs_harden_process();
	code = parse_args(&args, &o, &cmd);
	if (code >= 0)
		goto out;
	sdnotify_init();
	real = realpath(o.dir, NULL);
	fs.backing_dir = real ? real : o.dir;
	if (add_defaults(&args, &o) < 0) {
		code = ECFS_EXIT_ERROR;
		goto out;
	}
	se = session_new(&args);
	if (!se) {
		code = ECFS_EXIT_USAGE;
		goto out;
	}
	fs.fd_mode = fdmount_parse(cmd.mountpoint) >= 0;
	if (o.writeback < 0)
		o.writeback = !fs.fd_mode;
	code = fs.fd_mode ? -1 : mountpoint_check(cmd.mountpoint, o.nonempty);
	if (code >= 0)
		goto out;
	if (o.log_file && (code = fs_log_open_file(o.log_file)) < 0) {
		ecfs_tool_error(PROG, "cannot open the log file '%s': %s", o.log_file,
				strerror(-code));
		code = ECFS_EXIT_ERROR;
		goto out;
	}
	if (!cmd.foreground && background_fork(&notify) < 0) {
		ecfs_tool_error(PROG, "cannot fork: %s", strerror(errno));
		code = ECFS_EXIT_ERROR;
		goto out;
	}
	keys = (struct ecfs_keyopts){.key_file = o.key_file,
				     .old_key_file = o.old_key_file,
				     .passphrase_file = o.passphrase_file,
				     .export_file = o.key_export,
				     .pkcs11_module = o.pkcs11_module,
				     .pkcs11_pin_file = o.pkcs11_pin_file,
				     .prompt = true,
				     .names = &key_option_names,
				     .kms = o.kms,
				     .kms_wait = o.kms_wait,
				     .tpm2_ops = &ecfs_tpm2_esys,
				     .tpm2_device = o.tpm2_device,
				     .tpm2_unlock = o.tpm2_device != NULL,
				     .header = ECFS_TOOL_HDR_LATER,
				     .allow_open_key_file = o.allow_open_key_file};
	/* In the child when in the background: any kms_wait happens here, the parent waits. */
	code = ecfs_tool_open_unlocked(PROG, o.dir, &keys, &fs.vol, &fs.unlocked_slot);
	if (code != ECFS_EXIT_OK)
		goto out;
	fs.read_only = o.ro;
	code = lock_volume(o.dir, o.ro, &lockfd);
	if (code != ECFS_EXIT_OK)
		goto out;
	/* Under the lock: no other daemon is serving the header being repaired. */
	code = ecfs_tool_header_check(PROG, fs.vol, header_policy(&o));
	if (code != ECFS_EXIT_OK)
		goto out;
	if ((code = fs_setup(&o)) < 0) {
		ecfs_tool_error(PROG, "cannot set up: %s", strerror(-code));
		code = ECFS_EXIT_ERROR;
		goto out;
	}
	/* Modes come from the kernel with the caller's umask already applied. */
	umask(0);
	ecfs_lock_note_pid(lockfd);
	fs_uring_want(o.io_uring);
	kms_duties_start(&o);
	code = serve(se, &cmd, &notify);
out:
	kms_rewrap_stop(); /* before the volume it rewrites goes */
	if (fs.vol)
		fs_teardown();
	if (lockfd >= 0)
		close(lockfd);
	if (notify >= 0)
		close(notify);
	fs.se = NULL;
	if (se && seek_left_behind)
		close(fuse_session_fd(se)); /* aborts the connection, which frees the thread */
	else if (se)
		fuse_session_destroy(se);
	free(real);
	free(cmd.mountpoint);
	free(o.key_file);
	free(o.old_key_file);
	free(o.passphrase_file);
	free(o.key_export);
	free(o.pkcs11_module);
	free(o.pkcs11_pin_file);
	free(o.tpm2_device);
	free(o.kms_rewrap_interval);
	free(o.log_file);
	ecfs_kms_opts_free(&o.kms);
	fuse_opt_free_args(&args);
	return code;
}
