/* SPDX-License-Identifier: MIT */
/* check_header.c - pass 1: the two header copies, and rebuilding a bad one from the good. */
#include "fsck.h"

#include <stdio.h>
#include <string.h>

struct header_finding {
	bool primary; /* about the primary file (else the copy) */
	const char *kind;
	const char *what;
	char detail[600];
};

static const char *state_kind(bool primary, enum ecfs_header_state s)
{
	switch (s) {
	case ECFS_HDR_MISSING:
		return primary ? "header-primary-missing" : "header-copy-missing";
	case ECFS_HDR_STALE:
		return primary ? "header-primary-stale" : "header-copy-stale";
	case ECFS_HDR_UNSUPPORTED:
		return primary ? "header-primary-unsupported" : "header-copy-unsupported";
	default:
		return primary ? "header-primary-damaged" : "header-copy-damaged";
	}
}

static const char *state_what(enum ecfs_header_state s)
{
	switch (s) {
	case ECFS_HDR_MISSING:
		return "missing";
	case ECFS_HDR_STALE:
		return "stale (an older update than the other copy)";
	case ECFS_HDR_UNSUPPORTED:
		return "of an unsupported version";
	default:
		return "damaged";
	}
}

/* The copy in use failed its MAC after unlocking and the other one was used instead. */
static bool mac_swapped(const struct fsck *f)
{
	return f->have_key && f->info.opened_from_copy && !f->opened.opened_from_copy;
}

/* Finds what is wrong with the copies, if anything: one finding, since one rewrite of both
 * copies repairs every case. */
static bool find_problem(const struct fsck *f, struct header_finding *h)
{
	/* Unlocked, the copy not in use has been checked against the header MAC as well. */
	const struct ecfs_volume_info *o = f->have_key ? &f->info : &f->opened;

	memset(h, 0, sizeof(*h));
	if (mac_swapped(f)) {
		h->primary = f->opened.primary_state != ECFS_HDR_STALE;
		h->kind = h->primary ? "header-primary-mac" : "header-copy-mac";
		h->what = "does not authenticate (MAC)";
		snprintf(h->detail, sizeof(h->detail), "the %s was used",
			 h->primary ? "copy" : "older primary");
	} else if (o->opened_from_copy) {
		h->primary = true;
		h->kind = state_kind(true, o->primary_state);
		h->what = state_what(o->primary_state);
		snprintf(h->detail, sizeof(h->detail), "%s",
			 f->open_note[0] ? f->open_note : "the copy was used");
	} else if (o->primary_state != ECFS_HDR_OK) {
		h->primary = true;
		h->kind = state_kind(true, o->primary_state);
		h->what = state_what(o->primary_state);
		snprintf(h->detail, sizeof(h->detail), "the copy (seqid %llu) was used",
			 (unsigned long long)o->seqid);
	} else if (o->copy_state != ECFS_HDR_OK) {
		h->kind = state_kind(false, o->copy_state);
		h->what = state_what(o->copy_state);
		snprintf(h->detail, sizeof(h->detail), "the primary (seqid %llu) is intact",
			 (unsigned long long)o->seqid);
	} else {
		return false;
	}
	if (f->have_key)
		ecfs_volume_header_problem(f->vol, h->detail, sizeof(h->detail));
	return true;
}

void check_header(struct fsck *f)
{
	struct header_finding h;
	char path[4096], what[160];
	struct fix fx;

	if (f->info.format_version == 1 || (!f->have_key && f->opened.format_version == 1))
		report_not_checked(f->rep,
				   "where each object belongs, file sizes and holes: a format-1 "
				   "volume records none ('envcryptfsctl upgrade' converts it)");
	if (!find_problem(f, &h))
		return;
	snprintf(path, sizeof(path), "%s/%s", f->o.dir,
		 h.primary ? ECFS_HEADER_NAME : ECFS_HEADER_COPY_NAME);
	snprintf(what, sizeof(what), "header %s %s", h.primary ? "primary" : "copy", h.what);
	fx = fix_of(FIX_SAFE, "Rewrite both header copies from the good one",
		    "both copies rewritten", fix_header, f->vol);
	fx.needs_key = true;
	fsck_problem(f, problem_of(PASS_HEADER, path, path, h.kind, what, h.detail), &fx);
	ecfs_volume_get_info(f->vol, &f->info);
}
