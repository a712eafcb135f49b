{
  "targets": [
    {
      "target_name": "mtedge_native",
      "sources": ["csrc/sockets.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
