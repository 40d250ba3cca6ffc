/* SPDX-License-Identifier: MIT */
/*
 * deadline.c - a deadline per request: each connection must bring a whole request and take
 * its answer within --request-timeout, counted from the connection's opening or from the end
 * of its previous request. microhttpd's own timeout counts only idle time, so a client that
 * sends a byte a second would hold a connection (and, with enough of them, the server)
 * forever. The main thread sweeps once a second and shuts down the sockets of late
 * connections; microhttpd then sees the end of the stream and closes them itself.
 */
#include "kmsd.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct conn_rec {
	struct conn_rec *prev, *next;
	struct kmsd_deadlines *owner;
	struct MHD_Connection *c;
	int64_t since_ms; /* when its current request began */
};

struct kmsd_deadlines {
	/* Protects the list. microhttpd calls back on closing before it closes the socket, so
	 * under this lock every listed connection's socket is still its own. */
	pthread_mutex_t lock;
	struct conn_rec *head;
	int64_t timeout_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kmsd_deadlines *kmsd_deadlines_new(unsigned timeout_s)
{
	struct kmsd_deadlines *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->timeout_ms = (int64_t)timeout_s * 1000;
	return d;
}

void kmsd_deadlines_free(struct kmsd_deadlines *d)
{
	if (!d)
		return;
	/* microhttpd has closed every connection (and so emptied the list) by now. */
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void add(struct kmsd_deadlines *d, struct conn_rec *r)
{
	pthread_mutex_lock(&d->lock);
	r->next = d->head;
	if (d->head)
		d->head->prev = r;
	d->head = r;
	pthread_mutex_unlock(&d->lock);
}

static void drop(struct kmsd_deadlines *d, struct conn_rec *r)
{
	pthread_mutex_lock(&d->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		d->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&d->lock);
}

void kmsd_deadline_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct kmsd_deadlines *d = cls;
	struct conn_rec *r = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		r = calloc(1, sizeof(*r));
		/* Out of memory: this connection goes without a deadline (the idle one holds). */
		if (!r)
			return;
		*r = (struct conn_rec){.owner = d, .c = c, .since_ms = now_ms()};
		add(d, r);
		*socket_context = r;
	} else if (r) {
		drop(d, r);
		free(r);
		*socket_context = NULL;
	}
}

void kmsd_deadline_restart(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_rec *r = ci ? ci->socket_context : NULL;

	if (!r)
		return;
	pthread_mutex_lock(&r->owner->lock);
	r->since_ms = now_ms();
	pthread_mutex_unlock(&r->owner->lock);
}

void kmsd_deadlines_sweep(struct kmsd_deadlines *d)
{
	int64_t now = now_ms();
	unsigned long cut = 0;

	pthread_mutex_lock(&d->lock);
	for (struct conn_rec *r = d->head; r; r = r->next) {
		const union MHD_ConnectionInfo *ci;

		if (now - r->since_ms < d->timeout_ms)
			continue;
		ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		r->since_ms = now; /* once is enough: microhttpd closes it */
		cut++;
	}
	pthread_mutex_unlock(&d->lock);
	if (cut)
		kmsd_log("closed %lu connection%s that did not complete a request within %lld s",
			 cut, cut == 1 ? "" : "s", (long long)(d->timeout_ms / 1000));
}
