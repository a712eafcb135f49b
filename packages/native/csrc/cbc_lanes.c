/*
 * AES-256-CBC encryption of several independent streams at once. CBC encryption is serial within
 * a stream (each block needs the previous ciphertext), so one stream leaves the AES unit mostly
 * idle waiting on aesenc latency; a worker's ME links are independent streams, and encrypting up
 * to four of them block-interleaved keeps several aesenc in flight. Key schedule and rounds follow
 * FIPS-197 with the AES-NI instructions; tests check every result against OpenSSL.
 */
#include <node_api.h>
#include "napi_util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <wmmintrin.h>
#include <emmintrin.h>

typedef struct {
  __m128i rk[15];
  __m128i iv;
} lane_ctx;

#define AESNI __attribute__((target("aes,sse2")))

AESNI static __m128i expand_a(__m128i k, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  return _mm_xor_si128(k, assist);
}

AESNI static __m128i expand_b(__m128i prev, __m128i k) {
  __m128i assist = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, 0), 0xaa);
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  return _mm_xor_si128(k, assist);
}

#define EXPAND_STEP(i, rcon)                                                  \
  a = expand_a(a, _mm_aeskeygenassist_si128(b, rcon));                       \
  rk[i] = a;                                                                  \
  if (i + 1 < 15) { b = expand_b(a, b); rk[i + 1] = b; }

AESNI static void expand_key(const uint8_t *key, __m128i *rk) {
  __m128i a = _mm_loadu_si128((const __m128i *)key);
  __m128i b = _mm_loadu_si128((const __m128i *)(key + 16));
  rk[0] = a;
  rk[1] = b;
  EXPAND_STEP(2, 0x01)
  EXPAND_STEP(4, 0x02)
  EXPAND_STEP(6, 0x04)
  EXPAND_STEP(8, 0x08)
  EXPAND_STEP(10, 0x10)
  EXPAND_STEP(12, 0x20)
  a = expand_a(a, _mm_aeskeygenassist_si128(b, 0x40));
  rk[14] = a;
}

typedef struct {
  lane_ctx *ctx;
  uint8_t *p;
  size_t blocks;
} lane_job;

/* n lanes (1..4), m blocks each, rounds interleaved across lanes. Keys and pointers are read into
 * locals once: the stores below could alias them, which would force a reload per block. */
AESNI static void run_group(lane_job **j, int n, size_t m) {
  __m128i x[4], iv[4];
  const __m128i *rk[4];
  uint8_t *p[4];
  for (int l = 0; l < n; l++) {
    iv[l] = j[l]->ctx->iv;
    rk[l] = j[l]->ctx->rk;
    p[l] = j[l]->p;
  }
  for (size_t b = 0; b < m; b++) {
    for (int l = 0; l < n; l++) {
      x[l] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p[l] + 16 * b)), iv[l]);
      x[l] = _mm_xor_si128(x[l], rk[l][0]);
    }
    for (int r = 1; r < 14; r++)
      for (int l = 0; l < n; l++) x[l] = _mm_aesenc_si128(x[l], rk[l][r]);
    for (int l = 0; l < n; l++) {
      iv[l] = _mm_aesenclast_si128(x[l], rk[l][14]);
      _mm_storeu_si128((__m128i *)(p[l] + 16 * b), iv[l]);
    }
  }
  for (int l = 0; l < n; l++) {
    j[l]->ctx->iv = iv[l];
    j[l]->p += 16 * m;
    j[l]->blocks -= m;
  }
}

static void run_lanes(lane_job *jobs, int n) {
  for (;;) {
    lane_job *act[4];
    int k = 0;
    for (int i = 0; i < n && k < 4; i++) if (jobs[i].blocks > 0) act[k++] = &jobs[i];
    if (k == 0) return;
    size_t m = act[0]->blocks;
    for (int l = 1; l < k; l++) if (act[l]->blocks < m) m = act[l]->blocks;
    run_group(act, k, m);
  }
}

static int have_aesni(void) { return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2"); }

static void lane_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  /* Round keys are key material: not left behind in freed memory. */
  volatile uint8_t *p = (volatile uint8_t *)data;
  for (size_t i = 0; i < sizeof(lane_ctx); i++) p[i] = 0;
  free(data);
}

/* Marks lane contexts so a call can never take another kind of External for one. */
static const napi_type_tag LANE_TAG = { 0x6d7465646765ULL, 0x636263206c616e65ULL };

/* cbcLaneCreate(key32, iv16): External */
static napi_value lane_create(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *key, *iv; size_t kl, il;
  if (argc < 2 || !get_u8(env, argv[0], &key, &kl) || !get_u8(env, argv[1], &iv, &il) || kl != 32 || il != 16) {
    napi_throw_type_error(env, NULL, "cbcLaneCreate(key: 32 bytes, iv: 16 bytes)"); return NULL;
  }
  lane_ctx *c = aligned_alloc(16, sizeof(lane_ctx));
  if (!c) { napi_throw_error(env, "MTE_ERR_NATIVE_CRYPTO", "out of memory"); return NULL; }
  expand_key(key, c->rk);
  c->iv = _mm_loadu_si128((const __m128i *)iv);
  return wrap_tagged(env, c, lane_finalize, &LANE_TAG);
}

#define MAX_JOBS 64

/* cbcLaneEncrypt(ctxs: External[], bufs: Uint8Array[]): each buf (whole blocks) encrypted in place. */
static napi_value lane_encrypt(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t n = 0, nb = 0;
  bool a1 = false, a2 = false;
  if (argc < 2 || napi_is_array(env, argv[0], &a1) != napi_ok || !a1 || napi_is_array(env, argv[1], &a2) != napi_ok || !a2
      || napi_get_array_length(env, argv[0], &n) != napi_ok || napi_get_array_length(env, argv[1], &nb) != napi_ok || n != nb || n > MAX_JOBS) {
    napi_throw_type_error(env, NULL, "cbcLaneEncrypt(ctxs: External[], bufs: Uint8Array[]) of equal length <= 64"); return NULL;
  }
  lane_job jobs[MAX_JOBS];
  for (uint32_t i = 0; i < n; i++) {
    napi_value c, b; void *ctx; uint8_t *p; size_t len;
    napi_get_element(env, argv[0], i, &c);
    napi_get_element(env, argv[1], i, &b);
    if ((ctx = unwrap_tagged(env, c, &LANE_TAG)) == NULL || !get_u8(env, b, &p, &len)) {
      napi_throw_type_error(env, NULL, "cbcLaneEncrypt: bad context or buffer"); return NULL;
    }
    if (len % 16 != 0) { napi_throw_range_error(env, "MTE_ERR_NATIVE_CRYPTO", "cbcLaneEncrypt: length is not a multiple of 16"); return NULL; }
    for (uint32_t k = 0; k < i; k++) {
      if (jobs[k].ctx == ctx) { napi_throw_range_error(env, "MTE_ERR_NATIVE_CRYPTO", "cbcLaneEncrypt: one context twice in a call"); return NULL; }
    }
    jobs[i].ctx = (lane_ctx *)ctx; jobs[i].p = p; jobs[i].blocks = len / 16;
  }
  run_lanes(jobs, (int)n);
  return NULL;
}

napi_value mtedge_register_cbc_lanes(napi_env env, napi_value exports) {
  if (!have_aesni()) return exports;
  napi_property_descriptor props[] = {
    { "cbcLaneCreate", NULL, lane_create, NULL, NULL, NULL, napi_default, NULL },
    { "cbcLaneEncrypt", NULL, lane_encrypt, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}
#else
napi_value mtedge_register_cbc_lanes(napi_env env, napi_value exports) { (void)env; return exports; }
#endif
