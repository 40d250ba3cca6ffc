/* SPDX-License-Identifier: MIT */
/* unlock.c - opening the volume, loading the key options and unlocking, in fsck's codes. */
#include "fsck.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char not_verified[] =
    "names, chunk contents and the header MAC were not verified: no key given";

static int open_failed(struct fsck *f, int r)
{
	char hdr[4096], detail[600];

	if (r != -EUCLEAN) {
		/* No volume, an unsupported version, or no access: nothing fsck can judge. */
		report_fatal(f, FSCK_OPERROR, "%s", ecfs_last_error());
		return FSCK_OPERROR;
	}
	snprintf(hdr, sizeof(hdr), "%s/%s", f->o.dir, ECFS_HEADER_NAME);
	snprintf(detail, sizeof(detail), "%s; restore a header backup with envcryptfsctl",
		 ecfs_last_error());
	fsck_problem(f,
		     problem_of(PASS_HEADER, hdr, hdr, "header-unusable",
				"both header copies are damaged", detail),
		     NULL);
	report_not_checked(f->rep, "the directory tree and the blobs: no usable header");
	return FSCK_UNCORRECTED;
}

/* The MAC of both copies failed: the header cannot be trusted, but its syntax, the names'
 * encodings and the blob sizes can still be checked. */
static void mac_failed(struct fsck *f)
{
	char hdr[4096];

	snprintf(hdr, sizeof(hdr), "%s/%s", f->o.dir, ECFS_HEADER_NAME);
	fsck_problem(f,
		     problem_of(PASS_HEADER, hdr, hdr, "header-mac",
				"the header does not authenticate", ecfs_last_error()),
		     NULL);
	report_not_checked(f->rep, "names, chunk contents: the header does not authenticate");
}

/* What unlocking with the keys given (r: its result) means for the check. */
static int unlocked(struct fsck *f, int r)
{
	if (r == -EBADMSG) {
		mac_failed(f);
		return 0;
	}
	if (r == -EKEYREJECTED) {
		report_fatal(f, FSCK_OPERROR,
			     "%s: cannot unlock: %s (a damaged key slot or canary looks the same)",
			     f->o.dir, ecfs_last_error());
		return FSCK_OPERROR;
	}
	if (r < 0) {
		report_fatal(f, FSCK_OPERROR, "%s: cannot unlock: %s", f->o.dir,
			     ecfs_error_text(r));
		return FSCK_OPERROR;
	}
	f->have_key = true;
	r = ecfs_crypto_new(f->vol, &f->crypto);
	if (r < 0) {
		report_fatal(f, FSCK_OPERROR, "%s: %s", f->o.dir, ecfs_strerror(r));
		return FSCK_OPERROR;
	}
	return 0;
}

int volume_open_unlock(struct fsck *f)
{
	struct ecfs_creds creds;
	bool want_key =
	    !f->o.no_key && (f->o.keys.prompt || f->o.keys.key_file || f->o.keys.old_key_file ||
			     f->o.keys.passphrase_file || f->o.keys.export_file);
	int r = ecfs_volume_open(f->o.dir, &f->vol);

	if (r < 0)
		return open_failed(f, r);
	snprintf(f->open_note, sizeof(f->open_note), "%s", ecfs_last_error());
	ecfs_volume_get_info(f->vol, &f->opened);
	if (want_key) {
		/* The tool prints its own message (through report's log hook). An old key file
		 * is read only when the key file alone does not open the volume. */
		r = ecfs_tool_unlock_key_file_alone(PROG, f->vol, &f->o.keys, NULL);
		if (r < 0 && ecfs_tool_load_creds(PROG, &f->o.keys, false, &creds) == 0) {
			r = ecfs_volume_unlock(f->vol, creds.cred, creds.n, NULL);
			ecfs_tool_free_creds(&creds);
		} else if (r < 0) {
			r = 1;
		}
		if (r > 0) {
			report_add_exit(f->rep, FSCK_OPERROR);
			return FSCK_OPERROR;
		}
		r = unlocked(f, r);
		if (r != 0)
			return r;
	} else {
		report_not_checked(f->rep, not_verified);
		report_not_checked(f->rep, "symbolic link targets were not verified: no key given");
	}
	ecfs_volume_get_info(f->vol, &f->info);
	f->verify_chunks = f->have_key && ecfs_cipher_is_authenticated(f->info.cipher);
	if (f->have_key && !f->verify_chunks) {
		char why[128];

		snprintf(why, sizeof(why), "chunk contents: %s does not authenticate contents",
			 ecfs_cipher_name(f->info.cipher));
		report_not_checked(f->rep, why);
	}
	return 0;
}
