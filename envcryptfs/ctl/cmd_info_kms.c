/* SPDX-License-Identifier: MIT */
/* cmd_info_kms.c - what `info` shows of a KMS slot's server: whether it answers, and the key's
 * latest version. A KMS that is down is reported, never an error. */
#include "ctl.h"

#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

struct kms_answer {
	bool checked; /* the KMS was asked, or refused to be */
	bool refused; /* not the configured KMS: not contacted */
	int health;   /* 0 reachable, -EAGAIN sealed, else unreachable (or the client refused) */
	int key;      /* 0 when the key was read */
	uint64_t latest, min_dec;
	char why[600]; /* what went wrong, first failure */
};

static bool have_token(const struct ctl_args *a)
{
	const char *env = getenv("VAULT_TOKEN");

	return ecfs_kms_opt(&a->kms, ECFS_KMS_TOKEN_FILE) || ecfs_kms_opt(&a->kms, ECFS_KMS_ROLE) ||
	       (env && *env);
}

static void note(struct kms_answer *ans, int err)
{
	const char *cause = ecfs_tool_kms_cause(err), *msg = ecfs_last_error();

	if (ans->why[0])
		return;
	if (cause && !strcasestr(msg, cause))
		snprintf(ans->why, sizeof(ans->why), "%s (%s)", cause, msg);
	else
		snprintf(ans->why, sizeof(ans->why), "%s", ecfs_error_text(err));
}

/* Asks the KMS of slot s, when it is the configured one (a header is read without a key: its
 * URL is never trusted). Without a token, only its health: the health endpoint needs none,
 * and a Kubernetes role (never used for it) lets the client start without one. */
static void ask(const struct ctl_args *a, const struct ecfs_slot_info *s, struct kms_answer *ans)
{
	struct ecfs_kms_opts o = a->kms;
	struct ecfs_kms *k = NULL;
	bool token = have_token(a);

	memset(ans, 0, sizeof(*ans));
	if (!a->kms_check && !token)
		return;
	ans->checked = true;
	if (ecfs_tool_kms_allowed(&a->kms, &s->kms) < 0) {
		ans->refused = true;
		snprintf(ans->why, sizeof(ans->why), "%s", ecfs_last_error());
		return;
	}
	if (!token)
		o.v[ECFS_KMS_ROLE] = "envcryptfsctl-health-only";
	ans->health = ecfs_tool_kms_new(&o, &s->kms, true, &k);
	if (ans->health == 0)
		ans->health = ecfs_kms_health(k);
	if (ans->health < 0)
		note(ans, ans->health);
	ans->key = -ENOKEY;
	if (ans->health == 0 && token) {
		ans->key = ecfs_kms_key_info(k, &ans->latest, &ans->min_dec);
		if (ans->key < 0)
			note(ans, ans->key);
	}
	ecfs_kms_free(k);
}

static const char *health_word(const struct kms_answer *ans)
{
	if (ans->refused)
		return "not contacted";
	return ans->health == 0 ? "reachable" : ans->health == -EAGAIN ? "sealed" : "unreachable";
}

void ctl_info_kms_text(const struct ctl_args *a, const struct ecfs_slot_info *s)
{
	struct kms_answer ans;

	ask(a, s, &ans);
	if (!ans.checked)
		return;
	if (ans.refused || ans.health < 0)
		printf("    KMS server: %s: %s\n", health_word(&ans), ans.why);
	else if (ans.key < 0 && !ans.why[0])
		printf("    KMS server: reachable (no token: key version not read)\n");
	else if (ans.key < 0)
		printf("    KMS server: reachable; key '%s': %s\n", s->kms.key, ans.why);
	else
		printf("    KMS server: reachable; key '%s' latest version %llu, min decryption "
		       "version %llu%s\n",
		       s->kms.key, (unsigned long long)ans.latest, (unsigned long long)ans.min_dec,
		       ans.latest > s->kms.key_version ? " (rewrap: envcryptfsctl rotate)" : "");
}

json_object *ctl_info_kms_json(const struct ctl_args *a, const struct ecfs_slot_info *s)
{
	struct kms_answer ans;
	json_object *o;

	ask(a, s, &ans);
	if (!ans.checked)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(health_word(&ans)));
	json_object_object_add(o, "error", ans.why[0] ? json_object_new_string(ans.why) : NULL);
	if (ans.key == 0) {
		json_object_object_add(o, "latest_version", json_object_new_uint64(ans.latest));
		json_object_object_add(o, "min_decryption_version",
				       json_object_new_uint64(ans.min_dec));
	}
	return o;
}
