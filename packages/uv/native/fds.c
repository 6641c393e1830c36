/* Which env owns which descriptor: sockets and wake-up fds made or adopted here.
 *
 * Why: a worker that exits (or is terminated) with Sockets still open never
 * runs their FinalizationRegistry callbacks, so without this table their fds
 * stay open for the life of the process. The env cleanup hook (addon.c) closes
 * whatever its env still owns.
 *
 * Ownership rules:
 * - recorded when the addon creates the fd (socket, socketpair, accept4,
 *   wakeupOpen) and when Socket.fromFd adopts one (sockinfo); adoption moves
 *   ownership to the adopting env, so an fd created by a worker and adopted by
 *   another thread is not closed when the worker exits;
 * - forgotten by the addon's close() (before the fd is closed) and by
 *   Socket#detach() (forget()): a socket closed from JS is never closed again,
 *   a detached fd belongs to the caller;
 * - each entry keeps the identity of the open file (st_dev, st_ino; socket and
 *   eventfd inodes are never shared by two live files). An fd closed by other
 *   means (fs.closeSync, a detach()-less hand-over) and whose number was reused
 *   by another file fails the identity check, and is left alone by the hook.
 * The table is process-wide (one fd number space) and guarded by a mutex: the
 * threads of different envs create and close fds concurrently. It is indexed by
 * fd number and only grows. */
#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  env_state* owner; /* NULL: not ours */
  dev_t dev;
  ino_t ino;
} fd_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fd_entry* table;
static size_t table_len;

void fds_own(env_state* st, int fd) {
  struct stat sb;
  if (st == NULL || fd < 0 || fstat(fd, &sb) < 0) return;
  pthread_mutex_lock(&lock);
  if ((size_t)fd >= table_len) {
    size_t n = table_len ? table_len : 64;
    while (n <= (size_t)fd) n *= 2;
    fd_entry* t = realloc(table, n * sizeof *t);
    if (t == NULL) { pthread_mutex_unlock(&lock); return; } /* untracked: the old behaviour */
    for (size_t i = table_len; i < n; i++) t[i].owner = NULL;
    table = t;
    table_len = n;
  }
  table[fd].owner = st;
  table[fd].dev = sb.st_dev;
  table[fd].ino = sb.st_ino;
  pthread_mutex_unlock(&lock);
}

void fds_forget(int fd) {
  if (fd < 0) return;
  pthread_mutex_lock(&lock);
  if ((size_t)fd < table_len) table[fd].owner = NULL;
  pthread_mutex_unlock(&lock);
}

/* Closes every fd st still owns whose open file is still the one recorded.
 * Called by the env cleanup hook after every object of st was torn down (no
 * uv_poll or PollSet of st watches anything any more). Returns how many fds
 * were closed. */
int fds_close_env(env_state* st) {
  int closed = 0;
  pthread_mutex_lock(&lock);
  for (size_t fd = 0; fd < table_len; fd++) {
    if (table[fd].owner != st) continue;
    table[fd].owner = NULL;
    struct stat sb;
    if (fstat((int)fd, &sb) == 0 && sb.st_dev == table[fd].dev && sb.st_ino == table[fd].ino) {
      close((int)fd); /* EINTR still closed it (Linux, macOS): never retried */
      closed++;
    }
  }
  pthread_mutex_unlock(&lock);
  return closed;
}
