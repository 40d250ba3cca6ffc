/* SPDX-License-Identifier: MIT */
/*
 * slot_tpm2.c - the TPM2 slot: a random KEK, sealed by a TPM 2.0 (optionally bound to a PCR
 * policy), wraps the DEK with AES key wrap; the slot records the sealed blobs and the PCRs
 * (man/envcryptfs.5, "Key slots"). The library never picks a TPM: the credential names it,
 * and brings the code that talks to it (tpm2.c), so that only tools that unseal link it.
 */
#include "slot.h"
#include "tpm2_blob.h"

#include <stdio.h>
#include <string.h>

#define PRIMARY	 "ecc-p256-srk"
#define PCR_BANK "sha256"
#define KEK_SIZE 32

static int parse_string(json_object *o, const char *key, const char *want)
{
	json_object *f;
	int r = ecfs_json_field(o, "header", key, json_type_string, &f);

	if (r == 0 && strcmp(json_object_get_string(f), want) != 0)
		r = ecfs_fail(-EPROTONOSUPPORT, "TPM2 key slot: %s '%s' is not supported", key,
			      json_object_get_string(f));
	return r;
}

static int parse_blob(json_object *o, const char *key, uint8_t *out, uint16_t *len)
{
	json_object *f;
	int n, r = ecfs_json_field(o, "header", key, json_type_string, &f);

	if (r < 0)
		return r;
	n = ecfs_b64_decode(json_object_get_string(f), (size_t)json_object_get_string_len(f), out,
			    ECFS_TPM2_BLOB_MAX);
	if (n <= 0)
		return ecfs_fail(-EUCLEAN, "header field '%s' is not 1 to %d bytes of base64", key,
				 ECFS_TPM2_BLOB_MAX);
	*len = (uint16_t)n;
	return 0;
}

/* "pcrs": PCR numbers in ascending order, each once (one encoding per set). */
static int parse_pcrs(json_object *o, uint32_t *mask)
{
	json_object *arr, *e;
	int r = ecfs_json_field(o, "header", "pcrs", json_type_array, &arr);
	size_t n = r == 0 ? json_object_array_length(arr) : 0;
	int64_t prev = -1, pcr;

	*mask = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		e = json_object_array_get_idx(arr, i);
		pcr = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
		if (pcr <= prev || pcr > 23)
			return ecfs_fail(-EUCLEAN, "header field 'pcrs' is not a list of PCRs 0 to "
						   "23 in ascending order");
		*mask |= 1u << pcr;
		prev = pcr;
	}
	return r;
}

/* {"tpm2": {"primary", "pcr_bank", "pcrs", "public", "private"}, "wrap": {...}} */
static int parse_fields(json_object *o, struct ecfs_slot *s)
{
	json_object *t;
	int r = ecfs_json_field(o, "header", "tpm2", json_type_object, &t);

	if (r == 0)
		r = parse_string(t, "primary", PRIMARY);
	if (r == 0)
		r = parse_string(t, "pcr_bank", PCR_BANK);
	if (r == 0)
		r = parse_pcrs(t, &s->tpm2.pcrs);
	if (r == 0)
		r = parse_blob(t, "public", s->tpm2.pub, &s->tpm2.pub_len);
	if (r == 0)
		r = parse_blob(t, "private", s->tpm2.priv, &s->tpm2.priv_len);
	if (r == 0)
		r = ecfs_tpm2_blobs_unmarshal(&s->tpm2, NULL, NULL);
	return r == 0 ? ecfs_kek_slot_parse_wrap(o, s) : r;
}

static json_object *blob_string(const uint8_t *p, size_t len)
{
	char buf[4 * (ECFS_TPM2_BLOB_MAX + 2) / 3 + 4];

	ecfs_b64_encode(p, len, buf);
	return json_object_new_string(buf);
}

static json_object *pcr_array(uint32_t mask)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < 24; i++)
		if (mask & (1u << i))
			json_object_array_add(a, json_object_new_int(i));
	return a;
}

static void write_fields(const struct ecfs_slot *s, json_object *o)
{
	json_object *t = json_object_new_object();

	json_object_object_add(t, "primary", json_object_new_string(PRIMARY));
	json_object_object_add(t, "pcr_bank", json_object_new_string(PCR_BANK));
	json_object_object_add(t, "pcrs", pcr_array(s->tpm2.pcrs));
	json_object_object_add(t, "public", blob_string(s->tpm2.pub, s->tpm2.pub_len));
	json_object_object_add(t, "private", blob_string(s->tpm2.priv, s->tpm2.priv_len));
	json_object_object_add(o, "tpm2", t);
	ecfs_kek_slot_write_wrap(s, o);
}

static int validate(const struct ecfs_credential *c)
{
	if (!c->tpm2 || !c->tpm2_device)
		return ecfs_fail(-EINVAL, "a TPM2 slot needs a TPM device");
	if (c->tpm2_pcrs >> 24)
		return ecfs_fail(-EINVAL, "a TPM2 slot binds PCRs 0 to 23 only");
	return 0;
}

/* A fresh random KEK, sealed by the TPM; the DEK wrapped under it. */
static int create(struct ecfs_slot *s, const struct ecfs_credential *c,
		  const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_secret *kek = ecfs_secret_new(KEK_SIZE);
	int r;

	(void)argon2;
	if (!kek)
		return -ENOMEM;
	s->tpm2.pcrs = c->tpm2_pcrs;
	r = ecfs_random(ecfs_secret_data(kek), KEK_SIZE);
	if (r == 0)
		r = c->tpm2->seal(c->tpm2_device, ecfs_secret_data(kek), KEK_SIZE, &s->tpm2);
	if (r == 0)
		r = ecfs_keywrap(ecfs_secret_data(kek), KEK_SIZE, dek, ECFS_DEK_SIZE,
				 s->wrapped_dek);
	ecfs_secret_free(kek);
	return r;
}

static int open_slot(const struct ecfs_slot *s, const struct ecfs_credential *c,
		     uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_secret *kek;
	int r;

	if (!c->tpm2 || !c->tpm2_device)
		return -EKEYREJECTED;
	kek = ecfs_secret_new(KEK_SIZE);
	if (!kek)
		return -ENOMEM;
	/* The TPM said why it did not unseal (unreachable, PCRs changed, cleared): keep it. */
	r = c->tpm2->unseal(c->tpm2_device, &s->tpm2, ecfs_secret_data(kek), KEK_SIZE);
	if (r == 0)
		r = ecfs_keyunwrap(ecfs_secret_data(kek), KEK_SIZE, s->wrapped_dek,
				   ECFS_WRAPPED_DEK_SIZE, dek);
	ecfs_secret_free(kek);
	return r == -EBADMSG ? -EKEYREJECTED : r;
}

/* The PCRs the slot is bound to. */
static void describe(const struct ecfs_slot_info *s, char *buf, size_t len)
{
	char pcrs[80];

	ecfs_tpm2_format_pcrs(s->tpm2_pcrs, pcrs, sizeof(pcrs));
	if (s->tpm2_pcrs)
		snprintf(buf, len, ", PCRs %s (%s)", pcrs, PCR_BANK);
	else
		snprintf(buf, len, ", no PCR policy");
}

static json_object *describe_json(const struct ecfs_slot_info *s, const char **key)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "pcr_bank", json_object_new_string(PCR_BANK));
	json_object_object_add(x, "pcrs", pcr_array(s->tpm2_pcrs));
	*key = "tpm2";
	return x;
}

const struct ecfs_slot_handler ecfs_slot_tpm2 = {
    .type = ECFS_SLOT_TPM2,
    .name = "tpm2",
    .counts_generations = true,
    .parse = parse_fields,
    .write = write_fields,
    .validate = validate,
    .create = create,
    .open = open_slot,
    .describe = describe,
    .describe_json = describe_json,
};
