/*
 * The registry of per-name counters.  Lookups take a mutex, but happen
 * only while a runtime is built; the hot paths hold the pointers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limiter.h"
#include "stats.h"

/* Entries of one kind, in a list that only grows. */
struct stats_node {
	struct stats_node	*next;
	union {
		struct stats_server	srv;
		struct stats_backend	be;
	} u;
};

struct stats_global	 stats_global;

static pthread_mutex_t	 stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats_node *stats_servers, *stats_backends;

/* Finds the node named name in list, or adds a zeroed one. */
static struct stats_node *
stats_node_get(struct stats_node **list, const char *name, int *created)
{
	struct stats_node	*n;

	*created = 0;
	for (n = *list; n != NULL; n = n->next)
		/* Both union members start with the name. */
		if (strcmp(n->u.srv.name, name) == 0)
			return n;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	strncpy(n->u.srv.name, name, sizeof(n->u.srv.name) - 1);
	n->next = *list;
	*list = n;
	*created = 1;
	return n;
}

struct stats_server *
stats_server_get(const char *name)
{
	struct stats_node	*n;
	int			 created;

	pthread_mutex_lock(&stats_lock);
	if (stats_global.started == 0)
		stats_global.started = (long long)time(NULL);
	n = stats_node_get(&stats_servers, name, &created);
	if (n != NULL && created &&
	    (n->u.srv.limiter = limiter_new(LIMITER_ENTRIES)) == NULL) {
		stats_servers = n->next;
		free(n);
		n = NULL;
	}
	pthread_mutex_unlock(&stats_lock);
	return n != NULL ? &n->u.srv : NULL;
}

struct stats_backend *
stats_backend_get(const char *name)
{
	struct stats_node	*n;
	int			 created;

	pthread_mutex_lock(&stats_lock);
	n = stats_node_get(&stats_backends, name, &created);
	if (n != NULL && created) {
		atomic_init(&n->u.be.up, 1);
		atomic_init(&n->u.be.enabled, 1);
	}
	pthread_mutex_unlock(&stats_lock);
	return n != NULL ? &n->u.be : NULL;
}

static void
stats_free_list(struct stats_node **list, int servers)
{
	struct stats_node	*n;

	while ((n = *list) != NULL) {
		*list = n->next;
		if (servers)
			limiter_free(&n->u.srv.limiter);
		free(n);
	}
}

void
stats_free_all(void)
{
	pthread_mutex_lock(&stats_lock);
	stats_free_list(&stats_servers, 1);
	stats_free_list(&stats_backends, 0);
	pthread_mutex_unlock(&stats_lock);
}
