/*
 * The struct that holds a libev watcher, from the watcher (libev's
 * ev.pod, "ASSOCIATING CUSTOM DATA WITH A WATCHER").
 */
#ifndef CONTAINER_OF_H
#define CONTAINER_OF_H

#include <stddef.h>

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
