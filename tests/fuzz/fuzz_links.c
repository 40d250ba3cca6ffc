/* fuzz_links.c - libFuzzer target: format-2 link files (ecfs_links_parse). */
#define FUZZ_NAME "fuzz_links"
#include "fuzz_volume.h"

#include <stdlib.h>
#include <string.h>

/*
 * The input is a link file for the file ID "fuzz file id 16b" on a format-2 volume whose DEK
 * and UUID are pinned, so that seeds with a valid MAC stay valid from run to run. A file that
 * parses must serialize back to the same bytes, and must not parse for another file ID.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_links l, again;
	uint8_t other[ECFS_FILE_ID_SIZE], *out;
	size_t len;
	int r = ecfs_links_parse(vol, file_id, data, size, &l);

	if (r != 0 && r != -EUCLEAN && r != -EBADMSG && r != -EPROTONOSUPPORT)
		die("unexpected result from ecfs_links_parse");
	if (r != 0)
		return 0;
	if (l.count == 0 || l.count > ECFS_LINKS_MAX || ecfs_links_size(l.count) != size)
		die("a parsed link file has an impossible count");
	if (ecfs_links_serialize(vol, file_id, &l, &out, &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		die("a link file does not serialize back to its bytes");
	memcpy(other, file_id, sizeof(other));
	other[0] ^= 1;
	if (ecfs_links_parse(vol, other, data, size, &again) != -EBADMSG)
		die("a link file parses for another file ID");
	free(out);
	ecfs_links_free(&l);
	return 0;
}
