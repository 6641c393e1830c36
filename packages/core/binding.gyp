{
  "targets": [
    {
      "target_name": "task_slot",
      "sources": ["native/task_slot.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"] }
    }
  ]
}
