/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — writing files like an editor, see qpin-file-write.h. */
#include "qpin-file-write.h"

#include "qpin-error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Linux's own limit on symlinks followed in one lookup. */
#define MAX_LINKS 40

static gboolean fail(GError **error, int code, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean fail(GError **error, int code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, QPIN_ERROR, code, "%s: %s", path, what);
    return FALSE;
}

static gboolean empty_path(const char *path, int code, GError **error)
{
    if (path && *path)
        return FALSE;
    g_set_error_literal(error, QPIN_ERROR, code,
                        "'': an empty path names no file; give the name of a file to write");
    return TRUE;
}

/* The kinds of file qpin never writes into, with what to give instead; NULL for the others. */
static const char *refused_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "is a directory; give the name of a file to write";
    if (S_ISSOCK(mode))
        return "is a socket; give a regular file, a FIFO or a character device";
    /* A typo such as /dev/sda would overwrite a disk's first blocks with JSON. */
    if (S_ISBLK(mode))
        return "is a block device; give a regular file, a FIFO or a character device";
    return NULL;
}

static gboolean write_all(int fd, const char *data, gsize len, int *err)
{
    while (len > 0) {
        ssize_t n = write(fd, data, MIN(len, (gsize)SSIZE_MAX));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* write() returns 0 for a non-empty buffer only on a full device. */
            *err = n < 0 ? errno : ENOSPC;
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* A FIFO whose reader went away answers EPIPE and raises SIGPIPE, which would kill qpin (and
 * leave a supervised guest unattended): SIGPIPE is blocked around the write, and one this write
 * raised is taken back before it is unblocked. */
static gboolean write_all_nosigpipe(int fd, const char *data, gsize len, int *err)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    gboolean was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    gboolean ok = write_all(fd, data, len, err);
    if (!ok && *err == EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Linux releases the descriptor even when close() says EINTR: nothing is left to retry. */
static gboolean close_checked(int fd, int *err)
{
    if (close(fd) == 0 || errno == EINTR)
        return TRUE;
    *err = errno;
    return FALSE;
}

/* Opens and writes a path that is not a regular file (device, FIFO, /proc/self/fd/N) in place:
 * replacing it would turn /dev/null into a regular file. */
static gboolean write_special(const char *path, const struct stat *st, const char *data, gsize len,
                              GError **error)
{
    const char *refused = refused_kind(st->st_mode);
    if (refused)
        return fail(error, QPIN_ERROR_FAILED, path, "%s", refused);
    gboolean fifo = S_ISFIFO(st->st_mode);
    /* Without O_NONBLOCK, opening a FIFO nobody reads blocks until a reader comes, maybe
     * never; with it the open fails at once with ENXIO. */
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
    if (fd < 0) {
        int e = errno;
        if (fifo && e == ENXIO)
            return fail(error, QPIN_ERROR_FAILED, path,
                        "no process has the FIFO open for reading; start its reader first");
        return fail(error, QPIN_ERROR_FAILED, path, "cannot open for writing: %s", g_strerror(e));
    }
    struct stat now;
    if (fstat(fd, &now) < 0 || S_ISREG(now.st_mode) || refused_kind(now.st_mode)) {
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "changed while qpin opened it; try again");
    }
    int e = 0;
    /* The reader is there now: let writes wait for it to drain the pipe rather than fail with
     * EAGAIN once the pipe buffer is full. */
    if (fifo) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
            e = errno;
            close(fd);
            return fail(error, QPIN_ERROR_FAILED, path, "fcntl: %s", g_strerror(e));
        }
    }
    /* No fsync: devices and FIFOs have nothing to sync (EINVAL). */
    if (!write_all_nosigpipe(fd, data, len, &e)) {
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(e));
    }
    if (!close_checked(fd, &e))
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(e));
    return TRUE;
}

/* Truncates and rewrites the regular file @name (relative to @dirfd, which may be AT_FDCWD):
 * keeps its inode, so hard links, owner and mode stay, at the price of a moment where readers
 * see it empty or half written. @nofollow is O_NOFOLLOW or 0 (for a /proc/PID/fd/N link). */
static gboolean write_in_place(int dirfd, const char *name, int nofollow, const char *path,
                               const char *data, gsize len, GError **error)
{
    /* O_NONBLOCK: should the name have become a FIFO, the open fails or returns at once. */
    int fd = openat(dirfd, name, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK | nofollow);
    if (fd < 0)
        return fail(error, QPIN_ERROR_FAILED, path, "cannot open for writing: %s",
                    g_strerror(errno));
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "changed while qpin opened it; try again");
    }
    if (ftruncate(fd, 0) < 0) {
        e = errno;
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "cannot truncate: %s", g_strerror(e));
    }
    if (!write_all(fd, data, len, &e)) {
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(e));
    }
    if (fsync(fd) < 0) {
        e = errno;
        close(fd);
        return fail(error, QPIN_ERROR_FAILED, path, "fsync: %s", g_strerror(e));
    }
    if (!close_checked(fd, &e))
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(e));
    return TRUE;
}

/* Follows the symlinks at the end of @path by hand, so that a dangling link leads to the file to
 * create and a link to a regular file leads to the name to rename over. Returns the name reached
 * with its lstat in @st, or with *@exists FALSE when nothing is there. */
static char *resolve_links(const char *path, struct stat *st, gboolean *exists, int code,
                           GError **error)
{
    g_autofree char *cur = g_strdup(path);
    for (int hops = 0; hops <= MAX_LINKS; hops++) {
        if (lstat(cur, st) < 0) {
            if (errno == ENOENT) {
                *exists = FALSE;
                return g_steal_pointer(&cur);
            }
            fail(error, code, path, "%s", g_strerror(errno));
            return NULL;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = TRUE;
            return g_steal_pointer(&cur);
        }
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0) {
            fail(error, code, path, "cannot read the symbolic link %s: %s", cur, g_strerror(errno));
            return NULL;
        }
        target[n] = '\0';
        char *next;
        if (g_path_is_absolute(target)) {
            next = g_strdup(target);
        } else {
            g_autofree char *dir = g_path_get_dirname(cur);
            next = g_build_filename(dir, target, NULL);
        }
        g_free(cur);
        cur = next;
    }
    fail(error, code, path, "%s", g_strerror(ELOOP));
    return NULL;
}

/* The directory holding @target, without symlinks, so that opening it with O_NOFOLLOW works
 * for /var/run/x and yet cannot be redirected by a link swapped in later. */
static char *real_dir(const char *path, const char *target, int code, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(target);
    char *real = realpath(dir, NULL);
    if (real)
        return real;
    int e = errno;
    if (e == ENOENT)
        fail(error, code, path,
             "directory %s does not exist; create it first or give a writable directory", dir);
    else
        fail(error, code, path, "directory %s: %s", dir, g_strerror(e));
    return NULL;
}

/* Writes a temporary file next to @base in @dirfd and renames it over @base: readers see the
 * old content or the new, never half. @old is the file being replaced (its owner and mode are
 * kept), or NULL for a new one, which gets @new_mode. With @durable, the file and the rename
 * are fsynced. */
static gboolean write_replace(int dirfd, const char *dir, const char *base, const struct stat *old,
                              mode_t new_mode, gboolean durable, const char *path,
                              const char *data, gsize len, GError **error)
{
    g_autofree char *tmp = NULL;
    int fd = -1;
    /* The name is cut so that it stays within NAME_MAX for any @base. */
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        g_free(tmp);
        tmp = g_strdup_printf(".%.200s.qpin-%08x", base, g_random_int());
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                    0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return fail(error, QPIN_ERROR_FAILED, path, "cannot create a temporary file in %s: %s", dir,
                    g_strerror(errno));

    int e = 0;
    const char *step = "";
    struct stat st;
    if (!write_all(fd, data, len, &e)) {
        /* @e says it all. */
    } else if (old && fstat(fd, &st) == 0 &&
               (st.st_uid != old->st_uid || st.st_gid != old->st_gid) &&
               fchown(fd, old->st_uid, old->st_gid) < 0) {
        e = errno;
        if (e == EPERM) {
            /* Only root may give a file away: keep the owner by writing the old file itself. */
            close(fd);
            unlinkat(dirfd, tmp, 0);
            return write_in_place(dirfd, base, O_NOFOLLOW, path, data, len, error);
        }
        step = "cannot give the new file the owner of the old one: ";
    } else if (fchmod(fd, old ? old->st_mode & 07777 : new_mode) < 0) {
        /* After fchown, which clears set-user-ID bits; @new_mode whatever the umask. */
        e = errno;
        step = "cannot set the mode of the new file: ";
    } else if (durable && fsync(fd) < 0) {
        e = errno;
        step = "fsync: ";
    }
    if (e) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return fail(error, QPIN_ERROR_FAILED, path, "%s%s", step, g_strerror(e));
    }
    if (!close_checked(fd, &e)) {
        unlinkat(dirfd, tmp, 0);
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(e));
    }
    if (renameat(dirfd, tmp, dirfd, base) < 0) {
        e = errno;
        unlinkat(dirfd, tmp, 0);
        return fail(error, QPIN_ERROR_FAILED, path, "cannot rename %s/%s over it: %s", dir, tmp,
                    g_strerror(e));
    }
    /* Makes the rename itself durable; some filesystems cannot sync a directory (EINVAL). */
    if (durable && fsync(dirfd) < 0 && errno != EINVAL)
        return fail(error, QPIN_ERROR_FAILED, path, "fsync of directory %s: %s", dir,
                    g_strerror(errno));
    return TRUE;
}

static gboolean ends_in_slash(const char *path)
{
    return g_str_has_suffix(path, "/");
}

gboolean qpin_file_write(const char *path, const char *data, gsize len, GError **error)
{
    if (empty_path(path, QPIN_ERROR_FAILED, error))
        return FALSE;
    struct stat st;
    gboolean found = stat(path, &st) == 0;
    if (!found && errno != ENOENT)
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(errno));
    if (found && !S_ISREG(st.st_mode))
        return write_special(path, &st, data, len, error);
    if (ends_in_slash(path))
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(EISDIR));

    struct stat lst;
    gboolean exists = FALSE;
    g_autofree char *target = resolve_links(path, &lst, &exists, QPIN_ERROR_FAILED, error);
    if (!target)
        return FALSE;
    /* A /proc/PID/fd/N link reads as the file's old name, which may now be another file or
     * none ("... (deleted)"): the file it leads to can only be written through it. */
    if (found && (!exists || lst.st_dev != st.st_dev || lst.st_ino != st.st_ino))
        return write_in_place(AT_FDCWD, path, 0, path, data, len, error);

    g_autofree char *dir = real_dir(path, target, QPIN_ERROR_FAILED, error);
    if (!dir)
        return FALSE;
    g_autofree char *base = g_path_get_basename(target);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return fail(error, QPIN_ERROR_FAILED, path, "cannot open directory %s: %s", dir,
                    g_strerror(errno));
    /* Looked up again relative to the directory held open, which later steps use as well. */
    gboolean ok;
    if (fstatat(dirfd, base, &lst, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISREG(lst.st_mode))
            ok = fail(error, QPIN_ERROR_FAILED, path, "changed while qpin wrote it; try again");
        else if (lst.st_nlink > 1)
            ok = write_in_place(dirfd, base, O_NOFOLLOW, path, data, len, error);
        else
            ok = write_replace(dirfd, dir, base, &lst, 0600, TRUE, path, data, len, error);
    } else if (errno == ENOENT) {
        ok = write_replace(dirfd, dir, base, NULL, 0600, TRUE, path, data, len, error);
    } else {
        ok = fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(errno));
    }
    close(dirfd);
    return ok;
}

gboolean qpin_file_replace_regular(const char *path, const char *data, gsize len,
                                   mode_t new_mode, GError **error)
{
    if (empty_path(path, QPIN_ERROR_FAILED, error))
        return FALSE;
    if (ends_in_slash(path))
        return fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(EISDIR));
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return fail(error, QPIN_ERROR_FAILED, path, "cannot open directory %s: %s", dir,
                    g_strerror(errno));
    struct stat st;
    gboolean ok;
    if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
        ok = S_ISREG(st.st_mode)
                 ? write_replace(dirfd, dir, base, &st, new_mode, FALSE, path, data, len, error)
                 : fail(error, QPIN_ERROR_FAILED, path,
                        "exists and is not a regular file, which is never replaced");
    else if (errno == ENOENT)
        ok = write_replace(dirfd, dir, base, NULL, new_mode, FALSE, path, data, len, error);
    else
        ok = fail(error, QPIN_ERROR_FAILED, path, "%s", g_strerror(errno));
    close(dirfd);
    return ok;
}

gboolean qpin_file_write_check(const char *path, GError **error)
{
    if (empty_path(path, QPIN_ERROR_USAGE, error))
        return FALSE;
    struct stat st;
    if (stat(path, &st) == 0) {
        const char *refused = refused_kind(st.st_mode);
        if (refused)
            return fail(error, QPIN_ERROR_USAGE, path, "%s", refused);
        if (!S_ISREG(st.st_mode)) {
            /* Access rights only: opening a device can have effects of its own, and opening
             * and closing a FIFO would send its reader an end of file. */
            if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0)
                return fail(error, QPIN_ERROR_USAGE, path,
                            "cannot be opened for writing (%s); give a writable file",
                            g_strerror(errno));
            return TRUE;
        }
    } else if (errno != ENOENT) {
        return fail(error, QPIN_ERROR_USAGE, path, "%s; give the name of a file to write",
                    g_strerror(errno));
    } else if (ends_in_slash(path)) {
        return fail(error, QPIN_ERROR_USAGE, path,
                    "ends in '/', so it names a directory; give the name of a file to write");
    }

    gboolean exists = FALSE;
    g_autofree char *target = resolve_links(path, &st, &exists, QPIN_ERROR_USAGE, error);
    if (!target)
        return FALSE;
    g_autofree char *dir = real_dir(path, target, QPIN_ERROR_USAGE, error);
    if (!dir)
        return FALSE;
    struct stat dst;
    if (stat(dir, &dst) < 0 || !S_ISDIR(dst.st_mode))
        return fail(error, QPIN_ERROR_USAGE, path,
                    "%s is not a directory; give a path in an existing directory", dir);
    /* The new content goes to a temporary file renamed over the old one. */
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
        return fail(error, QPIN_ERROR_USAGE, path,
                    "cannot create files in directory %s (%s); give a path in a writable "
                    "directory",
                    dir, g_strerror(errno));
    if (exists && faccessat(AT_FDCWD, target, W_OK, AT_EACCESS) < 0)
        return fail(error, QPIN_ERROR_USAGE, path,
                    "the existing file cannot be written (%s); make it writable or give another "
                    "path",
                    g_strerror(errno));
    return TRUE;
}

const char *qpin_stream_name(FILE *stream)
{
    if (stream == stdout)
        return "standard output";
    if (stream == stderr)
        return "standard error";
    return "the output";
}

gboolean qpin_stream_write(FILE *stream, const char *text, GError **error)
{
    errno = 0;
    gboolean failed = fputs(text, stream) == EOF;
    int e = errno;
    if (fflush(stream) == EOF && !failed) {
        failed = TRUE;
        e = errno;
    }
    /* Also an error an earlier, unchecked write left on the stream: output is lost. */
    if (!failed && !ferror(stream))
        return TRUE;
    if (e)
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "cannot write to %s: %s",
                    qpin_stream_name(stream), g_strerror(e));
    else
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED,
                    "cannot write to %s: an earlier write to it failed", qpin_stream_name(stream));
    return FALSE;
}
