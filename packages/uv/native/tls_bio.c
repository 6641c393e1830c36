/* The engine's two BIOs: a byte queue per direction (network -> SSL, SSL -> network).
 * Why not BIO_s_mem: every BIO_write into a memory BIO first zeroes the bytes it is about
 * to copy over (BUF_MEM_grow_clean), so each byte in both directions was written twice; at
 * 64 KiB TLS echoes that memset was 4% of the server's time. A queue copies each byte in
 * once and out once, and the engine reads its fill level without a BIO_ctrl call.
 *
 * Semantics the engine relies on (those of a memory BIO): writes always take everything
 * (the queue grows); a read of an empty queue asks for a retry (want-read), or reports end
 * of file once tls_queue_set_eof() was called. A queue that grew past TLS_QUEUE_KEEP gives
 * its memory back when it is emptied, so one burst does not pin it for the connection.
 *
 * Within one engine call a queue may also borrow the caller's memory (feedRead, writeInto):
 * lent input is read where it lies after the queued bytes, and only what the SSL leaves of
 * it is copied in; a sink takes the records written while the queue is empty, so they land
 * in the caller's send buffer without passing through the queue. */
#include "tls.h"
#include <stdlib.h>
#include <string.h>

/* First allocation: one whole record. */
#define QUEUE_MIN (SSL3_RT_MAX_PLAIN_LENGTH + SSL3_RT_MAX_ENCRYPTED_OVERHEAD + SSL3_RT_HEADER_LENGTH)

static BIO_METHOD* queue_method;
static uv_once_t queue_once = UV_ONCE_INIT;

static void drained(tls_queue* q) {
  q->start = q->end = 0;
  if (q->cap > TLS_QUEUE_KEEP) {
    free(q->data);
    q->data = NULL;
    q->cap = 0;
  }
}

int tls_queue_append(tls_queue* q, const char* in, size_t len) {
  size_t used = q->end - q->start;
  if (q->cap - q->end < len) {
    if (q->cap - used < len) {
      size_t cap = q->cap < QUEUE_MIN ? QUEUE_MIN : q->cap;
      while (cap - used < len) {
        if (cap > SIZE_MAX / 2) return 0;
        cap *= 2;
      }
      /* Move the unread bytes to a new block rather than realloc: realloc would copy the
       * bytes already read too. */
      char* data = malloc(cap);
      if (data == NULL) return 0;
      if (used > 0) memcpy(data, q->data + q->start, used);
      free(q->data);
      q->data = data;
      q->cap = cap;
    } else {
      memmove(q->data, q->data + q->start, used);
    }
    q->start = 0;
    q->end = used;
  }
  memcpy(q->data + q->end, in, len);
  q->end += len;
  return 1;
}

static int queue_write(BIO* b, const char* in, size_t len, size_t* written) {
  tls_queue* q = BIO_get_data(b);
  *written = 0;
  if (len == 0) return 1;
  /* The sink comes before the queue in the byte order: only while the queue is empty. */
  if (q->sink != NULL && q->end == q->start) {
    size_t room = q->sink_cap - q->sink_len;
    size_t n = len < room ? len : room;
    memcpy(q->sink + q->sink_len, in, n);
    q->sink_len += n;
    in += n;
    len -= n;
    *written = n;
    if (len == 0) return 1;
  }
  if (!tls_queue_append(q, in, len)) return *written > 0;
  *written += len;
  return 1;
}

static int queue_read(BIO* b, char* out, size_t len, size_t* readbytes) {
  tls_queue* q = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *readbytes = 0;
  size_t used = q->end - q->start;
  if (used == 0 && q->lent_len > 0) {
    size_t n = len < q->lent_len ? len : q->lent_len;
    memcpy(out, q->lent, n);
    q->lent += n;
    q->lent_len -= n;
    *readbytes = n;
    return 1;
  }
  if (used == 0) {
    if (!q->eof) BIO_set_retry_read(b);
    return 0;
  }
  size_t n = len < used ? len : used;
  memcpy(out, q->data + q->start, n);
  q->start += n;
  if (q->start == q->end) drained(q);
  *readbytes = n;
  return 1;
}

static long queue_ctrl(BIO* b, int cmd, long num, void* ptr) {
  tls_queue* q = BIO_get_data(b);
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return (long)tls_queue_size(q);
    case BIO_CTRL_EOF:
      return q->eof && tls_queue_size(q) == 0;
    case BIO_CTRL_FLUSH:
      return 1; /* nothing below it: the layer sends what it takes */
    case BIO_CTRL_WPENDING:
      return 0;
    default:
      return 0;
  }
}

static int queue_create(BIO* b) {
  tls_queue* q = calloc(1, sizeof *q);
  if (q == NULL) return 0;
  BIO_set_data(b, q);
  BIO_set_init(b, 1);
  return 1;
}

static int queue_destroy(BIO* b) {
  tls_queue* q = BIO_get_data(b);
  if (q == NULL) return 0;
  free(q->data);
  free(q);
  BIO_set_data(b, NULL);
  return 1;
}

static void make_method(void) {
  BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "loopkit byte queue");
  if (m == NULL) return;
  if (!BIO_meth_set_write_ex(m, queue_write) || !BIO_meth_set_read_ex(m, queue_read) ||
      !BIO_meth_set_ctrl(m, queue_ctrl) || !BIO_meth_set_create(m, queue_create) ||
      !BIO_meth_set_destroy(m, queue_destroy)) {
    BIO_meth_free(m);
    return;
  }
  queue_method = m; /* kept for the life of the process: every engine's BIOs use it */
}

BIO* tls_queue_new(tls_queue** queue) {
  uv_once(&queue_once, make_method);
  if (queue_method == NULL) return NULL;
  BIO* b = BIO_new(queue_method);
  if (b != NULL) *queue = BIO_get_data(b);
  return b;
}

size_t tls_queue_size(const tls_queue* q) {
  return q->end - q->start + q->lent_len;
}

void tls_queue_lend(tls_queue* q, const char* data, size_t len) {
  q->lent = data;
  q->lent_len = len;
}

int tls_queue_keep_lent(tls_queue* q) {
  int ok = q->lent_len == 0 || tls_queue_append(q, q->lent, q->lent_len);
  q->lent = NULL;
  q->lent_len = 0;
  return ok;
}

void tls_queue_sink(tls_queue* q, char* buf, size_t cap) {
  q->sink = buf;
  q->sink_cap = cap;
  q->sink_len = 0;
}

size_t tls_queue_unsink(tls_queue* q) {
  size_t n = q->sink_len;
  q->sink = NULL;
  q->sink_cap = q->sink_len = 0;
  return n;
}

void tls_queue_consume(tls_queue* q, size_t n) {
  q->start += n;
  if (q->start == q->end) drained(q);
}

void tls_queue_free(tls_queue* q) {
  free(q->data);
  memset(q, 0, sizeof *q);
}
