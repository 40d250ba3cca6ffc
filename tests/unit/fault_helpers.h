/* SPDX-License-Identifier: MIT */
/* fault_helpers.h - tests that inject faults (ECFS_FAULT_AFTER) skip in builds without them. */
#ifndef ECFS_FAULT_HELPERS_H
#define ECFS_FAULT_HELPERS_H

#include <criterion/criterion.h>

/* The hooks exist in test builds only (make FAULT_INJECTION=1, the default with SANITIZE=1). */
#ifdef ECFS_FAULT_INJECTION
#define NEED_FAULT_INJECTION() ((void)0)
#else
#define NEED_FAULT_INJECTION() cr_skip_test("built without fault injection")
#endif

#endif
