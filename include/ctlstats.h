/*
 * `imapproxyctl stats`: the daemon's counters as a summary for people.
 */
#ifndef CTLSTATS_H
#define CTLSTATS_H

#include <jansson.h>

/*
 * Prints the totals of doc (an ok `stats` answer), then a table per
 * server, one per back end, and the ACL denies by rule.  arg is unused.
 * Returns the exit status.
 */
int	ctlstats_show(const json_t *doc, const char *arg);

#endif
