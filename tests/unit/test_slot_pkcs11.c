/* test_slot_pkcs11.c - the PKCS#11 slot without a token: what its header object may hold, and
 * the refusals that come before any module is loaded or that name the module that fails. */
#include <criterion/criterion.h>

#include "slot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEK_B64 "iz888sB4EXPMPzi6nttzFGS29qcJMuQk794z3Y8s2p1RZ1eCrZek9w=="

/* Parses a slot object whose "pkcs11" member is inner. */
static int parse(const char *inner, struct ecfs_slot *s)
{
	char text[1024];
	json_object *o;
	int r;

	snprintf(text, sizeof(text),
		 "{\"type\":\"pkcs11\",\"kek_generation\":1,\"created\":5,\"pkcs11\":%s}", inner);
	o = json_tokener_parse(text);
	cr_assert_not_null(o, "test JSON: %s", text);
	memset(s, 0, sizeof(*s));
	r = ecfs_slot_parse(o, s);
	json_object_put(o);
	return r;
}

Test(slot_pkcs11, a_slot_parses_and_writes_back_the_same)
{
	struct ecfs_slot s, again;
	json_object *o;

	cr_assert_eq(parse("{\"token\":\"T\",\"key\":\"K\",\"mechanism\":\"aes-key-wrap-pad\","
			   "\"dek\":\"" DEK_B64 "\"}",
			   &s),
		     0, "%s", ecfs_last_error());
	cr_assert_eq(s.type, ECFS_SLOT_PKCS11);
	cr_assert_str_eq(s.pkcs11.token, "T");
	cr_assert_str_eq(s.pkcs11.key, "K");
	cr_assert_str_eq(s.pkcs11.mechanism, "aes-key-wrap-pad");
	o = ecfs_slot_write(&s);
	memset(&again, 0, sizeof(again));
	cr_assert_eq(ecfs_slot_parse(o, &again), 0);
	json_object_put(o);
	cr_assert_eq(memcmp(&again.pkcs11, &s.pkcs11, sizeof(s.pkcs11)), 0);
	cr_assert_eq(memcmp(again.wrapped_dek, s.wrapped_dek, sizeof(s.wrapped_dek)), 0);
}

Test(slot_pkcs11, a_module_in_the_header_is_ignored_and_never_written)
{
	struct ecfs_slot s;
	json_object *o;

	cr_assert_eq(parse("{\"module\":\"/tmp/evil.so\",\"token\":\"T\",\"key\":\"K\","
			   "\"mechanism\":\"aes-key-wrap-pad\",\"dek\":\"" DEK_B64 "\"}",
			   &s),
		     0);
	o = ecfs_slot_write(&s);
	cr_assert_null(strstr(json_object_to_json_string(o), "evil"));
	json_object_put(o);
}

Test(slot_pkcs11, labels_out_of_bounds_or_with_control_bytes_are_damage)
{
	static const char *const bad[] = {
	    "{\"token\":\"123456789012345678901234567890123\",\"key\":\"K\"",
	    "{\"token\":\"\",\"key\":\"K\"",
	    "{\"token\":\"T\",\"key\":\"K\\u0001\"",
	    "{\"token\":\"T\\u0000x\",\"key\":\"K\"",
	    "{\"token\":\"T\",\"key\":\"K\\u007f\"",
	    "{\"token\":7,\"key\":\"K\"",
	};
	char inner[512];
	struct ecfs_slot s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(inner, sizeof(inner),
			 "%s,\"mechanism\":\"aes-key-wrap-pad\",\"dek\":\"" DEK_B64 "\"}", bad[i]);
		cr_expect_eq(parse(inner, &s), -EUCLEAN, "accepted %s", bad[i]);
	}
	cr_assert_eq(parse("{\"token\":\"12345678901234567890123456789012\",\"key\":\"K\","
			   "\"mechanism\":\"aes-key-wrap-pad\",\"dek\":\"" DEK_B64 "\"}",
			   &s),
		     0, "a 32-byte token label is the most a token has");
}

Test(slot_pkcs11, another_mechanism_is_unsupported_and_a_short_dek_damage)
{
	struct ecfs_slot s;

	cr_assert_eq(parse("{\"token\":\"T\",\"key\":\"K\",\"mechanism\":\"aes-gcm\","
			   "\"dek\":\"" DEK_B64 "\"}",
			   &s),
		     -EPROTONOSUPPORT);
	cr_assert_eq(parse("{\"token\":\"T\",\"key\":\"K\",\"mechanism\":\"aes-key-wrap-pad\","
			   "\"dek\":\"AAAA\"}",
			   &s),
		     -EUCLEAN);
}

Test(slot_pkcs11, a_missing_module_is_named_and_nothing_is_made)
{
	struct ecfs_secret *pin = ecfs_secret_new(4);
	struct ecfs_pkcs11_cred p = {.module = "/nonexistent/pkcs11-module.so",
				     .pin = pin,
				     .pin_origin = "pin",
				     .token = "T",
				     .key = "K"};
	struct ecfs_credential c = {.type = ECFS_SLOT_PKCS11, .pkcs11 = &p};
	uint8_t dek[ECFS_DEK_SIZE] = {0};
	struct ecfs_slot s;

	cr_assert_not_null(pin);
	memcpy(ecfs_secret_data(pin), "1234", 4);
	cr_assert_eq(ecfs_slot_create(&s, &c, NULL, dek), -ELIBACC);
	cr_assert_not_null(strstr(ecfs_last_error(), "/nonexistent/pkcs11-module.so"), "%s",
			   ecfs_last_error());
	p.token = "123456789012345678901234567890123";
	cr_assert_eq(ecfs_slot_create(&s, &c, NULL, dek), -EINVAL);
	p.token = "T";
	p.pin = NULL;
	cr_assert_eq(ecfs_slot_create(&s, &c, NULL, dek), -EINVAL);
	ecfs_secret_free(pin);
}
