/* test_tpm2.c - the TPM2 key slot with a stand-in TPM: round trips through the header, the
 * TPM's refusals passed on, blobs checked when the header is read, and the PCR lists. The
 * real TPM (swtpm) is exercised by tests/integration/t80*. */
#include <criterion/criterion.h>

#include "envcryptfs.h"
#include "tmpdir_helpers.h"
#include "tpm2_blob.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static char tmp[64];
static char vol[256];

/* ---- a stand-in TPM: the "sealed" key sits in the private blob, readable --------------- */

static int fake_result; /* what unseal returns besides the key */

static int fake_seal(const char *device, const uint8_t *secret, size_t len,
		     struct ecfs_tpm2_slot *s)
{
	TPM2B_PUBLIC pub = {0};
	TPM2B_PRIVATE priv = {0};

	cr_assert_str_eq(device, "fake:tpm");
	pub.publicArea.type = TPM2_ALG_KEYEDHASH;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	if (s->pcrs)
		pub.publicArea.authPolicy.size = 32;
	else
		pub.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH;
	priv.size = (UINT16)len;
	memcpy(priv.buffer, secret, len);
	return ecfs_tpm2_blobs_marshal(&pub, &priv, s);
}

static int fake_unseal(const char *device, const struct ecfs_tpm2_slot *s, uint8_t *secret,
		       size_t len)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	int r = ecfs_tpm2_blobs_unmarshal(s, &pub, &priv);

	(void)device;
	if (r < 0)
		return r;
	if (fake_result)
		return ecfs_fail(fake_result, "TPM2 policy check failed: stand-in");
	cr_assert_eq(priv.size, len);
	memcpy(secret, priv.buffer, len);
	return 0;
}

static const struct ecfs_tpm2_ops fake_ops = {.seal = fake_seal, .unseal = fake_unseal};

static struct ecfs_credential tpm_cred(uint32_t pcrs)
{
	return (struct ecfs_credential){.type = ECFS_SLOT_TPM2,
					.origin = "the TPM",
					.tpm2 = &fake_ops,
					.tpm2_device = "fake:tpm",
					.tpm2_pcrs = pcrs};
}

/* ---- fixture --------------------------------------------------------------------------- */

static void setup(void)
{
	tmpdir_make(tmp, sizeof(tmp), "tpm2");
	snprintf(vol, sizeof(vol), "%s/vol", tmp);
	fake_result = 0;
}

static void teardown(void)
{
	tmpdir_remove(tmp);
}

static void make_tpm_volume(uint32_t pcrs)
{
	struct ecfs_create_params p = {.cipher = ECFS_CIPHER_AES256_GCM, .chunk_size = 4096};
	struct ecfs_credential c = tpm_cred(pcrs);
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_create(vol, &p, &c, 1, &v);

	cr_assert_eq(r, 0, "create: %d (%s)", r, ecfs_last_error());
	ecfs_volume_close(v);
}

static int unlock_tpm(void)
{
	struct ecfs_credential c = tpm_cred(0);
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_open(vol, &v);

	if (r < 0)
		return r;
	r = ecfs_volume_unlock(v, &c, 1, NULL);
	ecfs_volume_close(v);
	return r;
}

TestSuite(tpm2, .init = setup, .fini = teardown);

Test(tpm2, round_trip_and_info)
{
	struct ecfs_volume *v = NULL;
	struct ecfs_volume_info in;
	char text[128];

	make_tpm_volume((1u << 0) | (1u << 7));
	cr_assert_eq(unlock_tpm(), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_open(vol, &v), 0);
	ecfs_volume_get_info(v, &in);
	cr_assert_eq(in.nslots, 1);
	cr_assert_eq(in.slots[0].type, ECFS_SLOT_TPM2);
	cr_assert_eq(in.slots[0].tpm2_pcrs, (1u << 0) | (1u << 7));
	ecfs_slot_describe(&in.slots[0], text, sizeof(text));
	cr_assert_str_eq(text, ", PCRs 0,7 (sha256)");
	ecfs_volume_close(v);
}

Test(tpm2, refusal_is_passed_on)
{
	make_tpm_volume(1u << 7);
	fake_result = -EKEYEXPIRED;
	cr_assert_eq(unlock_tpm(), -EKEYEXPIRED);
	cr_assert(strstr(ecfs_last_error(), "TPM2 policy check failed"), "%s", ecfs_last_error());
	fake_result = -EHOSTUNREACH;
	cr_assert_eq(unlock_tpm(), -EHOSTUNREACH);
}

Test(tpm2, no_tpm_in_credential_is_wrong_key)
{
	struct ecfs_credential c = tpm_cred(0);
	struct ecfs_volume *v = NULL;

	make_tpm_volume(0);
	c.tpm2 = NULL;
	cr_assert_eq(ecfs_volume_open(vol, &v), 0);
	cr_assert_eq(ecfs_volume_unlock(v, &c, 1, NULL), -EKEYREJECTED);
	ecfs_volume_close(v);
}

Test(tpm2, blobs_checked)
{
	struct ecfs_tpm2_slot s = {0};
	uint8_t key[32] = {1};

	cr_assert_eq(fake_seal("fake:tpm", key, sizeof(key), &s), 0);
	cr_assert_eq(ecfs_tpm2_blobs_unmarshal(&s, NULL, NULL), 0);
	s.pcrs = 1; /* the slot lists PCRs, the object has no policy */
	cr_assert_eq(ecfs_tpm2_blobs_unmarshal(&s, NULL, NULL), -EUCLEAN);
	s.pcrs = 0;
	s.pub_len--; /* cut short */
	cr_assert_eq(ecfs_tpm2_blobs_unmarshal(&s, NULL, NULL), -EUCLEAN);
	s.pub_len += 2; /* a byte too many */
	cr_assert_eq(ecfs_tpm2_blobs_unmarshal(&s, NULL, NULL), -EUCLEAN);
	s.pub_len--;
	s.priv_len = ECFS_TPM2_BLOB_MAX + 1;
	cr_assert_eq(ecfs_tpm2_blobs_unmarshal(&s, NULL, NULL), -EUCLEAN);
}

Test(tpm2, pcr_lists)
{
	static const struct {
		const char *text;
		int rc;
		uint32_t mask;
	} cases[] = {
	    {"7", 0, 1u << 7},	 {"0,7", 0, 0x81},    {"0-3,7", 0, 0x8f},
	    {"23", 0, 1u << 23}, {"7,7", 0, 1u << 7}, {"24", -EINVAL, 0},
	    {"", -EINVAL, 0},	 {"7,", -EINVAL, 0},  {"3-1", -EINVAL, 0},
	    {"-1", -EINVAL, 0},	 {" 7", -EINVAL, 0},  {"99999999999999999999", -EINVAL, 0},
	};
	char back[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t m = 0;

		cr_assert_eq(ecfs_tpm2_parse_pcrs(cases[i].text, &m), cases[i].rc, "'%s'",
			     cases[i].text);
		if (cases[i].rc == 0)
			cr_assert_eq(m, cases[i].mask, "'%s'", cases[i].text);
	}
	ecfs_tpm2_format_pcrs(0x81, back, sizeof(back));
	cr_assert_str_eq(back, "0,7");
}
