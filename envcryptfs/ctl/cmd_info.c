/* SPDX-License-Identifier: MIT */
/* cmd_info.c - `info` and `slot list`: what the header says, read without any key. */
#include "ctl.h"

#include <json.h>
#include <string.h>

/* Whether the header in use came from the copy (the primary unusable, or older). */
static bool copy_in_use(const struct ecfs_volume_info *in)
{
	return in->opened_from_copy || in->primary_state == ECFS_HDR_STALE;
}

/* ---- text -------------------------------------------------------------------------------- */

static void print_slot(const struct ctl_args *a, const struct ecfs_slot_info *s)
{
	char when[32], details[1024];

	ecfs_format_time(s->created, when, sizeof(when));
	ecfs_slot_describe(s, details, sizeof(details));
	printf("  slot %d: %s, KEK generation %llu, created %s%s\n", s->index,
	       ecfs_slot_type_name(s->type), (unsigned long long)s->kek_generation, when, details);
	/* Whether the KMS answers is asked of the server, which only a tool can reach. */
	if (s->type == ECFS_SLOT_KMS)
		ctl_info_kms_text(a, s);
}

static void print_slots(const struct ctl_args *a, const struct ecfs_volume_info *in)
{
	printf("key slots: %d of %d in use\n", in->nslots, ECFS_MAX_SLOTS);
	for (int i = 0; i < in->nslots; i++)
		print_slot(a, &in->slots[i]);
}

static void print_info(const struct ctl_args *a, const struct ecfs_volume_info *in)
{
	char when[32];

	ecfs_format_time(in->created, when, sizeof(when));
	printf("UUID: %s\nlabel: %s\nformat version: %u\ncipher: %s\nchunk size: %u\n"
	       "created: %s\nheader sequence: %llu\n"
	       "header primary: %s\nheader copy: %s\nheader in use: %s\n"
	       "header authenticated: no (read without a key; the MAC is checked on unlock)\n",
	       in->uuid_str, in->label, in->format_version, ecfs_cipher_name(in->cipher),
	       in->chunk_size, when, (unsigned long long)in->seqid,
	       ctl_header_state_name(in->primary_state), ctl_header_state_name(in->copy_state),
	       copy_in_use(in) ? "copy" : "primary");
	print_slots(a, in);
}

/* ---- JSON -------------------------------------------------------------------------------- */

static json_object *time_json(int64_t t)
{
	char when[32];

	ecfs_format_time(t, when, sizeof(when));
	return json_object_new_string(when);
}

static json_object *slot_json(const struct ctl_args *a, const struct ecfs_slot_info *s)
{
	json_object *o = json_object_new_object(), *x;
	const char *key;

	json_object_object_add(o, "index", json_object_new_int(s->index));
	json_object_object_add(o, "type", json_object_new_string(ecfs_slot_type_name(s->type)));
	json_object_object_add(o, "kek_generation", json_object_new_uint64(s->kek_generation));
	json_object_object_add(o, "created", time_json(s->created));
	x = ecfs_slot_describe_json(s, &key);
	if (x && s->type == ECFS_SLOT_KMS)
		json_object_object_add(x, "server", ctl_info_kms_json(a, s));
	if (x)
		json_object_object_add(o, key, x);
	return o;
}

static json_object *slots_json(const struct ctl_args *a, const struct ecfs_volume_info *in)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < in->nslots; i++)
		json_object_array_add(arr, slot_json(a, &in->slots[i]));
	return arr;
}

static json_object *info_json(const struct ctl_args *a, const struct ecfs_volume_info *in)
{
	json_object *o = json_object_new_object(), *h = json_object_new_object();

	json_object_object_add(o, "uuid", json_object_new_string(in->uuid_str));
	json_object_object_add(o, "label", json_object_new_string(in->label));
	json_object_object_add(o, "format_version", json_object_new_int64(in->format_version));
	json_object_object_add(o, "cipher", json_object_new_string(ecfs_cipher_name(in->cipher)));
	json_object_object_add(o, "chunk_size", json_object_new_int64(in->chunk_size));
	json_object_object_add(o, "created", time_json(in->created));
	json_object_object_add(o, "seqid", json_object_new_uint64(in->seqid));
	json_object_object_add(h, "primary",
			       json_object_new_string(ctl_header_state_name(in->primary_state)));
	json_object_object_add(h, "copy",
			       json_object_new_string(ctl_header_state_name(in->copy_state)));
	json_object_object_add(h, "copy_used", json_object_new_boolean(copy_in_use(in)));
	json_object_object_add(h, "authenticated", json_object_new_boolean(false));
	json_object_object_add(o, "header", h);
	json_object_object_add(o, "slots", slots_json(a, in));
	return o;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* ---- the commands ------------------------------------------------------------------------ */

static int read_info(const char *dir, struct ecfs_volume_info *in)
{
	struct ecfs_volume *v;
	int r = ctl_open_volume(dir, &v);

	if (r != ECFS_EXIT_OK)
		return r;
	ecfs_volume_get_info(v, in);
	ecfs_volume_close(v);
	return ECFS_EXIT_OK;
}

int cmd_info(const struct ctl_args *a)
{
	struct ecfs_volume_info in;
	int r = read_info(a->pos[0], &in);

	if (r != ECFS_EXIT_OK)
		return r;
	if (a->json)
		print_json(info_json(a, &in));
	else
		print_info(a, &in);
	return ECFS_EXIT_OK;
}

int cmd_slot_list(const struct ctl_args *a)
{
	struct ecfs_volume_info in;
	int r = read_info(a->pos[0], &in);

	if (r != ECFS_EXIT_OK)
		return r;
	if (a->json)
		print_json(slots_json(a, &in));
	else
		print_slots(a, &in);
	return ECFS_EXIT_OK;
}
