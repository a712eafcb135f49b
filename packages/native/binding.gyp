{
  "targets": [
    {
      "target_name": "mtedge_native",
      "sources": ["csrc/sockets.c", "csrc/aes_ctr.c", "csrc/crc32c.c", "csrc/cbc_lanes.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
