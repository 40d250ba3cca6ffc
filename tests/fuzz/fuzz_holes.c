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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_holes m, again;
	uint8_t other[ECFS_FILE_ID_SIZE], *out;
	size_t len;
	int r = ecfs_holes_parse(vol, file_id, data, size, &m);

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
