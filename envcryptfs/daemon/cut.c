/* cut.c - format 2: a blob that holds less plaintext than its header's size (S) says. The
 * daemon never lets S run ahead of the blob, so the blob was cut (by someone with access to the
 * backing directory, maybe while the file is open), or a power loss kept a raised S without
 * the data it covered. Either way the file stays readable up to where the blob ends, and
 * never silently shorter: reads past that end fail with EIO and stat shows S. */
#include "daemon.h"

#include <errno.h>

void file_log_cut(struct inode *inode, uint64_t size, uint64_t holds)
{
	fs_log_damage(inode, FS_DAMAGE_SIZE,
		      "cut short: header says %llu bytes, blob holds %llu; reads past byte %llu "
		      "fail with EIO (fsck.envcryptfs -y sets the size to what the blob holds)",
		      (unsigned long long)size, (unsigned long long)holds,
		      (unsigned long long)holds);
}

uint64_t file_size_floor(const struct inode *inode)
{
	return ecfs_volume_format(fs.vol) >= 2 && inode_file_key(inode) ? inode->content->blob.size
									: 0;
}

bool file_is_cut(const struct inode *inode, const struct stat *st)
{
	int64_t p = ecfs_plain_size(fs.vol, (uint64_t)st->st_size);

	return p >= 0 && file_size_floor(inode) > (uint64_t)p;
}

int file_read_check(struct inode *inode, int fd, uint64_t off, size_t want, size_t got)
{
	uint64_t s = file_size_floor(inode), end = off + want < s ? off + want : s, p;

	if (got == want || off + got >= end)
		return 0;
	if (file_plain_size(fd, &p) < 0)
		p = off + got;
	file_log_cut(inode, s, p);
	return -EIO;
}
