/* tmpdir.h - the harness's private temporary directories, and what a SIGKILL leaves.
 *
 * The managed fleet keeps its servers' files in one 0700 directory, $TMPDIR/oversell.XXXXXX
 * (/tmp when TMPDIR is unset or empty). A harness killed by SIGKILL cannot remove it; its
 * servers die with it (PR_SET_PDEATHSIG), the directory stays. So each directory holds a
 * record of the process that made it, and making a new one first removes those whose
 * maker is gone.
 *
 * The record is the file OVS_TMPDIR_OWNER in the directory, five lines of text:
 *
 *     oversell-owner 1
 *     pid 12345
 *     start 678901            field 22 of /proc/<pid>/stat: start time in clock ticks
 *                             since boot, so a pid the kernel gave to another process
 *                             is not mistaken for the maker
 *     boot 3c6e0b8a-...       /proc/sys/kernel/random/boot_id: after a reboot no maker
 *                             is alive, whatever its pid
 *     pidns pid:[4026531836]  readlink /proc/self/ns/pid: a pid means nothing in another
 *                             pid namespace (containers sharing a /tmp)
 *
 * A directory is removed only when all of this holds: its name is OVS_TMPDIR_PREFIX and six
 * letters or digits, as mkdtemp makes them; it is a directory (not a symbolic link) owned
 * by the current user with no permission for others and none for its group but search
 * (0700, or 0710 once a managed database server was given a way in: dbserver.h); it
 * holds a complete, valid record, owned by the current user; and the record's boot is
 * another boot, or its pid namespace is ours and its process is gone, a zombie, or a
 * process with another start time. Anything else, a record from another pid namespace included, is left alone. */
#ifndef OVS_TMPDIR_H
#define OVS_TMPDIR_H

#include <stddef.h>

#define OVS_TMPDIR_PREFIX "oversell." /* then mkdtemp's XXXXXX */
#define OVS_TMPDIR_OWNER "owner"      /* the record, inside the directory */

/* Remove the stale directories in the parent (see above), then make a new private one
 * there with this process's record, and write its absolute path (symbolic links resolved:
 * redis-server changes into it before it opens its log) into dir. Returns 0, or -1 with a
 * reason in err and nothing left behind. A stale directory that cannot be removed is not
 * an error. */
int ovs_tmpdir_make(char *dir, size_t len, char *err, size_t errlen);

/* Remove path and, when it is a directory, everything in it. Never follows a symbolic
 * link (a link is removed, not what it points to) nor enters another file system. Best
 * effort: what cannot be removed stays, and the caller can lstat to see. */
void ovs_tmpdir_remove(const char *path);

#endif
