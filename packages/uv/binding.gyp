{
  "targets": [
    {
      "target_name": "loopkit_native",
      "sources": [
        "native/addon.c",
        "native/addr.c",
        "native/constants.c",
        "native/epoll.c",
        "native/fds.c",
        "native/jscb.c",
        "native/kqueue.c",
        "native/memory.c",
        "native/pollset.c",
        "native/sock.c",
        "native/spawn.c",
        "native/tls.c",
        "native/tls_bio.c",
        "native/tls_ctx.c",
        "native/tls_err.c",
        "native/tls_session.c",
        "native/uring.c",
        "native/wakeup.c",
        "native/watch.c"
      ],
      "conditions": [["OS=='linux'", { "libraries": ["-ldl"] }]],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
      }
    }
  ]
}
