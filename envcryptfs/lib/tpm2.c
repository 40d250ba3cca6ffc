/* SPDX-License-Identifier: MIT */
/*
 * tpm2.c - the talk to a TPM 2.0 through tpm2-tss (ESYS): sealing a key as a keyedhash object
 * under the storage primary key, optionally bound to a PCR policy, and unsealing it again
 * (man/envcryptfs.5, "Key slots"). The primary key is made from the owner hierarchy's ECC
 * SRK template each time, so nothing stays in the TPM; a cleared TPM makes another one.
 * Commands carrying the key run in a session salted with that primary key, which encrypts
 * the key on its way to and from the TPM.
 */
#include "internal.h"
#include "tpm2_blob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

struct tpm {
	const char *device;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	ESYS_TR session; /* salted HMAC session: parameter encryption */
};

/* ---- errors ---------------------------------------------------------------------------- */

/* The TPM's own answer (format-one codes without their handle or parameter number). */
static TSS2_RC tpm_code(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return 0;
	return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
}

/* Errors below the TPM: the TCTI could not connect, or the connection broke. */
static bool unreachable(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, base = rc & 0xffff;

	if (layer == TSS2_TPM_RC_LAYER)
		return false;
	return layer == TSS2_TCTI_RC_LAYER || base == TSS2_BASE_RC_IO_ERROR ||
	       base == TSS2_BASE_RC_NO_CONNECTION || base == TSS2_BASE_RC_TRY_AGAIN;
}

static int tpm_fail(const struct tpm *t, const char *what, TSS2_RC rc)
{
	TSS2_RC code = tpm_code(rc);

	if (unreachable(rc))
		return ecfs_fail(-EHOSTUNREACH, "cannot reach TPM at %s: %s", t->device,
				 Tss2_RC_Decode(rc));
	if (code == TPM2_RC_POLICY_FAIL)
		return ecfs_fail(-EKEYEXPIRED, "TPM2 policy check failed: PCR values changed since "
					       "the slot was made");
	if (code == TPM2_RC_INTEGRITY)
		return ecfs_fail(-EKEYEXPIRED,
				 "the TPM at %s cannot load the slot's sealed key: integrity check "
				 "failed (the TPM was cleared since the slot was made, or it is "
				 "another TPM)",
				 t->device);
	return ecfs_fail(-EIO, "TPM at %s: %s failed: %s", t->device, what, Tss2_RC_Decode(rc));
}

/* ---- connection, primary key, session -------------------------------------------------- */

static void tpm_close(struct tpm *t)
{
	if (t->esys) {
		if (t->session != ESYS_TR_NONE)
			Esys_FlushContext(t->esys, t->session);
		if (t->primary != ESYS_TR_NONE)
			Esys_FlushContext(t->esys, t->primary);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

static int tpm_connect(struct tpm *t, const char *device)
{
	TSS2_RC rc;

	*t = (struct tpm){.device = device, .primary = ESYS_TR_NONE, .session = ESYS_TR_NONE};
	rc = Tss2_TctiLdr_Initialize(device, &t->tcti);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_close(t);
		return ecfs_fail(-EHOSTUNREACH, "cannot reach TPM at %s: %s", device,
				 Tss2_RC_Decode(rc));
	}
	return 0;
}

/* The TCG's ECC P-256 storage root key template: from the same owner seed, the same key. */
static const TPM2B_PUBLIC srk_template = {
    .publicArea =
	{
	    .type = TPM2_ALG_ECC,
	    .nameAlg = TPM2_ALG_SHA256,
	    .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
	    .parameters.eccDetail =
		{
		    .symmetric = {.algorithm = TPM2_ALG_AES,
				  .keyBits.aes = 128,
				  .mode.aes = TPM2_ALG_CFB},
		    .scheme.scheme = TPM2_ALG_NULL,
		    .curveID = TPM2_ECC_NIST_P256,
		    .kdf.scheme = TPM2_ALG_NULL,
		},
	    .unique.ecc = {.x.size = 32, .y.size = 32},
	},
};

static const TPMT_SYM_DEF session_cipher = {
    .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};

static int tpm_primary(struct tpm *t)
{
	TPM2B_SENSITIVE_CREATE none = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION no_pcrs = {0};
	TSS2_RC rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					ESYS_TR_NONE, &none, &srk_template, &outside, &no_pcrs,
					&t->primary, NULL, NULL, NULL, NULL);

	return rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "creating the primary key", rc);
}

/* A session salted with the primary key; type TPM2_SE_HMAC or TPM2_SE_POLICY. */
static int tpm_session(struct tpm *t, TPM2_SE type, TPMA_SESSION attrs, ESYS_TR *out)
{
	TSS2_RC rc =
	    Esys_StartAuthSession(t->esys, t->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				  ESYS_TR_NONE, NULL, type, &session_cipher, TPM2_ALG_SHA256, out);

	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_TRSess_SetAttributes(t->esys, *out, attrs, 0xff);
	return rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "starting a session", rc);
}

static int tpm_open(struct tpm *t, const char *device)
{
	int r = tpm_connect(t, device);

	if (r == 0)
		r = tpm_primary(t);
	if (r == 0)
		r = tpm_session(t, TPM2_SE_HMAC,
				TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
				    TPMA_SESSION_ENCRYPT,
				&t->session);
	if (r < 0)
		tpm_close(t);
	return r;
}

/* ---- PCR policy ------------------------------------------------------------------------ */

static void pcr_selection(uint32_t pcrs, TPML_PCR_SELECTION *sel)
{
	*sel = (TPML_PCR_SELECTION){.count = 1};
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	for (int i = 0; i < 24; i++)
		if (pcrs & (1u << i))
			sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Runs PolicyPCR in session over the PCRs' current values. */
static int policy_pcr(struct tpm *t, ESYS_TR session, uint32_t pcrs)
{
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST current = {0}; /* empty: the TPM takes the values it has now */
	TSS2_RC rc;

	pcr_selection(pcrs, &sel);
	rc = Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current,
			    &sel);
	return rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "PolicyPCR", rc);
}

/* The policy digest that the PCRs' current values satisfy, from a trial session. */
static int policy_digest(struct tpm *t, uint32_t pcrs, TPM2B_DIGEST *digest)
{
	TPM2B_DIGEST *d = NULL;
	ESYS_TR trial;
	TSS2_RC rc;
	int r = tpm_session(t, TPM2_SE_TRIAL, 0, &trial);

	if (r < 0)
		return r;
	r = policy_pcr(t, trial, pcrs);
	if (r == 0) {
		rc = Esys_PolicyGetDigest(t->esys, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					  &d);
		r = rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "PolicyGetDigest", rc);
	}
	if (r == 0)
		*digest = *d;
	Esys_Free(d);
	Esys_FlushContext(t->esys, trial);
	return r;
}

/* ---- seal and unseal ------------------------------------------------------------------- */

/* A keyedhash object holding data: usable only through the policy when bound to PCRs. */
static int sealed_template(struct tpm *t, uint32_t pcrs, TPM2B_PUBLIC *pub)
{
	TPMT_PUBLIC *p = &pub->publicArea;

	*pub = (TPM2B_PUBLIC){0};
	p->type = TPM2_ALG_KEYEDHASH;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
	p->parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	if (!pcrs) {
		p->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
		return 0;
	}
	return policy_digest(t, pcrs, &p->authPolicy);
}

static int esys_seal(const char *device, const uint8_t *secret, size_t len,
		     struct ecfs_tpm2_slot *s)
{
	TPM2B_SENSITIVE_CREATE in = {0};
	TPM2B_PUBLIC tmpl;
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION no_pcrs = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	struct tpm t;
	TSS2_RC rc;
	int r;

	if (len > sizeof(in.sensitive.data.buffer))
		return -EINVAL;
	r = tpm_open(&t, device);
	if (r < 0)
		return r;
	r = sealed_template(&t, s->pcrs, &tmpl);
	if (r == 0) {
		in.sensitive.data.size = (UINT16)len;
		memcpy(in.sensitive.data.buffer, secret, len);
		rc = Esys_Create(t.esys, t.primary, t.session, ESYS_TR_NONE, ESYS_TR_NONE, &in,
				 &tmpl, &outside, &no_pcrs, &priv, &pub, NULL, NULL, NULL);
		ecfs_wipe(&in, sizeof(in));
		r = rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(&t, "sealing the key", rc);
	}
	if (r == 0)
		r = ecfs_tpm2_blobs_marshal(pub, priv, s);
	Esys_Free(pub);
	Esys_Free(priv);
	tpm_close(&t);
	return r;
}

/* Loads the sealed object under the primary key: a TPM cleared since fails the integrity
 * check, its new primary key not being the one the object was made under. */
static int load_sealed(struct tpm *t, const struct ecfs_tpm2_slot *s, ESYS_TR *obj)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TSS2_RC rc;
	int r = ecfs_tpm2_blobs_unmarshal(s, &pub, &priv);

	if (r < 0)
		return r;
	rc = Esys_Load(t->esys, t->primary, t->session, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
		       obj);
	return rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "loading the sealed key", rc);
}

/* Unseals obj: through a policy session that checks the PCRs, or else with the object's
 * empty authorization in the salted session; either way the answer comes back encrypted. */
static int unseal_object(struct tpm *t, ESYS_TR obj, uint32_t pcrs, uint8_t *secret, size_t len)
{
	TPM2B_SENSITIVE_DATA *out = NULL;
	ESYS_TR auth = t->session, policy = ESYS_TR_NONE;
	TSS2_RC rc;
	int r = 0;

	if (pcrs) {
		r = tpm_session(t, TPM2_SE_POLICY,
				TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_ENCRYPT, &policy);
		if (r == 0)
			r = policy_pcr(t, policy, pcrs);
		auth = policy;
	}
	if (r == 0) {
		rc = Esys_Unseal(t->esys, obj, auth, ESYS_TR_NONE, ESYS_TR_NONE, &out);
		r = rc == TSS2_RC_SUCCESS ? 0 : tpm_fail(t, "unsealing the key", rc);
	}
	if (r == 0 && out->size != len)
		r = ecfs_fail(-EKEYREJECTED, "the TPM unsealed a key of %u bytes, not %zu",
			      (unsigned)out->size, len);
	if (r == 0)
		memcpy(secret, out->buffer, len);
	if (out)
		ecfs_wipe(out, sizeof(*out));
	Esys_Free(out);
	if (policy != ESYS_TR_NONE)
		Esys_FlushContext(t->esys, policy);
	return r;
}

static int esys_unseal(const char *device, const struct ecfs_tpm2_slot *s, uint8_t *secret,
		       size_t len)
{
	ESYS_TR obj = ESYS_TR_NONE;
	struct tpm t;
	int r = tpm_open(&t, device);

	if (r < 0)
		return r;
	r = load_sealed(&t, s, &obj);
	if (r == 0)
		r = unseal_object(&t, obj, s->pcrs, secret, len);
	if (obj != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, obj);
	tpm_close(&t);
	return r;
}

/* ---- a deadline: tpm2-tss's calls block without one, so a TPM that takes the connection and
 * never answers would hang the caller. Each call runs on a thread of its own with copies of
 * everything it touches; after the deadline the caller fails and the thread, if it ever
 * returns, frees its job itself. ---------------------------------------------------------- */

#define TPM2_DEADLINE_S 20

static int tpm2_deadline(void)
{
	return ecfs_fault_tpm2_deadline(TPM2_DEADLINE_S);
}

struct tpm_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool seal, done, abandoned;
	char *device;
	struct ecfs_tpm2_slot slot;
	struct ecfs_secret *secret; /* the key to seal, or the key unsealed */
	int r;
	char msg[512]; /* the thread's ecfs_last_error(), which is per thread */
	struct tpm_job *next_stuck;
};

/* Jobs past their deadline whose call has not returned: a device named here is not tried
 * again until it does, so a volume with several TPM slots fails after one deadline, not one
 * per slot. */
static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tpm_job *stuck;

static void stuck_add(struct tpm_job *j)
{
	pthread_mutex_lock(&stuck_lock);
	j->next_stuck = stuck;
	stuck = j;
	pthread_mutex_unlock(&stuck_lock);
}

static void stuck_remove(struct tpm_job *j)
{
	pthread_mutex_lock(&stuck_lock);
	for (struct tpm_job **p = &stuck; *p; p = &(*p)->next_stuck)
		if (*p == j) {
			*p = j->next_stuck;
			break;
		}
	pthread_mutex_unlock(&stuck_lock);
}

static int refuse_if_stuck(const char *device)
{
	bool found = false;

	pthread_mutex_lock(&stuck_lock);
	for (struct tpm_job *j = stuck; j && !found; j = j->next_stuck)
		found = strcmp(j->device, device) == 0;
	pthread_mutex_unlock(&stuck_lock);
	return found ? ecfs_fail(-EHOSTUNREACH, "the TPM at %s did not answer within %d s", device,
				 tpm2_deadline())
		     : 0;
}

static void job_free(struct tpm_job *j)
{
	ecfs_secret_free(j->secret);
	free(j->device);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *job_run(void *arg)
{
	struct tpm_job *j = arg;
	uint8_t *key = ecfs_secret_data(j->secret);
	size_t len = ecfs_secret_len(j->secret);
	int r = j->seal ? esys_seal(j->device, key, len, &j->slot)
			: esys_unseal(j->device, &j->slot, key, len);
	bool abandoned;

	pthread_mutex_lock(&j->lock);
	j->r = r;
	if (r < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", ecfs_last_error());
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {
		stuck_remove(j);
		job_free(j);
	}
	return NULL;
}

static struct tpm_job *job_new(bool seal, const char *device, const struct ecfs_tpm2_slot *s,
			       size_t len)
{
	struct tpm_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->seal = seal;
	j->slot = *s;
	j->device = strdup(device);
	j->secret = ecfs_secret_new(len);
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (!j->device || !j->secret) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* Runs j and waits for it until the deadline: 0 or the call's error with its message. After
 * the deadline -EHOSTUNREACH with *gone set: j then belongs to its thread, untouchable. */
static int job_wait(struct tpm_job *j, const char *device, bool *gone)
{
	struct timespec deadline;
	pthread_t thread;
	int r;

	*gone = false;
	if (pthread_create(&thread, NULL, job_run, j) != 0)
		return -EAGAIN;
	pthread_detach(thread);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += tpm2_deadline();
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &deadline) != ETIMEDOUT)
		;
	if (!j->done) {
		j->abandoned = true;
		*gone = true;
		stuck_add(j); /* before the unlock: job_run removes it once it returns */
		pthread_mutex_unlock(&j->lock);
		return ecfs_fail(-EHOSTUNREACH, "the TPM at %s did not answer within %d s", device,
				 tpm2_deadline());
	}
	pthread_mutex_unlock(&j->lock);
	r = j->r;
	return r < 0 ? ecfs_fail(r, "%s", j->msg) : 0;
}

static int deadline_seal(const char *device, const uint8_t *secret, size_t len,
			 struct ecfs_tpm2_slot *s)
{
	struct tpm_job *j;
	bool gone;
	int r = refuse_if_stuck(device);

	if (r < 0)
		return r;
	j = job_new(true, device, s, len);
	if (!j)
		return -ENOMEM;
	memcpy(ecfs_secret_data(j->secret), secret, len);
	r = job_wait(j, device, &gone);
	if (gone)
		return r;
	if (r == 0)
		*s = j->slot;
	job_free(j);
	return r;
}

static int deadline_unseal(const char *device, const struct ecfs_tpm2_slot *s, uint8_t *secret,
			   size_t len)
{
	struct tpm_job *j;
	bool gone;
	int r = refuse_if_stuck(device);

	if (r < 0)
		return r;
	j = job_new(false, device, s, len);
	if (!j)
		return -ENOMEM;
	r = job_wait(j, device, &gone);
	if (gone)
		return r;
	if (r == 0)
		memcpy(secret, ecfs_secret_data(j->secret), len);
	job_free(j);
	return r;
}

const struct ecfs_tpm2_ops ecfs_tpm2_esys = {
    .seal = deadline_seal,
    .unseal = deadline_unseal,
};
