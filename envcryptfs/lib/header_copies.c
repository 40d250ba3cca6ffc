/* SPDX-License-Identifier: MIT */
/*
 * header_copies.c - what is wrong with a header copy, said in one line. Before unlocking a
 * copy is judged by its structure and checksum only, which anyone can recompute; once
 * unlocked, the copy not in use must also pass the header MAC, so that a copy changed
 * without the key is noticed and repaired rather than silently left behind.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

bool ecfs_header_copy_in_use(const struct ecfs_volume *v)
{
	return v->from_copy || v->primary_state == ECFS_HDR_STALE;
}

void ecfs_header_judge_other(struct ecfs_volume *v)
{
	bool copy_in_use = ecfs_header_copy_in_use(v);
	enum ecfs_header_state *st = copy_in_use ? &v->primary_state : &v->copy_state;
	char *why = copy_in_use ? v->primary_why : v->copy_why;
	size_t whylen = copy_in_use ? sizeof(v->primary_why) : sizeof(v->copy_why);

	if (!v->other_raw || !v->keys)
		return; /* missing or unparsable: judged when opened */
	if (ecfs_header_verify_mac(v->other_raw, v->other_raw_len, v->keys->header_mac) < 0) {
		*st = ECFS_HDR_DAMAGED;
		snprintf(why, whylen, "it fails the header MAC: changed without the volume key");
	}
	ecfs_clear_error();
}

static const char *state_word(enum ecfs_header_state s)
{
	static const char *const words[] = {"intact", "missing", "damaged", "stale",
					    "of an unsupported version"};

	return (unsigned)s < sizeof(words) / sizeof(words[0]) ? words[s] : "unusable";
}

bool ecfs_volume_header_problem(const struct ecfs_volume *v, char *buf, size_t len)
{
	bool copy_in_use = ecfs_header_copy_in_use(v);
	enum ecfs_header_state bad = copy_in_use ? v->primary_state : v->copy_state;
	const char *why = copy_in_use ? v->primary_why : v->copy_why;

	if (bad == ECFS_HDR_OK)
		return false;
	snprintf(buf, len, "header file '%s' is %s (%s); using '%s'%s",
		 copy_in_use ? ECFS_HEADER_NAME : ECFS_HEADER_COPY_NAME, state_word(bad),
		 *why ? why : "no detail", copy_in_use ? ECFS_HEADER_COPY_NAME : ECFS_HEADER_NAME,
		 v->keys ? ", which authenticates" : " (not yet authenticated: no key)");
	return true;
}
