/* Uring: an io_uring instance (Linux only) driven from JS, for a completion-based
 * proactor. Raw syscalls (io_uring_setup, io_uring_enter, io_uring_register) and
 * mmap; no liburing.
 *
 * Shape: each submitting method (recv, recvPooled, recvMulti, send, poll, pollMulti, accept) takes a slot, writes one
 * SQE whose user_data names the slot, and returns the slot's id (> 0) or -errno.
 * SQEs are queued, not entered: submit() hands every queued SQE to the kernel in one
 * io_uring_enter (the JS side calls it once per turn of Node's loop). The ring fd itself
 * is watched by one uv_poll in Node's loop (watch/unwatch/ref/unref are the Epoll ones,
 * watch.c): it is readable while the completion queue holds entries, so every completion
 * wakes Node, and harvest(out, slab, at) copies up to out.length / 4 completions in one call
 * (what it leaves keeps the fd readable). libuv watches its own ring the same way.
 *
 * Task work: the ring is set up with COOP_TASKRUN (no IPI; the kernel posts completions
 * when this thread next leaves a syscall, and wakes it if it sleeps in epoll_wait), not
 * DEFER_TASKRUN. DEFER_TASKRUN posts completions only inside io_uring_enter, and its only
 * way to tell a thread parked in another poller is an eventfd signal that the kernel may
 * send late (deferred through RCU) or not at all while work is already queued: measured
 * here, a one-connection ping-pong whose peer ran on another CPU waited ~10-20 ms per
 * round trip. TASKRUN_FLAG makes the kernel flag pending task work in the SQ ring, so
 * harvest enters the kernel only when it must.
 *
 * Receive pool: where the kernel has provided-buffer rings (5.19+), the ring registers a
 * pool of POOL_COUNT buffers of POOL_BUF bytes (group 0). recvPooled(fd, max) receives
 * into whichever pool buffer the kernel picks when data arrives, so a socket waiting for
 * data holds no buffer of its own; recvMulti(fd) (6.0+) does the same for every message
 * until it ends: one SQE, then a completion per chunk received, each flagged "more"
 * while the receive stays armed. harvest copies each pooled completion's bytes into the
 * caller's slab and gives the buffer back to the kernel in the same call, so buffers are
 * busy only between the kernel filling them and the next harvest. With every buffer in
 * use a pooled receive completes with -ENOBUFS (nothing consumed; a multishot one ends):
 * post it again after the harvest.
 *
 * Ids: (generation << 20) | slot index, exact in a double. A slot's generation
 * changes each time it is reused, so cancel(id) of an operation that already
 * completed never cancels its slot's next operation.
 *
 * Lifecycle rules (libuv style):
 * - A Buffer handed to recv/send is held by a strong napi reference from submission
 *   until its completion is harvested (or the ring is closed), so the kernel never
 *   writes into or reads from collected memory.
 * - cancel(id) queues IORING_OP_ASYNC_CANCEL; the operation still completes, with
 *   -ECANCELED (or with its result if it finished first): its completion is harvested
 *   like any other, and only then is its Buffer released and its slot reused. A
 *   multishot receive holds its slot until its last completion (no "more" flag).
 * - Closing an fd with an operation in flight does not cancel it (the ring holds its
 *   own reference to the file): cancel first, as with libuv requests.
 * - close() with operations in flight: it cancels all of them, enters the kernel and
 *   waits for their completions (socket operations cancel at once; the wait is bounded
 *   at 5 s), releases every Buffer, then unmaps the rings, stops the watcher and
 *   closes the ring fd. If the kernel has not completed an operation by
 *   then, its Buffer is kept referenced (leaked) rather than freed under the kernel.
 *   close() is idempotent; a closed ring returns -EBADF from every method.
 * - An unwatched, unreachable Uring is garbage-collected; its finalizer does close().
 *   The env cleanup hook (worker exit, process teardown) does the same.
 */
#include "common.h"

#ifdef __linux__
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <linux/time_types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef POLLRDHUP /* poll.h declares it only under _GNU_SOURCE; the kernel's value */
#define POLLRDHUP 0x2000
#endif

#define SLOT_BITS 20
#define MAX_SLOTS (1u << SLOT_BITS)
#define CANCEL_TAG UINT64_MAX
#define OP_RECV 1
#define OP_SEND 2
#define OP_POLL 3
#define OP_ACCEPT 4
#define OP_POLL_MULTI 5
/* 256 x 64 KiB: 16 MiB of address space, mapped only as the kernel fills it. Enough that
 * 100 busy connections with several chunks each between two harvests rarely run it dry. */
#define POOL_COUNT 256
#define POOL_BUF (64 * 1024)
#define POOL_GROUP 0

typedef struct {
  napi_ref buf;     /* the Buffer the kernel uses, NULL for poll/accept */
  uint32_t gen;     /* bumped on reuse; part of the id */
  int32_t next_free;
  int busy;
} slot;

typedef struct {
  selobj base;      /* base.fd: the ring fd, which Node's loop watches */
  napi_env env;
  int ring_fd;      /* the same fd, kept apart so teardown closes it once, after the unmap */
  void* sq_ptr;
  size_t sq_len;
  void* cq_ptr;
  size_t cq_len;
  struct io_uring_sqe* sqes;
  size_t sqes_len;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_cqe* cqes;
  unsigned sq_entries;
  unsigned queued;  /* SQEs written since the last enter */
  int taskrun_flag; /* IORING_SETUP_TASKRUN_FLAG: sq_flags says when task work waits */
  slot* slots;
  uint32_t nslots;
  int32_t free_head;
  uint32_t inflight;
  struct io_uring_buf_ring* pool_ring; /* the provided-buffer ring, NULL without a pool */
  char* pool;                          /* POOL_COUNT buffers of POOL_BUF bytes */
  uint16_t pool_tail;                  /* our copy of pool_ring->tail */
  /* harvest's target (harvestTarget): held by references, so the memory stays put. */
  napi_ref target_out_ref, target_slab_ref;
  double* target_out;
  size_t target_out_len;               /* numbers, not bytes */
  char* target_slab;
  size_t target_slab_len;
} ring_obj;

static int sys_setup(unsigned entries, struct io_uring_params* p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}
static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}
/* Waits at most ms for one completion (running the task work pending). */
static int sys_wait(int fd, int ms) {
  struct __kernel_timespec ts = { ms / 1000, (long long)(ms % 1000) * 1000000 };
  struct io_uring_getevents_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.ts = (uint64_t)(uintptr_t)&ts;
  return (int)syscall(__NR_io_uring_enter, fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
}

/* Enters the kernel with every queued SQE: 0 or -errno. */
static int flush(ring_obj* o) {
  while (o->queued > 0) {
    int r = sys_enter(o->ring_fd, o->queued, 0, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    o->queued -= (unsigned)r < o->queued ? (unsigned)r : o->queued;
    if (r == 0) return -EAGAIN;
  }
  return 0;
}

/* The next free SQE (entering the kernel first when the SQ is full), or NULL. */
static struct io_uring_sqe* next_sqe(ring_obj* o) {
  unsigned tail = *o->sq_tail;
  unsigned head = __atomic_load_n(o->sq_head, __ATOMIC_ACQUIRE);
  if (tail - head >= o->sq_entries) {
    if (flush(o) < 0) return NULL;
    head = __atomic_load_n(o->sq_head, __ATOMIC_ACQUIRE);
    if (tail - head >= o->sq_entries) return NULL;
  }
  unsigned idx = tail & *o->sq_mask;
  struct io_uring_sqe* sqe = &o->sqes[idx];
  memset(sqe, 0, sizeof *sqe);
  o->sq_array[idx] = idx;
  return sqe;
}

static void publish(ring_obj* o) {
  __atomic_store_n(o->sq_tail, *o->sq_tail + 1, __ATOMIC_RELEASE);
  o->queued++;
}

static int32_t slot_take(ring_obj* o) {
  if (o->free_head < 0) {
    if (o->nslots >= MAX_SLOTS) return -EAGAIN;
    uint32_t n = o->nslots ? o->nslots * 2 : 256;
    if (n > MAX_SLOTS) n = MAX_SLOTS;
    slot* s = realloc(o->slots, sizeof *s * n);
    if (s == NULL) return -ENOMEM;
    for (uint32_t i = o->nslots; i < n; i++) {
      s[i].buf = NULL;
      s[i].gen = 0;
      s[i].busy = 0;
      s[i].next_free = i + 1 < n ? (int32_t)(i + 1) : -1;
    }
    o->free_head = (int32_t)o->nslots;
    o->slots = s;
    o->nslots = n;
  }
  int32_t i = o->free_head;
  o->free_head = o->slots[i].next_free;
  o->slots[i].busy = 1;
  o->slots[i].gen = (o->slots[i].gen + 1) & 0x7fffffff;
  if (o->slots[i].gen == 0) o->slots[i].gen = 1;
  return i;
}

static void slot_release(napi_env env, ring_obj* o, uint32_t i) {
  slot* s = &o->slots[i];
  if (s->buf != NULL) {
    napi_delete_reference(env, s->buf);
    s->buf = NULL;
  }
  s->busy = 0;
  s->next_free = o->free_head;
  o->free_head = (int32_t)i;
}

static double slot_id(ring_obj* o, uint32_t i) {
  return (double)o->slots[i].gen * (double)MAX_SLOTS + (double)i;
}

/* Hands buffer bid back to the kernel (a store into the shared ring, no syscall). */
static void pool_give(ring_obj* o, unsigned bid) {
  struct io_uring_buf* b = &o->pool_ring->bufs[o->pool_tail & (POOL_COUNT - 1)];
  b->addr = (uint64_t)(uintptr_t)(o->pool + (size_t)bid * POOL_BUF);
  b->len = POOL_BUF;
  b->bid = (uint16_t)bid;
  o->pool_tail++;
  __atomic_store_n(&o->pool_ring->tail, o->pool_tail, __ATOMIC_RELEASE);
}

/* Registers the receive pool; without kernel support the ring simply has none. Pages are
 * mapped lazily, so memory grows only with the buffers the traffic actually fills. */
static void pool_setup(ring_obj* o) {
  size_t ring_len = POOL_COUNT * sizeof(struct io_uring_buf);
  void* ring = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* pool = mmap(NULL, (size_t)POOL_COUNT * POOL_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED || pool == MAP_FAILED) goto fail;
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)ring;
  reg.ring_entries = POOL_COUNT;
  reg.bgid = POOL_GROUP;
  if (syscall(__NR_io_uring_register, o->ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) goto fail;
  o->pool_ring = ring;
  o->pool = pool;
  o->pool_tail = 0;
  for (unsigned bid = 0; bid < POOL_COUNT; bid++) pool_give(o, bid);
  return;
fail:
  if (ring != MAP_FAILED) munmap(ring, ring_len);
  if (pool != MAP_FAILED) munmap(pool, (size_t)POOL_COUNT * POOL_BUF);
}

/* After the ring fd is closed (the kernel let go of the pool with the ring). */
static void pool_free(ring_obj* o) {
  if (o->pool_ring == NULL) return;
  munmap(o->pool_ring, POOL_COUNT * sizeof(struct io_uring_buf));
  munmap(o->pool, (size_t)POOL_COUNT * POOL_BUF);
  o->pool_ring = NULL;
  o->pool = NULL;
}

static void unmap(ring_obj* o) {
  if (o->sqes != NULL && o->sqes != MAP_FAILED) munmap(o->sqes, o->sqes_len);
  if (o->cq_ptr != NULL && o->cq_ptr != MAP_FAILED && o->cq_ptr != o->sq_ptr) munmap(o->cq_ptr, o->cq_len);
  if (o->sq_ptr != NULL && o->sq_ptr != MAP_FAILED) munmap(o->sq_ptr, o->sq_len);
  o->sqes = NULL;
  o->sq_ptr = o->cq_ptr = NULL;
}

static void target_release(napi_env env, ring_obj* o) {
  if (o->target_out_ref != NULL) napi_delete_reference(env, o->target_out_ref);
  if (o->target_slab_ref != NULL) napi_delete_reference(env, o->target_slab_ref);
  o->target_out_ref = o->target_slab_ref = NULL;
  o->target_out = NULL;
  o->target_slab = NULL;
  o->target_out_len = o->target_slab_len = 0;
}

/* Cancels everything in flight and waits (bounded) for the completions; then frees. */
static void ring_teardown(native_obj* base) {
  ring_obj* o = (ring_obj*)base;
  napi_env env = o->env;
  if (o->ring_fd >= 0) {
    if (o->inflight > 0) {
      struct io_uring_sqe* sqe = next_sqe(o);
      if (sqe != NULL) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->fd = -1;
        sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
        sqe->user_data = CANCEL_TAG;
        publish(o);
      }
      flush(o);
      for (int waited = 0; o->inflight > 0 && waited < 50;) {
        unsigned head = *o->cq_head;
        unsigned tail = __atomic_load_n(o->cq_tail, __ATOMIC_ACQUIRE);
        if (head == tail) {
          if (sys_wait(o->ring_fd, 100) < 0 && errno == ETIME) waited++;
          continue;
        }
        for (; head != tail; head++) {
          struct io_uring_cqe* cqe = &o->cqes[head & *o->cq_mask];
          uint64_t ud = cqe->user_data;
          /* A multishot receive is in flight until its last completion (no "more" flag). */
          if (ud == CANCEL_TAG || (cqe->flags & IORING_CQE_F_MORE)) continue;
          uint32_t i = (uint32_t)(ud & (MAX_SLOTS - 1));
          if (i < o->nslots && o->slots[i].busy) {
            slot_release(env, o, i);
            o->inflight--;
          }
        }
        __atomic_store_n(o->cq_head, head, __ATOMIC_RELEASE);
      }
    }
    if (o->inflight == 0) {
      /* Only now may the kernel no longer touch any Buffer: release them all. */
      for (uint32_t i = 0; i < o->nslots; i++)
        if (o->slots[i].buf != NULL) slot_release(env, o, i);
    }
    unmap(o);
  }
  target_release(env, o);
  /* Stops the watcher and closes base.fd, which is the ring fd. */
  selobj_teardown(base);
  o->ring_fd = -1;
  /* A receive the kernel never completed may still write into the pool: leak it then, as its Buffers. */
  if (o->inflight == 0) pool_free(o);
}

static void finalize(napi_env env, void* data, void* hint) {
  ring_obj* o = data;
  obj_unlink(&o->base.head);
  ring_teardown(&o->base.head);
  free(o->slots);
  free(o);
}

/* new Uring(entries): sets this.fd to the ring fd, or to -errno when setup failed. */
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  int32_t entries = 256;
  if (argc > 0 && !is_undefined(env, argv[0]) && arg_int32(env, argv[0], "entries", &entries)) return NULL;
  if (entries < 1 || entries > 4096) { throw_range(env, "entries must be in 1..4096"); return NULL; }
  ring_obj* o = calloc(1, sizeof *o);
  if (o == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  o->env = env;
  o->ring_fd = -1;
  o->free_head = -1;
  int err = 0;
  struct io_uring_params p;
  /* COOP_TASKRUN + TASKRUN_FLAG (5.19+), SINGLE_ISSUER (6.0+): see the top of this file.
   * An older kernel refuses unknown flags with EINVAL: plain then. */
  static const unsigned flag_sets[] = {
    IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER,
    IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_CQSIZE,
  };
  int fd = -1;
  for (size_t k = 0; k < sizeof flag_sets / sizeof flag_sets[0]; k++) {
    memset(&p, 0, sizeof p);
    p.flags = flag_sets[k];
    p.cq_entries = 16384;
    fd = sys_setup((unsigned)entries, &p);
    if (fd >= 0 || errno != EINVAL) break;
  }
  if (fd < 0) { err = -errno; goto done; }
  o->taskrun_flag = (p.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
  o->ring_fd = fd;
  if (!(p.features & IORING_FEAT_NODROP)) { err = -ENOSYS; goto done; }
  o->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  o->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    if (o->cq_len > o->sq_len) o->sq_len = o->cq_len;
    o->cq_len = o->sq_len;
  }
  o->sq_ptr = mmap(NULL, o->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (o->sq_ptr == MAP_FAILED) { err = -errno; goto done; }
  if (p.features & IORING_FEAT_SINGLE_MMAP) o->cq_ptr = o->sq_ptr;
  else {
    o->cq_ptr = mmap(NULL, o->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (o->cq_ptr == MAP_FAILED) { err = -errno; goto done; }
  }
  o->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  o->sqes = mmap(NULL, o->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (o->sqes == MAP_FAILED) { err = -errno; goto done; }
  char* sq = o->sq_ptr;
  char* cq = o->cq_ptr;
  o->sq_head = (unsigned*)(sq + p.sq_off.head);
  o->sq_tail = (unsigned*)(sq + p.sq_off.tail);
  o->sq_mask = (unsigned*)(sq + p.sq_off.ring_mask);
  o->sq_array = (unsigned*)(sq + p.sq_off.array);
  o->sq_flags = (unsigned*)(sq + p.sq_off.flags);
  o->cq_head = (unsigned*)(cq + p.cq_off.head);
  o->cq_tail = (unsigned*)(cq + p.cq_off.tail);
  o->cq_mask = (unsigned*)(cq + p.cq_off.ring_mask);
  o->cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  o->sq_entries = p.sq_entries;
  pool_setup(o);
done:
  if (err < 0) {
    unmap(o);
    if (o->ring_fd >= 0) close(o->ring_fd);
    o->ring_fd = -1;
  }
  selobj_setup(env, self, &o->base, err < 0 ? err : o->ring_fd, finalize);
  o->base.head.teardown = ring_teardown;
  return self;
}

/* Common part of every submitting method: an SQE for slot i, or -errno. */
static struct io_uring_sqe* begin(ring_obj* o, int32_t* slot_or_err) {
  if (o->ring_fd < 0) { *slot_or_err = -EBADF; return NULL; }
  int32_t i = slot_take(o);
  if (i < 0) { *slot_or_err = i; return NULL; }
  struct io_uring_sqe* sqe = next_sqe(o);
  if (sqe == NULL) {
    o->slots[i].busy = 0;
    o->slots[i].next_free = o->free_head;
    o->free_head = i;
    *slot_or_err = -EBUSY;
    return NULL;
  }
  sqe->user_data = ((uint64_t)o->slots[i].gen << SLOT_BITS) | (uint32_t)i;
  *slot_or_err = i;
  return sqe;
}

/* recv(fd, buf, offset, length) / send(fd, buf, offset, length) -> id or -errno */
static napi_value rw(napi_env env, napi_callback_info info, int op) {
  size_t argc = 4;
  napi_value argv[4];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd;
  char* data;
  size_t len;
  if (argc < 4 || arg_int32(env, argv[0], "fd", &fd) || arg_span(env, argv + 1, &data, &len)) {
    if (argc < 4) throw_type(env, "expected (fd, buf, offset, length)");
    return NULL;
  }
  int32_t i;
  struct io_uring_sqe* sqe = begin(o, &i);
  if (sqe == NULL) return num(env, i);
  if (napi_create_reference(env, argv[1], 1, &o->slots[i].buf) != napi_ok) {
    o->slots[i].buf = NULL;
    /* The SQE is written but not published: it is simply overwritten later. */
    slot_release(env, o, (uint32_t)i);
    return num(env, -ENOMEM);
  }
  sqe->opcode = op == OP_RECV ? IORING_OP_RECV : IORING_OP_SEND;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)data;
  sqe->len = (uint32_t)len;
  sqe->msg_flags = op == OP_SEND ? MSG_NOSIGNAL : 0;
  /* A receive is posted when nothing is waiting (the JS side took what was there):
   * arm the poll first instead of trying a recv that would say EAGAIN. A send is
   * posted after the non-blocking send said EAGAIN: the same. */
  sqe->ioprio = IORING_RECVSEND_POLL_FIRST;
  publish(o);
  o->inflight++;
  return num(env, (int64_t)slot_id(o, (uint32_t)i));
}

static napi_value recv_(napi_env env, napi_callback_info info) { return rw(env, info, OP_RECV); }

/* The SQE of a receive into the pool (len 0: a whole pool buffer), or NULL with -errno in
 * *i (-ENOSYS: the ring has no pool). */
static struct io_uring_sqe* pooled_recv(ring_obj* o, int32_t fd, uint32_t len, int32_t* i) {
  if (o->ring_fd >= 0 && o->pool_ring == NULL) { *i = -ENOSYS; return NULL; }
  struct io_uring_sqe* sqe = begin(o, i);
  if (sqe == NULL) return NULL;
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = fd;
  sqe->len = len;
  sqe->flags = IOSQE_BUFFER_SELECT;
  sqe->buf_group = POOL_GROUP;
  return sqe;
}

/* recvPooled(fd, max) -> id or -errno (-ENOSYS: no pool): receives up to max bytes into a pool buffer. */
static napi_value recv_pooled_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd, max;
  if (argc < 2 || arg_int32(env, argv[0], "fd", &fd) || arg_int32(env, argv[1], "max", &max)) {
    if (argc < 2) throw_type(env, "expected (fd, max)");
    return NULL;
  }
  if (max < 1) { throw_range(env, "max must be at least 1"); return NULL; }
  int32_t i;
  struct io_uring_sqe* sqe = pooled_recv(o, fd, (uint32_t)(max < POOL_BUF ? max : POOL_BUF), &i);
  if (sqe == NULL) return num(env, i);
  sqe->ioprio = IORING_RECVSEND_POLL_FIRST;
  publish(o);
  o->inflight++;
  return num(env, (int64_t)slot_id(o, (uint32_t)i));
}

/* recvMulti(fd, limit) -> id or -errno (-ENOSYS: no pool): a multishot pooled receive. It stays
 * armed (its completions flagged "more") until EOF, an error, -ENOBUFS, a cancel or, with
 * limit > 0, once it has received about limit bytes (kernel 6.17+: the total cap in
 * sqe->optlen, which shares its place with file_index; the last chunk may pass the limit
 * by up to a pool buffer). The cap is what bounds the bytes the kernel takes off the
 * socket before the reader has seen them: uncapped, the kernel drains the socket into the
 * pool as fast as the peer writes, and a reader that pauses still ends up holding it all.
 * A kernel without the cap refuses a nonzero one with -EINVAL (its completion). */
static napi_value recv_multi_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd, limit;
  if (argc < 2 || arg_int32(env, argv[0], "fd", &fd) || arg_int32(env, argv[1], "limit", &limit)) {
    if (argc < 2) throw_type(env, "expected (fd, limit)");
    return NULL;
  }
  if (limit < 0) { throw_range(env, "limit must be 0 (none) or a number of bytes"); return NULL; }
  int32_t i;
  /* len 0: a multishot receive takes a whole pool buffer each time */
  struct io_uring_sqe* sqe = pooled_recv(o, fd, 0, &i);
  if (sqe == NULL) return num(env, i);
  sqe->ioprio = IORING_RECV_MULTISHOT;
  sqe->file_index = (uint32_t)limit;
  publish(o);
  o->inflight++;
  return num(env, (int64_t)slot_id(o, (uint32_t)i));
}

static napi_value send_(napi_env env, napi_callback_info info) { return rw(env, info, OP_SEND); }

/* poll(fd, events) -> id or -errno: completes once with poll(2) revents (POLLIN, POLLOUT,
 * POLLRDHUP, POLLHUP, POLLERR) or -errno.
 * pollMulti(fd, events) -> id or -errno: stays armed (kernel 5.13+), completing each time the
 * fd's wait queue wakes with the events ready, each completion flagged "more" until a cancel or
 * an error ends it. Edge-like: the caller reads until the socket is drained, since data left
 * unread wakes nothing. An older kernel completes it with -EINVAL.
 * accept(fd) -> id or -errno: completes with the new fd (non-blocking, cloexec) or -errno. */
static napi_value fdop(napi_env env, napi_callback_info info, int op) {
  size_t argc = 2;
  napi_value argv[2];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  int32_t fd, mask = 0;
  if (argc < 1 || arg_int32(env, argv[0], "fd", &fd)) {
    if (argc < 1) throw_type(env, "fd must be an integer");
    return NULL;
  }
  if (op == OP_POLL || op == OP_POLL_MULTI) {
    if (argc < 2 || arg_int32(env, argv[1], "events", &mask)) {
      if (argc < 2) throw_type(env, "events must be an integer");
      return NULL;
    }
    if (mask < 1 || mask > (READABLE | WRITABLE)) {
      throw_range(env, "events must be READABLE, WRITABLE or both");
      return NULL;
    }
  }
  int32_t i;
  struct io_uring_sqe* sqe = begin(o, &i);
  if (sqe == NULL) return num(env, i);
  sqe->fd = fd;
  if (op == OP_POLL || op == OP_POLL_MULTI) {
    sqe->opcode = IORING_OP_POLL_ADD;
    /* POLLRDHUP with POLLIN: a reader of wake-ups must know the peer shut down, since the
     * data before the EOF may have drained the socket with that wake-up already spent. */
    sqe->poll32_events = ((mask & READABLE) ? POLLIN | POLLRDHUP : 0) | ((mask & WRITABLE) ? POLLOUT : 0);
    if (op == OP_POLL_MULTI) sqe->len = IORING_POLL_ADD_MULTI;
  } else {
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  }
  publish(o);
  o->inflight++;
  return num(env, (int64_t)slot_id(o, (uint32_t)i));
}

static napi_value poll_(napi_env env, napi_callback_info info) { return fdop(env, info, OP_POLL); }
static napi_value poll_multi_(napi_env env, napi_callback_info info) { return fdop(env, info, OP_POLL_MULTI); }
static napi_value accept_(napi_env env, napi_callback_info info) { return fdop(env, info, OP_ACCEPT); }

/* cancel(id) -> 0 or -errno (-ENOENT: not in flight). The operation completes later. */
static napi_value cancel_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  double id;
  if (argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok || id < 0 || id != (double)(uint64_t)id) {
    throw_type(env, "id must be an operation id");
    return NULL;
  }
  if (o->ring_fd < 0) return num(env, -EBADF);
  uint64_t ud = (uint64_t)id;
  uint32_t i = (uint32_t)(ud & (MAX_SLOTS - 1));
  if (i >= o->nslots || !o->slots[i].busy || (ud >> SLOT_BITS) != o->slots[i].gen) return num(env, -ENOENT);
  struct io_uring_sqe* sqe = next_sqe(o);
  if (sqe == NULL) return num(env, -EBUSY);
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = ud;
  sqe->user_data = CANCEL_TAG;
  publish(o);
  return num(env, 0);
}

/* submit() -> 0 or -errno: enters the kernel with every queued SQE. */
static napi_value submit_(napi_env env, napi_callback_info info) {
  ring_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  if (o->ring_fd < 0) return num(env, -EBADF);
  return num(env, flush(o));
}

/* harvestTarget(out: Float64Array, slab: Uint8Array) -> 0 or -errno: where the next harvests
 * write. Both are held (strong references) until the next harvestTarget or close, so the
 * fast harvest below checks nothing per call but `at`.
 *
 * harvestAt(at) (the function harvester() returns, bound to this ring without a receiver to
 * unwrap: it runs once per wake-up) -> number of completions written to out, four numbers
 * each: id, result, more (1 while a multishot receive or poll stays armed), and where its
 * bytes went in slab (-1 when none). A pooled receive's bytes are copied to slab[at...]
 * (each copy starting 8-aligned, for typed-array views) and its buffer goes back to the
 * kernel at once. It stops early when the next copy does not fit: the caller passes a
 * fresh slab with at least POOL_BUF bytes of room. `at` -1 says the caller could not get a
 * slab (its allocation failed): every pooled receive's bytes are dropped instead, reported
 * where -2 (its transport fails), rather than left in the queue to wake Node for ever.
 * Completions left in the queue (more than out holds) keep the ring fd readable, so Node
 * wakes again. */
static napi_value harvest_target_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  ring_obj* o = unwrap_this(env, info, &argc, argv, NULL);
  if (o == NULL) return NULL;
  bool yes = false;
  napi_typedarray_type type;
  size_t n = 0;
  double* out = NULL;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &yes) != napi_ok || !yes ||
      (napi_get_typedarray_info(env, argv[0], &type, &n, (void**)&out, NULL, NULL), type != napi_float64_array)) {
    throw_type(env, "out must be a Float64Array");
    return NULL;
  }
  if (n < 4) { throw_range(env, "out must hold at least one completion (4 numbers)"); return NULL; }
  char* slab;
  size_t slab_len;
  if (arg_bytes(env, argv[1], "slab", &slab, &slab_len)) return NULL;
  if (o->ring_fd < 0) return num(env, -EBADF);
  napi_ref out_ref, slab_ref;
  if (napi_create_reference(env, argv[0], 1, &out_ref) != napi_ok) return num(env, -ENOMEM);
  if (napi_create_reference(env, argv[1], 1, &slab_ref) != napi_ok) {
    napi_delete_reference(env, out_ref);
    return num(env, -ENOMEM);
  }
  target_release(env, o);
  o->target_out_ref = out_ref;
  o->target_slab_ref = slab_ref;
  o->target_out = out;
  o->target_out_len = n;
  o->target_slab = slab;
  o->target_slab_len = slab_len;
  return num(env, 0);
}

static napi_value harvest_at(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  ring_obj* o = data;
  int32_t at;
  if (argc < 1 || arg_int32(env, argv[0], "at", &at)) return NULL;
  if (o->ring_fd < 0) return num(env, -EBADF);
  if (o->target_out == NULL) { throw_type(env, "harvestTarget(out, slab) must come first"); return NULL; }
  if (at < -1 || (at >= 0 && (size_t)at > o->target_slab_len)) { throw_range(env, "at must be within slab, or -1"); return NULL; }
  double* out = o->target_out;
  size_t n = o->target_out_len;
  char* slab = o->target_slab;
  /* Without TASKRUN_FLAG (old kernels) the kernel interrupts us to run task work itself. */
  int taskrun = o->taskrun_flag && (__atomic_load_n(o->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN);
  if (o->queued > 0 || taskrun) {
    /* Submits what is queued and runs the task work waiting (completions not posted yet). */
    int r = sys_enter(o->ring_fd, o->queued, 0, taskrun ? IORING_ENTER_GETEVENTS : 0);
    if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) return num(env, -errno);
    if (r > 0) o->queued -= (unsigned)r < o->queued ? (unsigned)r : o->queued;
  }
  unsigned head = *o->cq_head;
  unsigned tail = __atomic_load_n(o->cq_tail, __ATOMIC_ACQUIRE);
  size_t k = 0;
  size_t room = o->target_slab_len;
  int no_slab = at == -1;
  size_t pos = no_slab ? room : (size_t)at; /* no slab: nothing fits */
  for (; head != tail && k < n / 4; head++) {
    struct io_uring_cqe* cqe = &o->cqes[head & *o->cq_mask];
    uint64_t ud = cqe->user_data;
    if (ud == CANCEL_TAG) continue;
    uint32_t i = (uint32_t)(ud & (MAX_SLOTS - 1));
    /* A completion no operation of ours waits for (none should come: a slot is freed only
     * by its last completion) gives its pool buffer back without taking slab room. */
    int ours = i < o->nslots && o->slots[i].busy && (ud >> SLOT_BITS) == o->slots[i].gen;
    double where = -1;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      if (ours && cqe->res > 0 && o->pool_ring != NULL && bid < POOL_COUNT) {
        if ((size_t)cqe->res <= room - pos) {
          memcpy(slab + pos, o->pool + (size_t)bid * POOL_BUF, (size_t)cqe->res);
          where = (double)pos;
          pos = (pos + (size_t)cqe->res + 7) & ~(size_t)7;
          if (pos > room) pos = room;
        } else if (no_slab) {
          where = -2;
        } else {
          break; /* the caller brings a fresh slab */
        }
      }
      if (o->pool_ring != NULL && bid < POOL_COUNT) pool_give(o, bid);
    }
    if (!ours) continue;
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    out[4 * k] = (double)ud;
    out[4 * k + 1] = cqe->res;
    out[4 * k + 2] = more;
    out[4 * k + 3] = where;
    k++;
    if (!more) {
      slot_release(env, o, i);
      o->inflight--;
    }
  }
  __atomic_store_n(o->cq_head, head, __ATOMIC_RELEASE);
  return num(env, (int64_t)k);
}

/* harvester() -> harvestAt, bound to this ring. It keeps the ring object alive (a property
 * of the function), so its pointer never outlives the ring's memory. */
static napi_value harvester_(napi_env env, napi_callback_info info) {
  napi_value self;
  ring_obj* o = unwrap_this(env, info, NULL, NULL, &self);
  if (o == NULL) return NULL;
  napi_value fn;
  if (napi_create_function(env, "harvestAt", NAPI_AUTO_LENGTH, harvest_at, o, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, fn, "ring", self) != napi_ok) return NULL;
  return fn;
}

/* inflight() -> operations submitted and not yet harvested */
static napi_value inflight_(napi_env env, napi_callback_info info) {
  ring_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  return num(env, o->inflight);
}

static napi_value close_(napi_env env, napi_callback_info info) {
  ring_obj* o = unwrap_this(env, info, NULL, NULL, NULL);
  if (o == NULL) return NULL;
  obj_unlink(&o->base.head);
  ring_teardown(&o->base.head);
  return num(env, 0);
}

napi_value uring_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    METHOD("recv", recv_), METHOD("recvPooled", recv_pooled_), METHOD("recvMulti", recv_multi_),
    METHOD("send", send_), METHOD("poll", poll_), METHOD("pollMulti", poll_multi_), METHOD("accept", accept_),
    METHOD("cancel", cancel_), METHOD("submit", submit_), METHOD("harvestTarget", harvest_target_), METHOD("harvester", harvester_),
    METHOD("inflight", inflight_), METHOD("watch", selobj_watch), METHOD("unwatch", selobj_unwatch),
    METHOD("ref", selobj_ref), METHOD("unref", selobj_unref), METHOD("close", close_),
  };
  napi_value cls;
  napi_define_class(env, "Uring", NAPI_AUTO_LENGTH, ctor, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "Uring", cls);
  return exports;
}

#else
napi_value uring_init(napi_env env, napi_value exports) { return exports; }
#endif
