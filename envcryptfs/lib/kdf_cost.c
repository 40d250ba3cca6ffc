/* SPDX-License-Identifier: MIT */
/*
 * kdf_cost.c - the floor a new Argon2id cost must reach, and the cap that a cost read from a
 * header or an export file (which anyone who can write it may set) must not pass before it is
 * spent: an attacker's 16 GiB memory cost must not take the machine's memory or an hour.
 */
#include "internal.h"

#include <stdio.h>
#include <unistd.h>

/* Half the physical memory, as cryptsetup limits its own Argon2 memory; 0 when unknown. */
static uint64_t half_ram_kib(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)size / 1024 / 2;
}

uint32_t ecfs_argon2_memory_cap_kib(void)
{
	uint64_t half = half_ram_kib();

	return half && half < ECFS_ARGON2_CAP_MEMORY_KIB ? (uint32_t)half
							 : ECFS_ARGON2_CAP_MEMORY_KIB;
}

int ecfs_argon2_check_cap(const struct ecfs_argon2_params *p)
{
	uint32_t mem_cap = ecfs_argon2_memory_cap_kib();

	if (p->m_cost_kib > mem_cap)
		return ecfs_fail(-E2BIG,
				 "Argon2id memory cost of %u KiB is above the cap of %u KiB "
				 "(4 GiB, or half of this machine's memory when less)",
				 p->m_cost_kib, mem_cap);
	if (p->t_cost > ECFS_ARGON2_CAP_TIME)
		return ecfs_fail(-E2BIG, "Argon2id time cost of %u is above the cap of %u",
				 p->t_cost, ECFS_ARGON2_CAP_TIME);
	if ((uint64_t)p->t_cost * p->m_cost_kib > ECFS_ARGON2_CAP_WORK_KIB)
		return ecfs_fail(-E2BIG,
				 "Argon2id work (time %u x memory %u KiB) is above the cap of "
				 "%llu KiB passes",
				 p->t_cost, p->m_cost_kib,
				 (unsigned long long)ECFS_ARGON2_CAP_WORK_KIB);
	return 0;
}

int ecfs_argon2_check_floor(const struct ecfs_argon2_params *p)
{
	if (p->m_cost_kib < ECFS_ARGON2_FLOOR_MEMORY_KIB || p->t_cost < ECFS_ARGON2_FLOOR_TIME)
		return ecfs_fail(-EINVAL,
				 "Argon2id cost time %u, memory %u KiB is below the floor of time "
				 "%u and memory %u KiB",
				 p->t_cost, p->m_cost_kib, ECFS_ARGON2_FLOOR_TIME,
				 ECFS_ARGON2_FLOOR_MEMORY_KIB);
	return 0;
}
