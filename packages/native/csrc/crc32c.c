/*
 * CRC32-C (Castagnoli) for the Middle-End packet trailer. In JavaScript it was a fifth of an ME
 * worker's CPU; the SSE4.2 crc32 instruction does it at memory speed. Chosen at run time, so a
 * CPU without SSE4.2 simply gets no accelerator (the JS table code stays in use).
 */
#include <node_api.h>
#include "napi_util.h"
#include <stdint.h>
#include <string.h>
#include <pthread.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

/*
 * crc32q has a latency of 3 cycles but a throughput of 1, so one dependency chain runs at a third
 * of the unit's speed. Long inputs go as three interleaved chains over adjacent LANE-byte lanes,
 * joined with a table that advances a CRC register over LANE zero bytes (the register is linear).
 */
#define LANE 256

static uint32_t shift_table[4][256];
/* Every worker thread loads the addon: the table is built once, by whichever gets there first. */
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t shift_slow(uint32_t reg) {
  uint64_t c = reg;
  for (int i = 0; i < LANE; i += 8) c = _mm_crc32_u64(c, 0);
  return (uint32_t)c;
}

static void shift_init(void) {
  for (int k = 0; k < 4; k++)
    for (int b = 0; b < 256; b++) shift_table[k][b] = shift_slow((uint32_t)b << (8 * k));
}

static inline uint32_t shift_lane(uint32_t r) {
  return shift_table[0][r & 0xff] ^ shift_table[1][(r >> 8) & 0xff] ^ shift_table[2][(r >> 16) & 0xff] ^ shift_table[3][r >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = ~crc & 0xffffffffu;
  while (n >= 3 * LANE) {
    uint64_t c1 = 0, c2 = 0;
    for (int i = 0; i < LANE; i += 8) {
      uint64_t a, b, d;
      memcpy(&a, p + i, 8);
      memcpy(&b, p + LANE + i, 8);
      memcpy(&d, p + 2 * LANE + i, 8);
      c = _mm_crc32_u64(c, a);
      c1 = _mm_crc32_u64(c1, b);
      c2 = _mm_crc32_u64(c2, d);
    }
    c = shift_lane(shift_lane((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
    p += 3 * LANE;
    n -= 3 * LANE;
  }
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
  uint8_t *base = NULL; size_t len = 0;
  if (argc < 1 || !get_u8(env, argv[0], &base, &len)) {
    napi_throw_type_error(env, NULL, "crc32c(bytes: Uint8Array, start?, end?, prev?)"); return NULL;
  }
  int64_t start = 0, end = (int64_t)len; uint32_t prev = 0;
  if (argc >= 2) napi_get_value_int64(env, argv[1], &start);
  if (argc >= 3) napi_get_value_int64(env, argv[2], &end);
  if (argc >= 4) napi_get_value_uint32(env, argv[3], &prev);
  if (start < 0 || end > (int64_t)len || start > end) { napi_throw_range_error(env, NULL, "crc32c: bad range"); return NULL; }
  napi_value out;
  napi_create_uint32(env, crc32c_hw(prev, base + start, (size_t)(end - start)), &out);
  return out;
}

napi_value mtedge_register_crc32c(napi_env env, napi_value exports) {
  if (!hw_available()) return exports;
#if defined(__x86_64__)
  pthread_once(&shift_once, shift_init);
#endif
  napi_property_descriptor props[] = {
    { "crc32c", NULL, crc32c_js, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}
