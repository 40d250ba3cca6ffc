/* SPDX-License-Identifier: MIT */
/* tree.h - one backing directory as the tree passes see it, while it is being checked. */
#ifndef FSCK_TREE_H
#define FSCK_TREE_H

#include "fsck.h"

struct entry {
	char *disk;		  /* the name in the backing directory */
	unsigned char type;	  /* DT_*, never DT_UNKNOWN */
	enum ecfs_name_kind kind; /* ecfs_name_classify */
	char *plain;		  /* the decrypted name; NULL when not known */
	char *full;		  /* its full encoded name once it decrypted; else NULL */
};

struct dir {
	int fd;
	char *plain;   /* plaintext path ("/" for the root); NULL without a key */
	char *backing; /* backing path */
	uint8_t id[ECFS_DIR_ID_SIZE];
	bool have_id;
	bool is_root;
	/* Format 2: where the directory is (its parent's ID, its full encoded name), which its
	 * ID file must name; have_place is false when that is not known. */
	struct ecfs_place place;
	bool have_place;
	struct entry *e; /* sorted by disk name */
	size_t n;
};

/* check_tree.c */
struct entry *dir_find(const struct dir *d, const char *disk);
/* The entry's plaintext path ("?<backing name>" for a name that is not known), or NULL
 * without a key; and its backing path. Both malloc()ed. */
char *entry_plain(const struct dir *d, const struct entry *e);
char *entry_backing(const struct dir *d, const struct entry *e);

/* check_names.c: pass 2, names. */
/* An encrypted or long name: decrypts it (sets e->plain) and checks a long name's side file. */
void names_check_entry(struct fsck *f, struct dir *d, struct entry *e);
/* A long-name side file: its entry must exist. */
void names_check_side(struct fsck *f, struct dir *d, struct entry *e);
/* No two entries decrypt to the same name. */
void names_check_duplicates(struct fsck *f, struct dir *d);

/* check_links.c: pass 2, long symlink targets and their side files at the root. */
/* A root entry named like a side file: noted, to find the ones no symlink names. */
void links_note_side(struct fsck *f, struct dir *d, struct entry *e);
/* The stored target of symlink e into stored (ECFS_SYMLINK_STORED_MAX bytes), from its side
 * file when it names one (a missing or damaged one is reported). 0, or -1 when reported. */
int links_load(struct fsck *f, struct dir *d, struct entry *e, char *stored, const char *path,
	       const char *backing);
/* The stored target of symlink disk in dirfd, from its side file when it names one; nothing
 * is reported or noted. 0 or -errno. */
int links_read_stored(struct fsck *f, int dirfd, const char *disk, char *stored);
/* After the walk: reports (and with -p removes) side files that no symlink names. */
void links_check_orphans(struct fsck *f, int rootfd);

/* check_sidecars.c: pass 2, format 2 link files and holes maps at the root. */
bool sidecars_is_one(const char *disk);
/* A root entry named like one: noted, to find the ones no file claims. */
void sidecars_note(struct fsck *f, struct dir *d, struct entry *e);
/* A regular file with header h: claims its link file (LINKED) and holes map (SPARSE). */
void sidecars_claim(struct fsck *f, const struct ecfs_blob_header *h);
/* A regular file whose header could not be read: no leftover is removed. */
void sidecars_unsure(void);
/* After the walk: reports (and with -p removes) the ones no file claims. */
void sidecars_check_orphans(struct fsck *f, int rootfd);

/* check_leftover.c: pass 4, temporary files and directories of interrupted operations. */
bool leftover_is_tmp(const struct entry *e);
void leftover_check(struct fsck *f, struct dir *d, struct entry *e);
/* Temporary symlinks, once every name in d is decrypted: a sealed copy that an interrupted
 * RENAME_EXCHANGE did not put in place yet takes the place it was made for (format 2). */
void leftover_symlinks(struct fsck *f, struct dir *d);

#endif /* FSCK_TREE_H */
