/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — writing a whole file the way a careful editor saves one, and writing text to a stdio
 * stream with every failure caught. Never prints: errors are QPIN_ERROR with the exit status
 * as code. */
#pragma once

#include <glib.h>
#include <sys/types.h>
#include <stdio.h>

G_BEGIN_DECLS

/* Writes @len bytes of @data to @path as the whole new content of the file it names:
 * - symlinks are followed and kept: the file they lead to is written (a dangling link creates
 *   its target);
 * - an existing path that is not a regular file (character device such as /dev/null, FIFO,
 *   /dev/stdout) is opened and written in place, never replaced or unlinked; a FIFO must have a
 *   reader at that moment (qpin does not wait for one); directories, sockets and block devices
 *   are refused;
 * - an existing regular file is replaced atomically by a temporary file in the same directory
 *   that gets the old file's owner and mode, is fsynced and renamed over it, so a reader sees
 *   the old or the new content, never half of it. A file with several hard links is instead
 *   truncated and rewritten in place, as editors do, so that every link keeps showing it; so
 *   is a file whose owner qpin cannot give to a new file;
 * - a new file is created 0600 whatever the umask: it may hold a command line with secrets.
 * Short writes are completed; write, fsync and close are all checked. Errors (QPIN_ERROR,
 * QPIN_ERROR_FAILED) read "PATH: reason". */
gboolean qpin_file_write(const char *path, const char *data, gsize len, GError **error);

/* Replaces the regular file @path, or creates it, with @len bytes of @data: a temporary file in
 * the same directory (the old file's owner and mode, @new_mode for a new one) renamed over it,
 * so a reader sees the old or the new content, never half. Anything else at @path (a symlink,
 * FIFO, device, directory) is refused and left alone, unlike qpin_file_write(). Not fsynced:
 * for files rewritten again and again whose last content alone matters (a metrics textfile).
 * Errors (QPIN_ERROR, QPIN_ERROR_FAILED) read "PATH: reason". */
gboolean qpin_file_replace_regular(const char *path, const char *data, gsize len,
                                   mode_t new_mode, GError **error);

/* Checks, without opening or creating anything, that qpin_file_write() to @path can work: the
 * path is not empty, does not name a directory, socket or block device; an existing
 * non-regular file is writable; the directory of a regular or new file exists and qpin may
 * create files in it. Errors (QPIN_ERROR, QPIN_ERROR_USAGE) read "PATH: what is wrong; what
 * would be right". A FIFO is not opened: a reader is only needed when qpin_file_write()
 * runs. */
gboolean qpin_file_write_check(const char *path, GError **error);

/* Writes @text to @stream and flushes it. On failure (also an error left on @stream by an
 * earlier write) sets "cannot write to standard output: REASON" (QPIN_ERROR,
 * QPIN_ERROR_FAILED), naming the stream. */
gboolean qpin_stream_write(FILE *stream, const char *text, GError **error);

/* "standard output", "standard error", or "the output" for another stream. */
const char *qpin_stream_name(FILE *stream);

G_END_DECLS
