/* SPDX-License-Identifier: MIT */
/* tool_header.c - a header copy that is not right is never passed over in silence: once the
 * volume is unlocked, a read-write tool repairs it from the authenticated copy, a read-only
 * one refuses unless told to go on. */
#include "tool.h"

#include <errno.h>

static int refuse(const char *prog)
{
	ecfs_tool_error(prog, "refusing a volume whose header copies disagree without repairing "
			      "them: use it read-write (or run 'fsck.envcryptfs -p') to rewrite "
			      "both from the authenticated copy, or allow read-only use with "
			      "header_fallback");
	return ECFS_EXIT_DAMAGED;
}

static int repair(const char *prog, struct ecfs_volume *v)
{
	int r = ecfs_volume_repair_header(v);

	if (r < 0) {
		ecfs_tool_error(prog, "cannot repair the header: %s", ecfs_last_error());
		return ecfs_tool_exit_code(r) == ECFS_EXIT_USAGE ? ECFS_EXIT_ERROR
								 : ecfs_tool_exit_code(r);
	}
	ecfs_tool_warn(prog, "rewrote both header copies from the authenticated one");
	return ECFS_EXIT_OK;
}

int ecfs_tool_header_check(const char *prog, struct ecfs_volume *v,
			   enum ecfs_tool_header_policy policy)
{
	char line[512];

	if (policy == ECFS_TOOL_HDR_LATER || !ecfs_volume_header_problem(v, line, sizeof(line)))
		return ECFS_EXIT_OK;
	ecfs_tool_warn(prog, "%s", line);
	switch (policy) {
	case ECFS_TOOL_HDR_REPAIR:
		return repair(prog, v);
	case ECFS_TOOL_HDR_REFUSE:
		return refuse(prog);
	default:
		return ECFS_EXIT_OK;
	}
}
