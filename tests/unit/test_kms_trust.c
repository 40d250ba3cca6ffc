/* SPDX-License-Identifier: MIT */
/*
 * test_kms_trust.c - where KMS credentials may go: the configuration file's parser, and the
 * rule that a slot's URL, mount and key are only hints that must match the configuration.
 */
#include <criterion/criterion.h>

#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *conf[ECFS_KMS_NOPTS];
static char err[160];

static void conf_free(void)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		free(conf[i]);
		conf[i] = NULL;
	}
}

static int parse(const char *text)
{
	conf_free();
	err[0] = '\0';
	return ecfs_kms_conf_parse(text, strlen(text), conf, err, sizeof(err));
}

TestSuite(kms_conf, .fini = conf_free);

Test(kms_conf, reads_settings_comments_and_blanks)
{
	cr_assert_eq(parse("# the KMS\n\n  kms_url=https://kms:8200/ \t\nkms_cacert=/etc/ca.pem\r\n"
			   "kms_key=vol1"),
		     0, "%s", err);
	cr_assert_str_eq(conf[ECFS_KMS_URL], "https://kms:8200/");
	cr_assert_str_eq(conf[ECFS_KMS_CACERT], "/etc/ca.pem");
	cr_assert_str_eq(conf[ECFS_KMS_KEY], "vol1");
	cr_assert_null(conf[ECFS_KMS_TOKEN_FILE]);
}

Test(kms_conf, refuses_what_it_does_not_know)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"kms_url=a\nkms_token=abc\n", "line 2: not a KMS setting"},
	    {"kms_config=/etc/other.conf\n", "line 1: not a KMS setting"},
	    {"url=https://kms\n", "line 1: not a KMS setting"},
	    {"kms_url=\n", "line 1: no value"},
	    {"kms_url=a\nkms_url=b\n", "line 2: set twice"},
	    {"kms_cacert=ca.pem\n", "line 1: a file must be an absolute path"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i].text), -EINVAL, "%s", bad[i].text);
		cr_assert(strncmp(err, bad[i].why, strlen(bad[i].why)) == 0, "%s: %s", bad[i].text,
			  err);
		for (int j = 0; j < ECFS_KMS_NOPTS; j++)
			cr_assert_null(conf[j], "a refused file leaves settings behind");
	}
	cr_assert_eq(ecfs_kms_conf_parse("kms_url=a\0b", 11, conf, err, sizeof(err)), -EINVAL);
}

static struct ecfs_kms_slot slot(const char *url, const char *mount, const char *key)
{
	struct ecfs_kms_slot s;

	memset(&s, 0, sizeof(s));
	snprintf(s.url, sizeof(s.url), "%s", url);
	snprintf(s.mount, sizeof(s.mount), "%s", mount);
	snprintf(s.key, sizeof(s.key), "%s", key);
	return s;
}

Test(kms_trust, a_slot_url_is_never_trusted_alone)
{
	struct ecfs_kms_opts k = {0};
	struct ecfs_kms_slot s = slot("https://evil:8200", "transit", "vol1");
	struct ecfs_kms *client = NULL;

	cr_assert_eq(ecfs_tool_kms_allowed(&k, &s), -EINVAL);
	cr_assert(strstr(ecfs_last_error(), "no KMS is configured"), "%s", ecfs_last_error());
	cr_assert_eq(ecfs_tool_kms_new(&k, &s, true, &client), -EINVAL);
	cr_assert_null(client);
}

Test(kms_trust, only_the_configured_url_mount_and_key)
{
	struct ecfs_kms_opts k = {0};
	struct ecfs_kms_slot good = slot("HTTPS://kms:8200", "transit", "vol1");
	struct ecfs_kms_slot evil = slot("https://evil:8200", "transit", "vol1");
	struct ecfs_kms_slot other_key = slot("https://kms:8200", "transit", "vol2");
	struct ecfs_kms_slot other_mount = slot("https://kms:8200", "t2", "vol1");

	k.v[ECFS_KMS_URL] = "https://kms:8200/";
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &good), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &evil), -EPERM);
	cr_assert(strstr(ecfs_last_error(), "https://evil:8200") &&
		      strstr(ecfs_last_error(), "https://kms:8200/"),
		  "the refusal names both: %s", ecfs_last_error());
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &other_key), 0, "no key configured: any");
	k.conf[ECFS_KMS_KEY] = "vol1";
	k.conf[ECFS_KMS_MOUNT] = "transit";
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &other_key), -EPERM);
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &other_mount), -EPERM);
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &good), 0);
}

Test(kms_trust, the_file_configures_when_no_option_does)
{
	struct ecfs_kms_opts k = {0};
	struct ecfs_kms_slot s = slot("https://kms:8200", "transit", "vol1");
	char url[] = "https://kms:8200", path[] = "/etc/envcryptfs/kms.conf";

	k.conf[ECFS_KMS_URL] = url;
	k.conf_path = path;
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &s), 0, "%s", ecfs_last_error());
	cr_assert_str_eq(ecfs_kms_url_origin(&k), path);
	k.v[ECFS_KMS_URL] = "https://other:8200";
	cr_assert_eq(ecfs_tool_kms_allowed(&k, &s), -EPERM, "the command line wins");
	cr_assert_str_eq(ecfs_kms_url_origin(&k), "--kms-url");
	cr_assert_not(ecfs_kms_opts_given(&(struct ecfs_kms_opts){.conf = {[ECFS_KMS_URL] = url}}),
		      "the file alone is not a KMS option given");
}
