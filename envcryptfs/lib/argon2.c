/* SPDX-License-Identifier: MIT */
/*
 * argon2.c - Argon2id costs, for passphrase slots and export files alike: the limits a stored
 * cost must keep, their JSON form, and calibration when the caller names none.
 */
#include "slot.h"

#include <time.h>

int ecfs_argon2_from_json(json_object *kdf, const char *doc, struct ecfs_argon2_params *p)
{
	int r =
	    ecfs_json_u32(kdf, doc, "time", ECFS_ARGON2_TIME_MIN, ECFS_ARGON2_TIME_MAX, &p->t_cost);

	if (r == 0)
		r = ecfs_json_u32(kdf, doc, "memory", ECFS_ARGON2_MEMORY_MIN_KIB,
				  ECFS_ARGON2_MEMORY_MAX_KIB, &p->m_cost_kib);
	if (r == 0)
		r = ecfs_json_u32(kdf, doc, "parallel", ECFS_ARGON2_PARALLEL_MIN,
				  ECFS_ARGON2_PARALLEL_MAX, &p->parallelism);
	return r;
}

void ecfs_argon2_to_json(const struct ecfs_argon2_params *p, json_object *kdf)
{
	json_object_object_add(kdf, "time", json_object_new_int64(p->t_cost));
	json_object_object_add(kdf, "memory", json_object_new_int64(p->m_cost_kib));
	json_object_object_add(kdf, "parallel", json_object_new_int64(p->parallelism));
}

int ecfs_argon2_or_calibrate(const struct ecfs_argon2_params *in, struct ecfs_argon2_params *out)
{
	if (in && in->t_cost && in->m_cost_kib && in->parallelism) {
		*out = *in;
		return 0;
	}
	return ecfs_argon2_calibrate(ECFS_ARGON2_CALIBRATE_MS, ECFS_ARGON2_CALIBRATE_MIN_KIB, out);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ecfs_argon2_calibrate(uint32_t target_ms, uint32_t min_kib, struct ecfs_argon2_params *out)
{
	struct ecfs_argon2_params p = {1, min_kib, 4};
	uint8_t salt[ECFS_SALT_SIZE] = {0}, key[32];
	uint64_t start, took;
	int r;

	ecfs_clear_error();
	/* Time one pass at the memory floor, then scale passes to the target (LUKS2 style:
	 * memory hardness first, time second). */
	start = now_ms();
	r = ecfs_argon2id((const uint8_t *)"calibrate", 9, salt, sizeof(salt), &p, key,
			  sizeof(key));
	took = now_ms() - start;
	ecfs_wipe(key, sizeof(key));
	if (r < 0)
		return r;
	if (took == 0)
		took = 1;
	p.t_cost = (uint32_t)(target_ms / took);
	if (p.t_cost < ECFS_ARGON2_FLOOR_TIME)
		p.t_cost = ECFS_ARGON2_FLOOR_TIME;
	if (p.t_cost > ECFS_ARGON2_CALIBRATE_TIME_MAX)
		p.t_cost = ECFS_ARGON2_CALIBRATE_TIME_MAX;
	*out = p;
	return 0;
}
