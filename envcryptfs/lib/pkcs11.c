/* SPDX-License-Identifier: MIT */
/*
 * pkcs11.c - the talk with a PKCS#11 token for the PKCS#11 slot (slot_pkcs11.c): loading the
 * module named by the credential (never by the header: loading a library is running its
 * code), finding the token and the AES key by label, logging in, and wrapping or unwrapping
 * the DEK inside the token with CKM_AES_KEY_WRAP_PAD (RFC 5649). Each call loads the module,
 * does its work and unloads it, so nothing of the token stays open in a long-lived daemon.
 */
#include "slot.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An open, logged-in session on the token of one credential. */
struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized; /* by us: C_Finalize is ours to call */
	CK_SESSION_HANDLE session;
	bool has_session, logged_in;
	const struct ecfs_pkcs11_cred *c;
	const char *token;
};

/* The return values worth naming in a message; others print as numbers. */
static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID"},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE"},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID"},
};

static const char *rv_name(CK_RV rv)
{
	static __thread char num[32];

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(rv_names); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(num, sizeof(num), "CKR 0x%lx", (unsigned long)rv);
	return num;
}

/* A failed call: -EIO with a message naming the token, what failed and the return value. */
static int fail_rv(const struct p11 *p, const char *what, CK_RV rv)
{
	return ecfs_fail(-EIO, "PKCS#11 token '%s' (module '%s'): %s failed: %s", p->token,
			 p->c->module, what, rv_name(rv));
}

/* ---- module and token ---------------------------------------------------------------- */

static int load_module(struct p11 *p)
{
	CK_C_GetFunctionList get;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	p->dl = dlopen(p->c->module, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		return ecfs_fail(-ELIBACC, "cannot load PKCS#11 module '%s': %s", p->c->module,
				 dlerror());
	get = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	if (!get || get(&p->f) != CKR_OK || !p->f)
		return ecfs_fail(-ELIBBAD, "'%s' is not a PKCS#11 module (no C_GetFunctionList)",
				 p->c->module);
	rv = p->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return ecfs_fail(-ELIBBAD, "PKCS#11 module '%s' does not initialize: %s",
				 p->c->module, rv_name(rv));
	p->initialized = rv == CKR_OK;
	return 0;
}

/* Whether the space-padded label field of a token is label. */
static bool label_is(const CK_UTF8CHAR field[32], const char *label)
{
	size_t n = strlen(label);

	if (n > 32 || memcmp(field, label, n) != 0)
		return false;
	for (; n < 32; n++)
		if (field[n] != ' ')
			return false;
	return true;
}

static int find_token(struct p11 *p, CK_SLOT_ID *id)
{
	CK_ULONG n = 0;
	CK_SLOT_ID *ids;
	CK_TOKEN_INFO ti;
	CK_RV rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	int r = -ENODEV;

	if (rv != CKR_OK)
		return fail_rv(p, "listing the slots", rv);
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	rv = p->f->C_GetSlotList(CK_TRUE, ids, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n && r < 0; i++)
		if (p->f->C_GetTokenInfo(ids[i], &ti) == CKR_OK && label_is(ti.label, p->token)) {
			*id = ids[i];
			r = 0;
		}
	free(ids);
	if (rv != CKR_OK)
		return fail_rv(p, "listing the slots", rv);
	if (r < 0)
		return ecfs_fail(-ENODEV, "no token labelled '%s' in PKCS#11 module '%s'", p->token,
				 p->c->module);
	return 0;
}

/* The PIN is handed over here and nowhere else; the caller wipes it when done. */
static int login(struct p11 *p)
{
	const struct ecfs_secret *pin = p->c->pin;
	CK_RV rv = p->f->C_Login(p->session, CKU_USER, ecfs_secret_data(pin),
				 (CK_ULONG)ecfs_secret_len(pin));

	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		p->logged_in = rv == CKR_OK;
		return 0;
	}
	if ((rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_LOCKED) &&
	    p->c->pin_refused)
		*p->c->pin_refused = true;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
		return ecfs_fail(-EKEYREJECTED,
				 "PKCS#11 token '%s' rejected the PIN from '%s' (%s)", p->token,
				 p->c->pin_origin, rv_name(rv));
	if (rv == CKR_PIN_LOCKED)
		return ecfs_fail(-EKEYREJECTED, "the PIN of PKCS#11 token '%s' is locked (%s)",
				 p->token, rv_name(rv));
	return fail_rv(p, "C_Login", rv);
}

static void p11_close(struct p11 *p)
{
	if (p->logged_in)
		p->f->C_Logout(p->session);
	if (p->has_session)
		p->f->C_CloseSession(p->session);
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->dl)
		dlclose(p->dl);
	memset(p, 0, sizeof(*p));
}

/* Loads the module, opens a session on the token (read-write to make a key) and logs in. */
static int p11_open(struct p11 *p, const struct ecfs_pkcs11_cred *c, const char *token, bool rw)
{
	CK_SLOT_ID id = 0;
	CK_RV rv;
	int r;

	memset(p, 0, sizeof(*p));
	/* The token said why the first time, and that message stands: a PIN it refused is not
	 * offered to it again (another slot, the other header copy) to use up its tries. */
	if (c->pin_refused && *c->pin_refused)
		return -EKEYREJECTED;
	p->c = c;
	p->token = token;
	r = load_module(p);
	if (r == 0)
		r = find_token(p, &id);
	if (r == 0) {
		rv = p->f->C_OpenSession(id, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL,
					 NULL, &p->session);
		p->has_session = rv == CKR_OK;
		if (rv != CKR_OK)
			r = fail_rv(p, "C_OpenSession", rv);
	}
	if (r == 0)
		r = login(p);
	if (r < 0)
		p11_close(p);
	return r;
}

/* ---- the key ------------------------------------------------------------------------- */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static int find_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv = p->f->C_FindObjectsInit(p->session, tmpl, ECFS_ARRAY_SIZE(tmpl));

	if (rv != CKR_OK)
		return fail_rv(p, "C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->session, found, 2, &n);
	p->f->C_FindObjectsFinal(p->session);
	if (rv != CKR_OK)
		return fail_rv(p, "C_FindObjects", rv);
	if (n == 0)
		return -ENOKEY;
	if (n > 1)
		return ecfs_fail(-ENOTUNIQ, "more than one AES key '%s' on PKCS#11 token '%s'",
				 label, p->token);
	*key = found[0];
	return 0;
}

/* A new AES-256 key on the token that never leaves it and only wraps and unwraps. */
static int generate_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG len = 32;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},	{CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_TOKEN, &yes, sizeof(yes)},	{CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_WRAP, &yes, sizeof(yes)},	{CKA_UNWRAP, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &no, sizeof(no)},	{CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},	{CKA_VERIFY, &no, sizeof(no)},
	};
	CK_RV rv = p->f->C_GenerateKey(p->session, &mech, tmpl, ECFS_ARRAY_SIZE(tmpl), key);

	return rv == CKR_OK ? 0 : fail_rv(p, "C_GenerateKey", rv);
}

static int get_key(struct p11 *p, const char *label, bool create, CK_OBJECT_HANDLE *key)
{
	int r = find_key(p, label, key);

	if (r == -ENOKEY && create)
		return generate_key(p, label, key);
	if (r == -ENOKEY)
		return ecfs_fail(-ENOKEY, "no key '%s' on PKCS#11 token '%s'", label, p->token);
	return r;
}

/* A session object holding the DEK, the form C_WrapKey takes (gone with the session). */
static int dek_object(struct p11 *p, const uint8_t dek[ECFS_DEK_SIZE], CK_OBJECT_HANDLE *obj)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},	  {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},	  {CKA_SENSITIVE, &no, sizeof(no)},
	    {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_VALUE, (void *)dek, ECFS_DEK_SIZE},
	};
	CK_RV rv = p->f->C_CreateObject(p->session, tmpl, ECFS_ARRAY_SIZE(tmpl), obj);

	return rv == CKR_OK ? 0 : fail_rv(p, "C_CreateObject", rv);
}

/* ---- wrap and unwrap ------------------------------------------------------------------- */

int ecfs_pkcs11_wrap(const struct ecfs_pkcs11_cred *c, const char *token, const char *key,
		     bool create, const uint8_t dek[ECFS_DEK_SIZE],
		     uint8_t out[ECFS_WRAPPED_DEK_SIZE])
{
	CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE kek, obj;
	CK_ULONG len = ECFS_WRAPPED_DEK_SIZE;
	struct p11 p;
	CK_RV rv;
	int r = p11_open(&p, c, token, create);

	if (r < 0)
		return r;
	r = get_key(&p, key, create, &kek);
	if (r == 0)
		r = dek_object(&p, dek, &obj);
	if (r == 0) {
		rv = p.f->C_WrapKey(p.session, &mech, kek, obj, out, &len);
		p.f->C_DestroyObject(p.session, obj);
		if (rv != CKR_OK)
			r = fail_rv(&p, "wrapping the volume key (C_WrapKey)", rv);
		else if (len != ECFS_WRAPPED_DEK_SIZE)
			r = ecfs_fail(-EIO,
				      "PKCS#11 token '%s' wrapped the volume key into %lu bytes",
				      token, (unsigned long)len);
	}
	p11_close(&p);
	return r;
}

/* The unwrapped DEK as a session object, its value read straight into dek. */
static int unwrap_into(struct p11 *p, CK_OBJECT_HANDLE kek, const uint8_t *wrapped,
		       uint8_t dek[ECFS_DEK_SIZE])
{
	CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},	  {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},	  {CKA_SENSITIVE, &no, sizeof(no)},
	    {CKA_EXTRACTABLE, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE value = {CKA_VALUE, dek, ECFS_DEK_SIZE};
	CK_OBJECT_HANDLE obj;
	CK_RV rv = p->f->C_UnwrapKey(p->session, &mech, kek, (CK_BYTE_PTR)wrapped,
				     ECFS_WRAPPED_DEK_SIZE, tmpl, ECFS_ARRAY_SIZE(tmpl), &obj);

	/* Another key, or a wrapped DEK changed on disk: the key does not fit. */
	if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
	    rv == CKR_ENCRYPTED_DATA_INVALID)
		return -EKEYREJECTED;
	if (rv != CKR_OK)
		return fail_rv(p, "unwrapping the volume key (C_UnwrapKey)", rv);
	rv = p->f->C_GetAttributeValue(p->session, obj, &value, 1);
	p->f->C_DestroyObject(p->session, obj);
	if (rv == CKR_OK && value.ulValueLen == ECFS_DEK_SIZE)
		return 0;
	ecfs_wipe(dek, ECFS_DEK_SIZE);
	return rv == CKR_OK ? -EKEYREJECTED : fail_rv(p, "reading the volume key", rv);
}

int ecfs_pkcs11_unwrap(const struct ecfs_pkcs11_cred *c, const char *token, const char *key,
		       const uint8_t wrapped[ECFS_WRAPPED_DEK_SIZE], uint8_t dek[ECFS_DEK_SIZE])
{
	CK_OBJECT_HANDLE kek;
	struct p11 p;
	int r = p11_open(&p, c, token, false);

	if (r < 0)
		return r;
	r = get_key(&p, key, false, &kek);
	if (r == 0)
		r = unwrap_into(&p, kek, wrapped, dek);
	p11_close(&p);
	return r;
}
