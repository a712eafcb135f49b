/*
 * CRC32-C (Castagnoli) for the Middle-End packet trailer. In JavaScript it was a fifth of an ME
 * worker's CPU; the SSE4.2 crc32 instruction does it at memory speed. Chosen at run time, so a
 * CPU without SSE4.2 simply gets no accelerator (the JS table code stays in use).
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

static int hw_available(void) { return __builtin_cpu_supports("sse4.2"); }
#else
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) { (void)p; (void)n; return crc; }
static int hw_available(void) { return 0; }
#endif

/* crc32c(bytes, start, end, prev): number — like the JS crc32c(buf, start, end, prev). */
static napi_value crc32c_js(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *base = NULL; size_t len = 0;
  bool is_typed = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, "crc32c(bytes: Uint8Array, start?, end?, prev?)"); return NULL;
  }
  napi_typedarray_type type; napi_value ab; size_t offset;
  napi_get_typedarray_info(env, argv[0], &type, &len, &base, &ab, &offset);
  if (type != napi_uint8_array) { napi_throw_type_error(env, NULL, "crc32c: Uint8Array expected"); return NULL; }
  int64_t start = 0, end = (int64_t)len; uint32_t prev = 0;
  if (argc >= 2) napi_get_value_int64(env, argv[1], &start);
  if (argc >= 3) napi_get_value_int64(env, argv[2], &end);
  if (argc >= 4) napi_get_value_uint32(env, argv[3], &prev);
  if (start < 0 || end > (int64_t)len || start > end) { napi_throw_range_error(env, NULL, "crc32c: bad range"); return NULL; }
  napi_value out;
  napi_create_uint32(env, crc32c_hw(prev, (const uint8_t *)base + start, (size_t)(end - start)), &out);
  return out;
}

napi_value mtedge_register_crc32c(napi_env env, napi_value exports) {
  if (!hw_available()) return exports;
  napi_property_descriptor props[] = {
    { "crc32c", NULL, crc32c_js, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}
