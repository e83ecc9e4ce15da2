/*
 * `imapproxyctl who [PATTERN]`: the daemon's `sessions` answer grouped
 * by user, one row each, as `doveadm who` shows it.
 */
#ifndef CTLWHO_H
#define CTLWHO_H

#include <jansson.h>

/*
 * Prints USER SESSIONS CLIENTS BACKENDS OLDEST for the sessions of doc
 * (an ok `sessions` answer) whose user matches the shell glob pattern,
 * ignoring case, or whose id is pattern.  NULL pattern: every session,
 * those not logged in yet as user "-" on the last row.  Returns the
 * exit status.
 */
int	ctlwho_show(const json_t *doc, const char *pattern);

#endif
