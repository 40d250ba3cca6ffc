/* holes.c - format 2: which chunks of a file may be holes (man/envcryptfs.5, "Holes"). A
 * dense file (no SPARSE flag) has none, and costs nothing here. Before the daemon makes a
 * hole (a truncate that grows, a punched hole), the file's holes map lists it: the map is
 * written and synced first, then the header naming its generation, and only then is the hole
 * made, so a crash never leaves a hole the map does not list. Chunks a write past the end
 * skips are listed in memory only, and committed at the next sync or close, before the
 * header's size covers them. Chunks written into listed holes leave the map at the next
 * fsync, once they are on disk. The map lives in inode->content->holes while the file key
 * does; inode->io held exclusively for every change. */
#include "daemon.h"

#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

static bool format2(void)
{
	return ecfs_volume_format(fs.vol) >= 2;
}

int holes_load(struct inode *inode, const struct ecfs_blob_header *h)
{
	int r;

	ecfs_holes_free(&inode->content->holes);
	ecfs_holes_free(&inode->content->holes_filled);
	inode->content->holes_dirty = false;
	inode->content->holes.generation = h->holes_generation;
	if (!format2() || !(h->flags & ECFS_BLOB_SPARSE))
		return 0;
	r = ecfs_holes_load(fs.vol, fs.root->fd, h, &inode->content->holes);
	if (r < 0) {
		fs_log_damage(inode, FS_DAMAGE_HEADER, "holes map: %s", ecfs_last_error());
		return r == -ENOMEM ? r : -EIO;
	}
	ecfs_file_key_set_holes(inode->content->key, &inode->content->holes);
	return 0;
}

void holes_drop(struct inode *inode)
{
	ecfs_holes_free(&inode->content->holes);
	ecfs_holes_free(&inode->content->holes_filled);
	inode->content->holes_dirty = false;
}

static uint32_t max_gen(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* The highest generation a map of this file may have on disk: the header's, the loaded
 * map's, any this daemon wrote (a commit whose header write failed leaves one ahead), and,
 * for a file without SPARSE, a map a crash left before its first header said so. */
static uint32_t last_gen(struct inode *inode)
{
	uint32_t g = max_gen(
	    max_gen(inode->content->blob.holes_generation, inode->content->holes.generation),
	    inode->content->holes_gen_floor);
	struct ecfs_holes left;

	if (!(inode->content->blob.flags & ECFS_BLOB_SPARSE) &&
	    ecfs_holes_read(fs.vol, fs.root->fd, inode->content->blob.file_id, &left) == 0) {
		g = max_gen(g, left.generation);
		ecfs_holes_free(&left);
	}
	return g;
}

/* Writes map m (the file's next map) and then the header naming it, both synced, and makes
 * them the inode's. */
static int holes_store(struct inode *inode, int fd, struct ecfs_holes *m)
{
	struct ecfs_blob_header h = inode->content->blob;
	struct stat st;
	int r;

	m->generation = last_gen(inode) + 1;
	/* A map of this generation may reach the disk even if the commit fails: the next one
	 * must not reuse it. */
	inode->content->holes_gen_floor = m->generation;
	r = ecfs_holes_commit(fs.vol, fs.root->fd, fd, &h, m);
	if (r < 0) {
		fs_log_damage(inode, FS_DAMAGE_HEADER, "cannot record holes: %s", ecfs_strerror(r));
		/* The header may have reached the disk with SPARSE before the failure. */
		pthread_mutex_lock(&inode->lock);
		inode->header_flags_known = false;
		pthread_mutex_unlock(&inode->lock);
		return r;
	}
	inode->content->blob = h;
	file_note_header(inode, &h);
	ecfs_holes_free(&inode->content->holes);
	inode->content->holes = *m;
	*m = (struct ecfs_holes){0};
	inode->content->holes_dirty = false;
	ecfs_file_key_set_holes(inode->content->key, &inode->content->holes);
	/* A file whose last name went while it had no map (unbind saw no SPARSE flag, open
	 * handles write on): the map goes with the inode, as for a removed sparse file. */
	if (fstat(fd, &st) == 0 && st.st_nlink == 0)
		holes_unlinked(inode, h.file_id);
	return 0;
}

int holes_allow(struct inode *inode, int fd, uint64_t first, uint64_t end)
{
	struct ecfs_holes m;
	int r;

	if (!format2() || !inode_file_key(inode) || first >= end)
		return 0;
	/* Chunks about to be holes again must stay listed at the next sync, even when the map
	 * lists them already. */
	r = ecfs_holes_remove(&inode->content->holes_filled, first, end);
	/* Listed on disk already: only when the map in memory lists no gap the disk's does
	 * not. */
	if (r < 0 ||
	    ((inode->content->blob.flags & ECFS_BLOB_SPARSE) && !inode->content->holes_dirty &&
	     ecfs_holes_covers(&inode->content->holes, first, end)))
		return r;
	r = ecfs_holes_copy(&m, &inode->content->holes);
	if (r == 0)
		r = ecfs_holes_add(&m, first, end);
	if (r == 0)
		r = holes_store(inode, fd, &m);
	ecfs_holes_free(&m);
	return r;
}

/* A write past the end skipped chunks [first, end): they read as holes from now on, but are
 * committed only at the next sync or close, and only if still unwritten then (writes come out
 * of order through the writeback cache, so most gaps fill soon). The header's size covers
 * them only after that commit. */
static int holes_gap(struct inode *inode, uint64_t first, uint64_t end)
{
	int r;

	if (first >= end)
		return 0;
	r = ecfs_holes_remove(&inode->content->holes_filled, first, end);
	if (r == 0)
		r = ecfs_holes_add(&inode->content->holes, first, end);
	if (r < 0)
		return r;
	inode->content->holes_dirty = true;
	ecfs_file_key_set_holes(inode->content->key, &inode->content->holes);
	return 0;
}

int holes_before_write(struct inode *inode, int fd, uint64_t off)
{
	uint64_t cs = fs.chunk_size, size;
	int r;

	/* At or below the header's size no chunk is skipped: appends cost no fstat. */
	if (!format2() || !inode_file_key(inode) || off / cs == 0 ||
	    off <= inode->content->blob.size)
		return 0;
	r = file_plain_size(fd, &size);
	/* Chunks between the old end and the written one stay holes. */
	return r < 0 ? r : holes_gap(inode, (size + cs - 1) / cs, off / cs);
}

void holes_note_written(struct inode *inode, uint64_t first, uint64_t end)
{
	/* Remembered only as far as the set holds without joining ranges (a join would count
	 * unwritten chunks as written): a chunk not remembered stays listed, a superset. */
	if (inode->content->holes.count && ecfs_holes_meets(&inode->content->holes, first, end))
		(void)ecfs_holes_add_unjoined(&inode->content->holes_filled, first, end);
}

bool holes_pending(const struct inode *inode)
{
	return inode_file_key(inode) &&
	       (inode->content->holes_filled.count || inode->content->holes_dirty);
}

int holes_sync(struct inode *inode, int fd)
{
	struct ecfs_holes m;
	int r;

	if (!holes_pending(inode))
		return 0;
	/* What leaves the map must be on disk first, or a power loss would leave a hole the
	 * map no longer lists. */
	if (fdatasync(fd) < 0)
		return -errno;
	r = ecfs_holes_copy(&m, &inode->content->holes);
	if (r == 0)
		r = ecfs_holes_subtract(&m, &inode->content->holes_filled);
	/* A dense file whose gaps all filled before the sync stays dense. */
	if (r == 0 && m.count == 0 && !(inode->content->blob.flags & ECFS_BLOB_SPARSE)) {
		ecfs_holes_free(&inode->content->holes);
		inode->content->holes_dirty = false;
	} else if (r == 0) {
		r = holes_store(inode, fd, &m);
	}
	if (r == 0)
		ecfs_holes_free(&inode->content->holes_filled);
	ecfs_holes_free(&m);
	return r;
}

int holes_clip(struct inode *inode, int fd, uint64_t end)
{
	struct ecfs_holes m;
	int r;

	if (!inode_file_key(inode))
		return 0; /* no key, no maps */
	(void)ecfs_holes_remove(&inode->content->holes_filled, end, ECFS_HOLES_END_MAX);
	if (!format2() || !ecfs_holes_meets(&inode->content->holes, end, ECFS_HOLES_END_MAX))
		return 0;
	r = ecfs_holes_copy(&m, &inode->content->holes);
	if (r == 0)
		r = ecfs_holes_remove(&m, end, ECFS_HOLES_END_MAX);
	if (r == 0 && m.count == 0 && !(inode->content->blob.flags & ECFS_BLOB_SPARSE)) {
		ecfs_holes_free(&inode->content->holes);
		inode->content->holes_dirty = false;
	} else if (r == 0) {
		r = holes_store(inode, fd, &m);
	}
	ecfs_holes_free(&m);
	return r;
}

void holes_unlinked(struct inode *inode, const uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	/* An inode the daemon knows may be open, or be opened by a request already on its way
	 * (even after a last close): its map stays until the kernel forgets the inode. */
	if (!inode) {
		(void)ecfs_holes_delete(fs.root->fd, file_id);
		return;
	}
	pthread_mutex_lock(&inode->lock);
	inode->holes_orphan = true;
	memcpy(inode->file_id, file_id, ECFS_FILE_ID_SIZE);
	inode->has_file_id = true;
	pthread_mutex_unlock(&inode->lock);
}

void holes_forget(struct inode *inode)
{
	/* The kernel holds no reference any more: nothing can open the file again. At the
	 * unmount the root inode may be gone already: the volume's own descriptor outlives
	 * every inode. */
	if (inode->holes_orphan)
		(void)ecfs_holes_delete(ecfs_volume_dirfd(fs.vol), inode->file_id);
}
