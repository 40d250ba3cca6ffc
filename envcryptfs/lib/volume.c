/* SPDX-License-Identifier: MIT */
/*
 * volume.c - creating, opening and unlocking a volume: the façade behind envcryptfs.h that
 * ties the header copies, the key slots and the key hierarchy together.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct ecfs_volume *volume_alloc(const char *dir)
{
	struct ecfs_volume *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->dir = strdup(dir);
	v->dirfd = -1;
	v->unlocked_slot = -1;
	if (!v->dir) {
		free(v);
		return NULL;
	}
	return v;
}

void ecfs_volume_close(struct ecfs_volume *v)
{
	if (!v)
		return;
	if (v->dirfd >= 0)
		close(v->dirfd);
	ecfs_secret_free(v->key_secret);
	free(v->raw);
	free(v->other_raw);
	ecfs_wipe(&v->hdr, sizeof(v->hdr));
	ecfs_wipe(&v->other, sizeof(v->other));
	free(v->dir);
	free(v);
}

uint32_t ecfs_volume_format(const struct ecfs_volume *v)
{
	return v->hdr.version;
}

int ecfs_volume_dirfd(const struct ecfs_volume *v)
{
	return v->dirfd;
}

/* ---- open: both copies, the better one wins ------------------------------------------- */

static enum ecfs_header_state load_copy(struct ecfs_volume *v, const char *name,
					struct ecfs_header *h, uint8_t **raw, size_t *raw_len,
					char *why, size_t whylen)
{
	int r = ecfs_header_read_file(v->dirfd, name, raw, raw_len);

	if (r == -ENOENT) {
		snprintf(why, whylen, "missing");
		return ECFS_HDR_MISSING;
	}
	if (r == 0)
		r = ecfs_header_parse(*raw, *raw_len, h);
	if (r == 0)
		return ECFS_HDR_OK;
	snprintf(why, whylen, "%s", ecfs_error_text(r));
	free(*raw);
	*raw = NULL;
	return r == -EPROTONOSUPPORT ? ECFS_HDR_UNSUPPORTED : ECFS_HDR_DAMAGED;
}

/* Picks the copy to use: the valid one, or of two valid ones the higher seqid. */
static int choose_copy(struct ecfs_volume *v, struct ecfs_header *copy, uint8_t *copy_raw,
		       size_t copy_len)
{
	bool use_copy = v->primary_state != ECFS_HDR_OK ||
			(v->copy_state == ECFS_HDR_OK && copy->seqid > v->hdr.seqid);

	if (v->copy_state != ECFS_HDR_OK) {
		v->other_raw = NULL;
		return 0;
	}
	if (use_copy) {
		v->other = v->hdr;
		v->other_raw = v->raw;
		v->other_raw_len = v->raw_len;
		v->hdr = *copy;
		v->raw = copy_raw;
		v->raw_len = copy_len;
		v->from_copy = v->primary_state != ECFS_HDR_OK;
		if (v->primary_state == ECFS_HDR_OK) {
			v->primary_state = ECFS_HDR_STALE;
			snprintf(v->primary_why, sizeof(v->primary_why),
				 "sequence number %llu, the copy's is %llu",
				 (unsigned long long)v->other.seqid,
				 (unsigned long long)copy->seqid);
		}
	} else {
		v->other = *copy;
		v->other_raw = copy_raw;
		v->other_raw_len = copy_len;
		if (copy->seqid < v->hdr.seqid) {
			v->copy_state = ECFS_HDR_STALE;
			snprintf(v->copy_why, sizeof(v->copy_why),
				 "sequence number %llu, the primary's is %llu",
				 (unsigned long long)copy->seqid, (unsigned long long)v->hdr.seqid);
		} else if (copy_len != v->raw_len || memcmp(copy_raw, v->raw, copy_len) != 0) {
			v->copy_state = ECFS_HDR_DAMAGED;
			snprintf(v->copy_why, sizeof(v->copy_why),
				 "it differs from the primary at the same sequence number");
		}
	}
	return 0;
}

int ecfs_volume_open(const char *dir, struct ecfs_volume **out)
{
	struct ecfs_volume *v = volume_alloc(dir);
	struct ecfs_header copy;
	uint8_t *copy_raw = NULL;
	size_t copy_len = 0;

	ecfs_clear_error();
	if (!v)
		return -ENOMEM;
	v->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0) {
		int e = errno;

		ecfs_volume_close(v);
		return ecfs_fail(-e, "cannot open volume directory '%s': %s", dir, strerror(e));
	}
	v->primary_state = load_copy(v, ECFS_HEADER_NAME, &v->hdr, &v->raw, &v->raw_len,
				     v->primary_why, sizeof(v->primary_why));
	v->copy_state = load_copy(v, ECFS_HEADER_COPY_NAME, &copy, &copy_raw, &copy_len,
				  v->copy_why, sizeof(v->copy_why));
	if (v->primary_state != ECFS_HDR_OK && v->copy_state != ECFS_HDR_OK) {
		bool unsupported = v->primary_state == ECFS_HDR_UNSUPPORTED ||
				   v->copy_state == ECFS_HDR_UNSUPPORTED;
		bool none =
		    v->primary_state == ECFS_HDR_MISSING && v->copy_state == ECFS_HDR_MISSING;
		int r = none ? ecfs_fail(-ENOENT, "'%s' holds no envcryptfs volume", dir)
			     : ecfs_fail(unsupported ? -EPROTONOSUPPORT : -EUCLEAN,
					 "volume header of '%s' is unusable: primary: %s; copy: %s",
					 dir, v->primary_why, v->copy_why);

		ecfs_volume_close(v);
		return r;
	}
	choose_copy(v, &copy, copy_raw, copy_len);
	if (v->copy_state != ECFS_HDR_OK && v->other_raw != copy_raw)
		free(copy_raw);
	v->disk_seqid = v->hdr.seqid;
	if (v->other_raw && v->other.seqid > v->disk_seqid)
		v->disk_seqid = v->other.seqid;
	ecfs_clear_error();
	if (v->from_copy)
		ecfs_fail(0, "primary header of '%s' is unusable (%s); using the copy", dir,
			  v->primary_why);
	*out = v;
	return 0;
}

/* ---- unlock ---------------------------------------------------------------------------- */

/* Takes a candidate DEK: derive the subkeys, check the canary, then the header MAC. */
static int accept_dek(struct ecfs_volume *v, struct ecfs_secret *ks)
{
	struct ecfs_keys *k = (struct ecfs_keys *)ecfs_secret_data(ks);
	int r = ecfs_keys_derive(k, &v->hdr);

	if (r == 0 && ecfs_canary_check(k, &v->hdr) < 0)
		return -EKEYREJECTED; /* a DEK, but not this volume's */
	if (r == 0)
		r = ecfs_header_verify_mac(v->raw, v->raw_len, k->header_mac);
	return r;
}

/* A passphrase slot whose KDF cost (read before anything is authenticated) is over the cap
 * is not tried; v->skipped_why names the first such slot and why. */
static bool over_cost_cap(struct ecfs_volume *v, int i)
{
	const struct ecfs_slot *s = &v->hdr.slots[i];

	if (s->type != ECFS_SLOT_PASSPHRASE || ecfs_argon2_check_cap(&s->argon2) == 0)
		return false;
	if (!v->skipped_why[0])
		snprintf(v->skipped_why, sizeof(v->skipped_why), "key slot %d was not tried: %s", i,
			 ecfs_last_error());
	return true;
}

/* Tries every credential on every slot of its type in the header in use. */
static int try_slots(struct ecfs_volume *v, const struct ecfs_credential *creds, size_t n,
		     struct ecfs_secret *ks, int *slot)
{
	struct ecfs_keys *k = (struct ecfs_keys *)ecfs_secret_data(ks);
	int r, result = -EKEYREJECTED;

	for (size_t c = 0; c < n; c++) {
		if (creds[c].type == ECFS_KEY_EXPORT) {
			r = ecfs_export_open(&creds[c], v->hdr.uuid, k->dek);
			if (r == 0)
				r = accept_dek(v, ks);
			if (r == 0) {
				*slot = ECFS_UNLOCKED_BY_EXPORT;
				return 0;
			}
			result = r;
			continue;
		}
		for (int i = 0; i < ECFS_MAX_SLOTS; i++) {
			if (v->hdr.slots[i].type != creds[c].type || over_cost_cap(v, i))
				continue;
			r = ecfs_slot_open(&v->hdr.slots[i], &creds[c], k->dek);
			if (r == 0)
				r = accept_dek(v, ks);
			if (r == 0) {
				*slot = i;
				return 0;
			}
			if (r != -EKEYREJECTED)
				result = r;
		}
	}
	return result;
}

/* Swaps in the other copy (for a header whose MAC failed while the other may be intact). */
static void swap_copies(struct ecfs_volume *v)
{
	struct ecfs_header h = v->hdr;
	uint8_t *raw = v->raw;
	size_t len = v->raw_len;

	v->hdr = v->other;
	v->raw = v->other_raw;
	v->raw_len = v->other_raw_len;
	v->other = h;
	v->other_raw = raw;
	v->other_raw_len = len;
}

/* Whether the other copy could open where the one in use did not: after a MAC failure, or
 * after a rejected key when the two copies of one generation differ (a slot or the canary of
 * one copy may have been altered). */
static bool other_copy_worth_trying(const struct ecfs_volume *v, int r)
{
	if (!v->other_raw || r == 0)
		return false;
	if (r != -EKEYREJECTED)
		return true;
	/* Only a copy of the same generation: a stale copy may hold a slot since rotated away. */
	return v->other.seqid == v->hdr.seqid &&
	       (v->other_raw_len != v->raw_len || memcmp(v->other_raw, v->raw, v->raw_len) != 0);
}

/* Uses the other copy; the states describe the files, so the file that failed is marked. */
static void use_other_copy(struct ecfs_volume *v)
{
	bool copy_was_in_use = v->from_copy || v->primary_state == ECFS_HDR_STALE;

	swap_copies(v);
	v->primary_state = copy_was_in_use ? ECFS_HDR_OK : ECFS_HDR_DAMAGED;
	v->copy_state = copy_was_in_use ? ECFS_HDR_DAMAGED : ECFS_HDR_OK;
	v->from_copy = !copy_was_in_use;
}

/* Unlocks with the other copy, which then becomes the one in use. */
static int unlock_other_copy(struct ecfs_volume *v, const struct ecfs_credential *creds, size_t n,
			     struct ecfs_secret *ks, int *which, int first_error)
{
	int r;

	swap_copies(v);
	r = try_slots(v, creds, n, ks, which);
	swap_copies(v);
	if (r < 0)
		return first_error;
	use_other_copy(v);
	return 0;
}

/* A format-1 header on a volume whose root directory ID file is format 2's: a header from
 * before an upgrade put back, which would switch off every format-2 check. */
static int refuse_rolled_back(const struct ecfs_volume *v)
{
	struct stat st;

	if (v->hdr.version != 1 || v->hdr.upgrading ||
	    fstatat(v->dirfd, ECFS_DIR_ID_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_size != ECFS_DIRID_FILE_SIZE)
		return 0;
	return ecfs_fail(-EUCLEAN,
			 "volume '%s': the header says format 1 but the volume was upgraded to "
			 "format 2 (a header from before the upgrade put back?); restore a "
			 "current header backup with 'envcryptfsctl header-restore'",
			 v->dir);
}

int ecfs_volume_unlock(struct ecfs_volume *v, const struct ecfs_credential *creds, size_t ncreds,
		       int *slot)
{
	struct ecfs_secret *ks = ecfs_secret_new(sizeof(struct ecfs_keys));
	int r, which = -1;

	ecfs_clear_error();
	if (v->hdr.upgrading && !v->upgrade_mode) {
		ecfs_secret_free(ks);
		return ecfs_fail(-EUCLEAN,
				 "volume '%s': an upgrade to format 2 was interrupted; finish it "
				 "with 'envcryptfsctl upgrade %s'",
				 v->dir, v->dir);
	}
	if (!ks)
		return -ENOMEM;
	v->skipped_why[0] = '\0';
	r = try_slots(v, creds, ncreds, ks, &which);
	if (other_copy_worth_trying(v, r))
		r = unlock_other_copy(v, creds, ncreds, ks, &which, r);
	if (r < 0) {
		ecfs_secret_free(ks);
		if (r == -EKEYREJECTED && ncreds == 1 && creds[0].type == ECFS_KEY_EXPORT)
			return r; /* export.c said why */
		/* A token that refused the PIN said so: more use than "wrong key". */
		if (r == -EKEYREJECTED && ncreds == 1 && creds[0].type == ECFS_SLOT_PKCS11 &&
		    ecfs_last_error()[0])
			return ecfs_fail(r, "volume '%s': %s", v->dir, ecfs_last_error());
		if (r == -EKEYREJECTED && v->skipped_why[0])
			return ecfs_fail(-E2BIG,
					 "volume '%s': %s; someone without the key may have "
					 "changed it: open the volume with another key (a key "
					 "file, a KMS or a key export)",
					 v->dir, v->skipped_why);
		if (r == -EKEYREJECTED)
			return ecfs_fail(r, "wrong key: no key slot of '%s' opens with %s", v->dir,
					 ncreds == 1 ? creds[0].origin : "the keys given");
		return ecfs_fail(r, "volume '%s': %s", v->dir, ecfs_last_error());
	}
	r = refuse_rolled_back(v);
	if (r < 0) {
		ecfs_secret_free(ks);
		return r;
	}
	v->key_secret = ks;
	v->keys = (const struct ecfs_keys *)ecfs_secret_data(ks);
	v->unlocked_slot = which;
	v->mac_ok = true;
	ecfs_header_judge_other(v);
	if (slot)
		*slot = which;
	return 0;
}

int ecfs_volume_repair_header(struct ecfs_volume *v)
{
	struct ecfs_metalock *lock;
	int r = ecfs_metalock_acquire_at(v->dirfd, v->dir, &lock); /* clears the message */

	/* What another writer did since v was read is the state to repair, not ours. */
	if (r == 0)
		r = ecfs_volume_refresh(v);
	if (r == 0 && v->primary_state == ECFS_HDR_OK && v->copy_state == ECFS_HDR_OK &&
	    !v->from_copy) {
		ecfs_metalock_release(lock);
		return 0;
	}
	if (r == 0) {
		v->hdr.seqid = v->hdr.seqid > v->other.seqid ? v->hdr.seqid : v->other.seqid;
		r = ecfs_header_store(v);
	}
	ecfs_metalock_release(lock);
	return r < 0 ? r : 1;
}

bool ecfs_volume_copy_behind(const struct ecfs_volume *v)
{
	return v->copy_behind;
}

/* ---- refresh: the header on disk, checked with the keys in hand ------------------------ */

/* Whether n, just read from disk, is still v's volume and opens with v's keys; with a copy in
 * use whose MAC fails, the other copy is tried. */
static int check_refreshed(const struct ecfs_volume *v, struct ecfs_volume *n)
{
	const struct ecfs_keys *k = v->keys;
	bool in_use_ok = ecfs_canary_check(k, &n->hdr) == 0 &&
			 ecfs_header_verify_mac(n->raw, n->raw_len, k->header_mac) == 0;

	if (!in_use_ok && n->other_raw && ecfs_canary_check(k, &n->other) == 0 &&
	    ecfs_header_verify_mac(n->other_raw, n->other_raw_len, k->header_mac) == 0) {
		use_other_copy(n);
		in_use_ok = true;
	}
	if (!in_use_ok)
		return ecfs_fail(-EBADMSG, "the header of '%s' on disk fails authentication",
				 v->dir);
	/* The MAC key comes from the DEK alone: a header of another volume could verify. */
	if (memcmp(n->hdr.uuid, v->hdr.uuid, ECFS_UUID_SIZE) != 0 ||
	    n->hdr.cipher != v->hdr.cipher || n->hdr.chunk_size != v->hdr.chunk_size)
		return ecfs_fail(-EXDEV, "the header of '%s' on disk now describes another volume",
				 v->dir);
	return 0;
}

/* Takes n's header into v. Only what a header update may change is written: the daemon's
 * threads read the cipher, chunk size and UUID of v meanwhile. */
static void adopt(struct ecfs_volume *v, struct ecfs_volume *n)
{
	uint8_t *raw = v->raw, *other_raw = v->other_raw;

	v->hdr.seqid = n->hdr.seqid;
	memcpy(v->hdr.label, n->hdr.label, sizeof(v->hdr.label));
	memcpy(v->hdr.slots, n->hdr.slots, sizeof(v->hdr.slots));
	v->other = n->other;
	v->raw = n->raw;
	v->raw_len = n->raw_len;
	v->other_raw = n->other_raw;
	v->other_raw_len = n->other_raw_len;
	n->raw = raw;
	n->other_raw = other_raw;
	v->primary_state = n->primary_state;
	v->copy_state = n->copy_state;
	memcpy(v->primary_why, n->primary_why, sizeof(v->primary_why));
	memcpy(v->copy_why, n->copy_why, sizeof(v->copy_why));
	v->from_copy = n->from_copy;
	v->disk_seqid = n->disk_seqid;
	v->copy_behind = false;
}

int ecfs_volume_refresh(struct ecfs_volume *v)
{
	struct ecfs_volume *n;
	int r = ecfs_volume_open(v->dir, &n); /* clears the message */

	if (r < 0)
		return r;
	if (v->keys)
		r = check_refreshed(v, n);
	else
		v->hdr = n->hdr; /* nothing else reads a locked volume's header meanwhile */
	if (r == 0)
		adopt(v, n);
	/* As after unlocking: the copy not in use is held to the MAC as well. */
	if (r == 0 && v->keys)
		ecfs_header_judge_other(v);
	ecfs_volume_close(n);
	return r;
}

void ecfs_volume_get_info(const struct ecfs_volume *v, struct ecfs_volume_info *info)
{
	const uint8_t *u = v->hdr.uuid;

	memset(info, 0, sizeof(*info));
	memcpy(info->uuid, u, ECFS_UUID_SIZE);
	snprintf(info->uuid_str, sizeof(info->uuid_str),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
	memcpy(info->label, v->hdr.label, sizeof(info->label));
	info->format_version = v->hdr.version;
	info->cipher = v->hdr.cipher;
	info->chunk_size = v->hdr.chunk_size;
	info->created = v->hdr.created;
	info->seqid = v->hdr.seqid;
	for (int i = 0; i < ECFS_MAX_SLOTS; i++) {
		const struct ecfs_slot *s = &v->hdr.slots[i];

		if (s->type == ECFS_SLOT_NONE)
			continue;
		info->slots[info->nslots++] =
		    (struct ecfs_slot_info){i,	       s->type, s->kek_generation, s->created,
					    s->argon2, s->kms,	s->pkcs11,	   s->tpm2.pcrs};
	}
	info->primary_state = v->primary_state;
	info->copy_state = v->copy_state;
	info->opened_from_copy = v->from_copy;
	info->unlocked = v->keys != NULL;
	info->unlocked_slot = v->unlocked_slot;
	info->header_mac_ok = v->mac_ok;
}

/* ---- create ---------------------------------------------------------------------------- */

/* The names an interrupted mkfs leaves behind in a directory that holds no header yet: the
 * root's directory ID, temporary header files and the lock files. */
static bool is_leftover(const char *name)
{
	return !strcmp(name, ECFS_DIR_ID_NAME) || !strcmp(name, ECFS_METALOCK_NAME) ||
	       !strcmp(name, ECFS_LOCK_NAME) ||
	       !strncmp(name, ECFS_TMP_PREFIX, strlen(ECFS_TMP_PREFIX));
}

/* Removes the leftovers of an interrupted mkfs (the lock files stay: we may hold one). */
static int remove_leftovers(int dirfd, DIR *d, const char *dir)
{
	struct dirent *e;

	rewinddir(d);
	while ((e = readdir(d))) {
		if (!is_leftover(e->d_name) || !strcmp(e->d_name, ECFS_METALOCK_NAME) ||
		    !strcmp(e->d_name, ECFS_LOCK_NAME))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT)
			return ecfs_fail(-errno,
					 "cannot remove '%s/%s', left by an interrupted mkfs: %s",
					 dir, e->d_name, strerror(errno));
	}
	return 0;
}

/* A directory is fit for a new volume when it holds none and nothing but what an interrupted
 * mkfs left (or force is set); those leftovers are removed. *empty tells which it was. */
static int check_target(int dirfd, const char *dir, bool force, bool *empty_out)
{
	DIR *d;
	struct dirent *e;
	bool empty = true;
	int r, fd = dup(dirfd);

	if (faccessat(dirfd, ECFS_HEADER_NAME, F_OK, 0) == 0 ||
	    faccessat(dirfd, ECFS_HEADER_COPY_NAME, F_OK, 0) == 0) {
		if (fd >= 0)
			close(fd);
		return ecfs_fail(-EEXIST, "'%s' already holds a volume", dir);
	}
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return ecfs_fail(-errno, "cannot read '%s': %s", dir, strerror(errno));
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_leftover(e->d_name))
			empty = false;
	if (!empty && !force)
		r = ecfs_fail(-ENOTEMPTY, "'%s' is not empty (use --force to create anyway)", dir);
	else
		r = remove_leftovers(dirfd, d, dir);
	closedir(d);
	*empty_out = empty;
	return r;
}

/* Only the owner may list or reach the backing files: their names, sizes and times are
 * visible to anyone who can read the directory. A non-empty directory taken with --force
 * keeps its mode, since others may use what else it holds. */
static int restrict_root(int dirfd, const char *dir, bool empty)
{
	if (empty && fchmod(dirfd, 0700) < 0)
		return ecfs_fail(-errno, "cannot make '%s' mode 0700: %s", dir, strerror(errno));
	return 0;
}

static int fill_header(struct ecfs_header *h, const struct ecfs_create_params *p)
{
	memset(h, 0, sizeof(*h));
	h->version = p->format_version ? p->format_version : ECFS_FORMAT_DEFAULT;
	if (h->version < ECFS_FORMAT_VERSION_MIN || h->version > ECFS_FORMAT_VERSION)
		return ecfs_fail(-EINVAL, "format version %u is not one of %d to %d", h->version,
				 ECFS_FORMAT_VERSION_MIN, ECFS_FORMAT_VERSION);
	h->cipher = p->cipher ? p->cipher : ECFS_CIPHER_AES256_GCM;
	h->chunk_size = p->chunk_size ? p->chunk_size : ECFS_DEFAULT_CHUNK;
	h->created = (int64_t)time(NULL);
	if (!ecfs_mode_get(h->cipher))
		return ecfs_fail(-EINVAL, "unknown cipher");
	if (h->chunk_size < ECFS_MIN_CHUNK || h->chunk_size > ECFS_MAX_CHUNK ||
	    (h->chunk_size & (h->chunk_size - 1)))
		return ecfs_fail(-EINVAL, "chunk size %u is not a power of two from %u to %u",
				 h->chunk_size, ECFS_MIN_CHUNK, ECFS_MAX_CHUNK);
	if (p->label && strlen(p->label) > ECFS_LABEL_MAX)
		return ecfs_fail(-EINVAL, "label is longer than %d bytes", ECFS_LABEL_MAX);
	snprintf(h->label, sizeof(h->label), "%s", p->label ? p->label : "");
	return ecfs_random(h->uuid, ECFS_UUID_SIZE);
}

static int make_slots(struct ecfs_volume *v, const struct ecfs_create_params *p,
		      const struct ecfs_credential *creds, size_t n)
{
	struct ecfs_argon2_params a = p->argon2;
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		if (ecfs_slot_uses_argon2(creds[i].type) && a.t_cost == 0)
			r = ecfs_argon2_or_calibrate(NULL, &a);
		if (r == 0)
			r = ecfs_slot_create(&v->hdr.slots[i], &creds[i], &a, v->keys->dek);
	}
	return r;
}

int ecfs_volume_create(const char *dir, const struct ecfs_create_params *p,
		       const struct ecfs_credential *creds, size_t ncreds, struct ecfs_volume **out)
{
	struct ecfs_volume *v = volume_alloc(dir);
	struct ecfs_metalock *lock = NULL;
	struct ecfs_keys *k;
	/* The root's place: no parent, no name. */
	const struct ecfs_place root = {.name = ""};
	uint8_t dirid[ECFS_DIR_ID_SIZE];
	bool made_dir = false, made_dirid = false, empty = false;
	int r;

	ecfs_clear_error();
	if (!v)
		return -ENOMEM;
	/* Every parameter is checked before the directory is touched. */
	r = fill_header(&v->hdr, p);
	if (r == 0 && (ncreds == 0 || ncreds > ECFS_MAX_SLOTS))
		r = ecfs_fail(-EINVAL, "a volume needs 1 to %d keys", ECFS_MAX_SLOTS);
	for (size_t i = 0; r == 0 && i < ncreds; i++)
		r = ecfs_slot_validate(&creds[i]);
	if (r < 0)
		goto fail;
	made_dir = mkdir(dir, 0700) == 0;
	if (!made_dir && errno != EEXIST) {
		r = ecfs_fail(-errno, "cannot create '%s': %s", dir, strerror(errno));
		goto fail;
	}
	v->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0) {
		r = ecfs_fail(-errno, "cannot open '%s': %s", dir, strerror(errno));
		goto fail;
	}
	/* No other mkfs or key tool may work in the directory meanwhile. */
	r = ecfs_metalock_acquire_at(v->dirfd, dir, &lock);
	if (r == 0)
		r = check_target(v->dirfd, dir, p->force, &empty);
	if (r == 0)
		r = restrict_root(v->dirfd, dir, empty);
	v->key_secret = ecfs_secret_new(sizeof(*k));
	if (r == 0 && !v->key_secret)
		r = -ENOMEM;
	if (r < 0)
		goto fail;
	k = (struct ecfs_keys *)ecfs_secret_data(v->key_secret);
	v->keys = k;
	r = ecfs_random(k->dek, ECFS_DEK_SIZE);
	if (r == 0)
		r = ecfs_keys_derive(k, &v->hdr);
	if (r == 0)
		r = ecfs_canary_make(k, &v->hdr);
	if (r == 0)
		r = make_slots(v, p, creds, ncreds);
	/* The root's directory ID first and the header last: a header never points at a volume
	 * without one, and until the header is there a rerun finds only leftovers. */
	if (r == 0 && (r = ecfs_dirid_create_at(v, v->dirfd, &root, dirid)) < 0)
		r = ecfs_fail(r, "cannot create '%s/%s': %s", dir, ECFS_DIR_ID_NAME, strerror(-r));
	made_dirid = r == 0;
	if (r == 0)
		r = ecfs_header_store(v);
	/* Once a header is on disk the volume exists: nothing of it may go. */
	if (r < 0 && !v->primary_written &&
	    faccessat(v->dirfd, ECFS_HEADER_NAME, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail;
	ecfs_metalock_release(lock);
	v->unlocked_slot = 0;
	*out = v;
	return r; /* the volume exists and opens; the caller says what did not complete */
fail:
	/* Nothing of a volume without a header stays: what we made goes again. */
	if (made_dirid)
		unlinkat(v->dirfd, ECFS_DIR_ID_NAME, 0);
	if (made_dir && v->dirfd >= 0)
		unlinkat(v->dirfd, ECFS_METALOCK_NAME, 0);
	ecfs_metalock_release(lock);
	if (made_dir)
		rmdir(dir);
	ecfs_volume_close(v);
	return r;
}
