/* SPDX-License-Identifier: MIT */
/*
 * kvstore.c - the secrets of envcryptfs-kmsd's KV version 2 engine: kept in locked memory
 * while unsealed, and saved with the transit keys in the sealed store file (keystore.c), so
 * they are encrypted at rest under the same store key.
 */
#include "kmsd_store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + n;
}

const struct kmsd_kv_secret *kmsd_kv_find(const struct kmsd_store *s, const char *path)
{
	for (size_t i = 0; i < s->nsecrets; i++)
		if (strcmp(s->secrets[i].path, path) == 0)
			return &s->secrets[i];
	return NULL;
}

const struct kmsd_kv_version *kmsd_kv_version(const struct kmsd_kv_secret *k, uint32_t v)
{
	uint32_t oldest = k->current - k->nkept + 1;

	if (v < oldest || v > k->current)
		return NULL;
	return &k->kept[v - oldest];
}

static void free_secret(struct kmsd_kv_secret *k)
{
	for (uint32_t i = 0; i < k->nkept; i++)
		ecfs_secret_free(k->kept[i].data);
	k->nkept = 0;
}

void kmsd_kv_free(struct kmsd_kv_secret *secrets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_secret(&secrets[i]);
	free(secrets);
}

/* A new, empty secret at the end of the array (not counted until saved). */
static int append(struct kmsd_store *s, const char *path, struct kmsd_kv_secret **out)
{
	struct kmsd_kv_secret *all, *k;

	if (s->nsecrets >= KMSD_KV_MAX_SECRETS)
		return ecfs_fail(-EOVERFLOW, "the store holds %u secrets, the most allowed",
				 KMSD_KV_MAX_SECRETS);
	all = realloc(s->secrets, (s->nsecrets + 1) * sizeof(*all));
	if (!all)
		return ecfs_fail(-ENOMEM, "out of memory");
	s->secrets = all;
	k = &all[s->nsecrets];
	memset(k, 0, sizeof(*k));
	memcpy(k->path, path, strlen(path) + 1);
	*out = k;
	return 0;
}

int kmsd_kv_put(struct kmsd_store *s, const char *path, const char *data, size_t len, bool has_cas,
		uint64_t cas, uint32_t *version)
{
	struct kmsd_kv_secret *k = (struct kmsd_kv_secret *)kmsd_kv_find(s, path), old;
	struct kmsd_kv_version nv = {.created = (int64_t)time(NULL)};
	bool fresh = !k;
	int r;

	if (!kms_kv_path_valid(path, strlen(path)) || len > KMS_KV_DATA_MAX)
		return ecfs_fail(-EINVAL, "invalid secret path or data");
	if (has_cas && cas != (k ? k->current : 0))
		return ecfs_fail(-EEXIST, "check-and-set parameter did not match the current "
					  "version");
	if (k && k->current == UINT32_MAX)
		return ecfs_fail(-EOVERFLOW, "secret '%s' has no version number left", path);
	if (fresh && (r = append(s, path, &k)) < 0)
		return r;
	nv.data = ecfs_secret_new(len ? len : 1);
	if (!nv.data)
		return ecfs_fail(-ENOMEM, "out of memory");
	memcpy(ecfs_secret_data(nv.data), data, len);
	ecfs_secret_truncate(nv.data, len);
	old = *k;
	if (k->nkept == KMSD_KV_MAX_VERSIONS)
		memmove(&k->kept[0], &k->kept[1], (KMSD_KV_MAX_VERSIONS - 1) * sizeof(nv));
	else
		k->nkept++;
	k->kept[k->nkept - 1] = nv;
	k->current++;
	s->nsecrets += fresh;
	r = kmsd_store_save(s);
	if (r < 0) {
		*k = old;
		s->nsecrets -= fresh;
		ecfs_secret_free(nv.data);
		return r;
	}
	if (old.nkept == KMSD_KV_MAX_VERSIONS)
		ecfs_secret_free(old.kept[0].data);
	*version = k->current;
	return 0;
}

/* ---- the store file's section ------------------------------------------------------------ */

size_t kmsd_kv_encoded_size(const struct kmsd_store *s)
{
	size_t n = 4;

	for (size_t i = 0; i < s->nsecrets; i++) {
		const struct kmsd_kv_secret *k = &s->secrets[i];

		n += 2 + strlen(k->path) + 4 + 1;
		for (uint32_t v = 0; v < k->nkept; v++)
			n += 8 + 4 + ecfs_secret_len(k->kept[v].data);
	}
	return n;
}

uint8_t *kmsd_kv_encode(const struct kmsd_store *s, uint8_t *p)
{
	p = put_le(p, s->nsecrets, 4);
	for (size_t i = 0; i < s->nsecrets; i++) {
		const struct kmsd_kv_secret *k = &s->secrets[i];
		size_t pl = strlen(k->path);

		p = put_le(p, pl, 2);
		memcpy(p, k->path, pl);
		p = put_le(p + pl, k->current, 4);
		*p++ = (uint8_t)k->nkept;
		for (uint32_t v = 0; v < k->nkept; v++) {
			size_t dl = ecfs_secret_len(k->kept[v].data);

			p = put_le(p, (uint64_t)k->kept[v].created, 8);
			p = put_le(p, dl, 4);
			memcpy(p, ecfs_secret_data(k->kept[v].data), dl);
			p += dl;
		}
	}
	return p;
}

/* One version's data: a JSON object of at most KMS_KV_DATA_MAX bytes. */
static int decode_version(const uint8_t **p, size_t *left, struct kmsd_kv_version *v)
{
	struct kms_json obj;
	size_t dl;

	if (*left < 12 || (dl = get_le(*p + 8, 4)) > KMS_KV_DATA_MAX || *left - 12 < dl)
		return -EUCLEAN;
	v->created = (int64_t)get_le(*p, 8);
	if (kms_json_parse((const char *)*p + 12, dl, &obj) < 0 || obj.type != KMS_JSON_OBJECT)
		return -EUCLEAN;
	v->data = ecfs_secret_new(dl ? dl : 1);
	if (!v->data)
		return -ENOMEM;
	memcpy(ecfs_secret_data(v->data), *p + 12, dl);
	ecfs_secret_truncate(v->data, dl);
	*p += 12 + dl;
	*left -= 12 + dl;
	return 0;
}

static int decode_secret(const uint8_t **p, size_t *left, struct kmsd_kv_secret *k)
{
	size_t pl;
	int r = 0;

	if (*left < 2 || (pl = get_le(*p, 2)) > KMS_KV_PATH_MAX || *left - 2 < pl + 5)
		return -EUCLEAN;
	memcpy(k->path, *p + 2, pl);
	k->path[pl] = '\0';
	k->current = (uint32_t)get_le(*p + 2 + pl, 4);
	k->nkept = (*p)[2 + pl + 4];
	*p += 2 + pl + 5;
	*left -= 2 + pl + 5;
	if (!kms_kv_path_valid(k->path, pl) || k->nkept < 1 || k->nkept > KMSD_KV_MAX_VERSIONS ||
	    k->current < k->nkept) {
		k->nkept = 0;
		return -EUCLEAN;
	}
	for (uint32_t v = 0; v < k->nkept && r == 0; v++)
		if ((r = decode_version(p, left, &k->kept[v])) < 0)
			k->nkept = v; /* what was decoded is freed */
	return r;
}

int kmsd_kv_decode(const uint8_t *p, size_t len, struct kmsd_kv_secret **out, size_t *n)
{
	struct kmsd_kv_secret *all;
	size_t count, i;
	int r = 0;

	/* Each secret takes at least 2 + 1 + 5 + 12 + 2 ("{}") bytes. */
	if (len < 4 || (count = get_le(p, 4)) > KMSD_KV_MAX_SECRETS || count > (len - 4) / 22)
		return -EUCLEAN;
	all = calloc(count ? count : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	p += 4;
	len -= 4;
	for (i = 0; i < count && r == 0; i++) {
		r = decode_secret(&p, &len, &all[i]);
		for (size_t j = 0; j < i && r == 0; j++)
			if (strcmp(all[j].path, all[i].path) == 0)
				r = -EUCLEAN;
	}
	if (r == 0 && len != 0)
		r = -EUCLEAN;
	if (r < 0) {
		kmsd_kv_free(all, count);
		return r;
	}
	*out = all;
	*n = count;
	return 0;
}
