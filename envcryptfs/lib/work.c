/* SPDX-License-Identifier: MIT */
/* work.c - the chunk crypto of one large read or write, cut into pieces that the calling
 * thread and the daemon's helper threads (ecfs_helpers) take in turn. */
#include "internal.h"

#include <pthread.h>

/* Work of at least this much plaintext is offered to helpers, in pieces of this size (or of
 * one chunk, if larger): a piece is long enough that handing it over costs little, short
 * enough that two threads finish close together. */
#define WORK_MIN   (128u * 1024u)
#define WORK_PIECE (64u * 1024u)

static void work_fail(struct ecfs_work *w, uint64_t idx, int err)
{
	pthread_mutex_lock(&w->err_lock);
	if (idx < w->bad) {
		w->bad = idx;
		w->err = err;
	}
	pthread_mutex_unlock(&w->err_lock);
}

const uint8_t *ecfs_work_plain(const struct ecfs_work *w, uint64_t i)
{
	if (i == 0 && w->head)
		return w->head;
	if (i == w->n - 1 && w->tail)
		return w->tail;
	/* covered in full, so off <= its start */
	return w->buf + ((w->first + i) * w->cs - w->off);
}

static void work_piece(struct ecfs_crypto *c, struct ecfs_work *w, uint64_t p)
{
	uint64_t i = p * w->per, end = i + w->per < w->n ? i + w->per : w->n;

	for (; i < end; i++) {
		uint64_t idx = w->first + i;
		int r;

		if (w->enc) {
			uint64_t left = w->have - idx * w->cs;
			const uint8_t *src = ecfs_work_plain(w, i);
			r = w->meta
				? ecfs_chunk_seal_in_place(c, w->k, idx, (uint8_t *)src,
							   left < w->cs ? left : w->cs,
							   w->meta + i * (w->sc - w->cs))
				: ecfs_chunk_encrypt(c, w->k, idx, src, left < w->cs ? left : w->cs,
						     w->stored + i * w->sc);
		} else if (w->meta) {
			r = ecfs_chunk_open_in_place(c, w->k, idx, w->meta + i * (w->sc - w->cs),
						     w->plain + i * w->cs, w->cs);
		} else {
			size_t pos = i * w->sc, len = w->got - pos < w->sc ? w->got - pos : w->sc;

			r = ecfs_chunk_decrypt(c, w->k, idx, w->stored + pos, len,
					       w->plain + i * w->cs);
		}
		if (r < 0) {
			work_fail(w, idx, r);
			return;
		}
	}
}

void ecfs_work_help(struct ecfs_crypto *c, struct ecfs_work *w)
{
	for (;;) {
		uint64_t p = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);

		if (p >= w->npieces)
			return;
		work_piece(c, w, p);
	}
}

int ecfs_work_run(struct ecfs_crypto *c, struct ecfs_work *w, uint64_t *bad)
{
	const struct ecfs_helpers *h = ecfs_crypto_helpers(c);
	uint64_t per = WORK_PIECE / w->cs;

	w->per = per ? per : 1;
	w->npieces = (w->n + w->per - 1) / w->per;
	w->next = 0;
	w->bad = UINT64_MAX;
	w->err = 0;
	pthread_mutex_init(&w->err_lock, NULL);
	if (h && w->npieces > 1 && w->n * w->cs >= WORK_MIN) {
		h->offer(h->arg, w);
		ecfs_work_help(c, w);
		h->withdraw(h->arg, w);
	} else {
		ecfs_work_help(c, w);
	}
	pthread_mutex_destroy(&w->err_lock);
	if (w->bad != UINT64_MAX && bad)
		*bad = w->bad;
	return w->bad != UINT64_MAX ? w->err : 0;
}
