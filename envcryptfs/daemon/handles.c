/* handles.c - the list of open files and directory streams, so that the end of a session
 * frees those whose RELEASE or RELEASEDIR never came (an unmount by signal with some open). */
#include "daemon.h"

#include <pthread.h>

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_handle *handles; /* protected by handles_lock */

void fs_handle_track(struct fs_handle *h, void (*close)(struct fs_handle *h))
{
	h->close = close;
	h->prev = NULL;
	pthread_mutex_lock(&handles_lock);
	h->next = handles;
	if (handles)
		handles->prev = h;
	handles = h;
	pthread_mutex_unlock(&handles_lock);
}

void fs_handle_untrack(struct fs_handle *h)
{
	pthread_mutex_lock(&handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&handles_lock);
}

/* Runs after the session loop: no request can open or release a handle any more. */
void fs_close_all_handles(void)
{
	while (handles)
		handles->close(handles);
}
