/* fuzz_holes.c - libFuzzer target: format-2 holes maps (ecfs_holes_parse). */
#define FUZZ_NAME "fuzz_holes"
#include "fuzz_volume.h"

#include <stdlib.h>
#include <string.h>

/*
 * The input is a holes map for the file ID "fuzz file id 16b" on a format-2 volume whose DEK
 * and UUID are pinned, so that seeds with a valid MAC stay valid from run to run. A map that
 * parses must hold sorted ranges apart from each other, serialize back to the same bytes, and
 * not parse for another file ID; its ranges must survive being added to an empty map.
 *
 * An input starting with 'O' (no map does) is instead a sequence of operations, 5 bytes each:
 * op (low 2 bits: add to a map, remove from it, add unjoined to a written set, subtract that
 * set from the map), first chunk (2 bytes, below 4096), length (2 bytes, 1 to 256). After
 * each, both sets must be sorted, apart, within ECFS_HOLES_MAX ranges, and list exactly the
 * chunks a bitmap of the same operations holds.
 */

static struct ecfs_volume *vol;
static const uint8_t file_id[ECFS_FILE_ID_SIZE] = "fuzz file id 16b";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vol = pinned_volume(ECFS_CIPHER_AES256_GCM);
	/* Format 2, for the bind subkey: derived again from the pinned DEK. */
	vol->hdr.version = 2;
	if (ecfs_keys_derive((struct ecfs_keys *)ecfs_secret_data(vol->key_secret), &vol->hdr))
		die("cannot derive the format-2 keys");
	return 0;
}

static void check_ranges(const struct ecfs_holes *m)
{
	struct ecfs_holes again = {0};

	for (uint32_t i = 0; i < m->count; i++) {
		if (m->r[i].first >= m->r[i].end || (i && m->r[i].first <= m->r[i - 1].end))
			die("a parsed holes map has ranges out of order");
		if (!ecfs_holes_contains(m, m->r[i].first) ||
		    !ecfs_holes_contains(m, m->r[i].end - 1) || ecfs_holes_contains(m, m->r[i].end))
			die("a holes map does not contain its own ranges");
		if (ecfs_holes_add(&again, m->r[i].first, m->r[i].end) != 0)
			die("cannot add a parsed range");
	}
	if (again.count != m->count ||
	    (m->count && memcmp(again.r, m->r, m->count * sizeof(*m->r)) != 0))
		die("the ranges of a holes map do not add up to the same map");
	ecfs_holes_free(&again);
}

#define OPS_CHUNKS (4096 + 256)

static void check_set(const struct ecfs_holes *m, const bool *model)
{
	if (m->count > ECFS_HOLES_MAX)
		die("a holes set grew past ECFS_HOLES_MAX ranges");
	for (uint32_t i = 0; i < m->count; i++)
		if (m->r[i].first >= m->r[i].end || (i && m->r[i].first <= m->r[i - 1].end))
			die("a holes set has ranges out of order");
	for (uint64_t c = 0; c < OPS_CHUNKS; c++) {
		bool in = ecfs_holes_contains(m, c);

		if (model[c] && !in)
			die("a holes set lost a chunk it must list");
		if (!model[c] && in)
			die("a holes set lists a chunk it must not");
	}
}

static void run_ops(const uint8_t *data, size_t size)
{
	static bool in_map[OPS_CHUNKS], in_set[OPS_CHUNKS];
	struct ecfs_holes m = {0}, s = {0};

	memset(in_map, 0, sizeof(in_map));
	memset(in_set, 0, sizeof(in_set));
	for (size_t at = 1; at + 5 <= size; at += 5) {
		uint64_t first = ((uint64_t)data[at + 1] << 8 | data[at + 2]) % 4096;
		uint64_t end = first + 1 + ((uint64_t)data[at + 3] << 8 | data[at + 4]) % 256;
		int r = 0;

		switch (data[at] & 3) {
		case 0:
			r = ecfs_holes_add(&m, first, end);
			memset(in_map + first, 1, end - first);
			break;
		case 1:
			r = ecfs_holes_remove(&m, first, end);
			memset(in_map + first, 0, end - first);
			break;
		case 2:
			r = ecfs_holes_add_unjoined(&s, first, end);
			if (r == 0)
				memset(in_set + first, 1, end - first);
			r = r == 1 ? 0 : r;
			break;
		default:
			r = ecfs_holes_subtract(&m, &s);
			for (size_t c = 0; c < OPS_CHUNKS; c++)
				in_map[c] = in_map[c] && !in_set[c];
		}
		if (r != 0)
			die("a holes set operation failed");
		check_set(&m, in_map);
		check_set(&s, in_set);
	}
	ecfs_holes_free(&m);
	ecfs_holes_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_holes m, again;
	uint8_t other[ECFS_FILE_ID_SIZE], *out;
	size_t len;
	int r;

	if (size > 0 && data[0] == 'O') {
		run_ops(data, size);
		return 0;
	}
	r = ecfs_holes_parse(vol, file_id, data, size, &m);
	if (r != 0 && r != -EUCLEAN && r != -EBADMSG && r != -EPROTONOSUPPORT)
		die("unexpected result from ecfs_holes_parse");
	if (r != 0)
		return 0;
	if (m.count > ECFS_HOLES_MAX || ecfs_holes_size(m.count) != size)
		die("a parsed holes map has an impossible count");
	check_ranges(&m);
	if (ecfs_holes_serialize(vol, file_id, &m, &out, &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		die("a holes map does not serialize back to its bytes");
	memcpy(other, file_id, sizeof(other));
	other[0] ^= 1;
	if (ecfs_holes_parse(vol, other, data, size, &again) != -EBADMSG)
		die("a holes map parses for another file ID");
	free(out);
	ecfs_holes_free(&m);
	return 0;
}
