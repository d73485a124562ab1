/* tmpdir.h - the harness's private temporary directories.
 *
 * The managed fleet keeps its servers' files in one 0700 directory, $TMPDIR/oversell.XXXXXX
 * (/tmp when TMPDIR is unset or empty). */
#ifndef OVS_TMPDIR_H
#define OVS_TMPDIR_H

#include <stddef.h>

#define OVS_TMPDIR_PREFIX "oversell." /* then mkdtemp's XXXXXX */

/* Make a new private directory in $TMPDIR and write its absolute path (symbolic links
 * resolved: redis-server changes into it before it opens its log) into dir. Returns 0, or
 * -1 with a reason in err and nothing left behind. */
int ovs_tmpdir_make(char *dir, size_t len, char *err, size_t errlen);
/* Remove path and, when it is a directory, everything in it. Never follows a symbolic
 * link (a link is removed, not what it points to) nor enters another file system. Best
 * effort: what cannot be removed stays, and the caller can lstat to see. */
void ovs_tmpdir_remove(const char *path);

#endif
