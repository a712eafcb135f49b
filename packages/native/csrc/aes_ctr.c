/*
 * In-place AES-256 (CTR for the relay, CBC for Middle-End links) on Node's own OpenSSL (the node
 * binary exports the EVP symbols and ships their headers). node:crypto's update() allocates an
 * output Buffer per call; the relay instead transforms each received chunk where it lies, and does
 * both of its passes (peer's stream in, other peer's stream out) in one call.
 */
#include <node_api.h>
#include "napi_util.h"
#include <openssl/evp.h>
#include <stdint.h>

static void ctx_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)data);
}

/* Marks EVP contexts so a call can never take another kind of External for one. */
static const napi_type_tag EVP_TAG = { 0x6d7465646765ULL, 0x65767020637478ULL };

static napi_value wrap_ctx(napi_env env, EVP_CIPHER_CTX *ctx) {
  return wrap_tagged(env, ctx, ctx_finalize, &EVP_TAG);
}

static int get_ctx(napi_env env, napi_value v, void **ctx) {
  return (*ctx = unwrap_tagged(env, v, &EVP_TAG)) != NULL;
}

/* ctrCreate(key32, iv16): External */
static napi_value ctr_create(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *key, *iv; size_t klen, ivlen;
  if (argc < 2 || !get_u8(env, argv[0], &key, &klen) || !get_u8(env, argv[1], &iv, &ivlen) || klen != 32 || ivlen != 16) {
    napi_throw_type_error(env, NULL, "ctrCreate(key: 32 bytes, iv: 16 bytes)"); return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1) {
    if (ctx) EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, "MTE_ERR_NATIVE_CRYPTO", "EVP_EncryptInit_ex failed"); return NULL;
  }
  return wrap_ctx(env, ctx);
}

/* cbcCreate(key32, iv16, decrypt): External. No padding: callers hand whole 16-byte blocks. */
static napi_value cbc_create(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *key, *iv; size_t klen, ivlen; bool decrypt = false;
  if (argc < 3 || !get_u8(env, argv[0], &key, &klen) || !get_u8(env, argv[1], &iv, &ivlen) || klen != 32 || ivlen != 16
      || napi_get_value_bool(env, argv[2], &decrypt) != napi_ok) {
    napi_throw_type_error(env, NULL, "cbcCreate(key: 32 bytes, iv: 16 bytes, decrypt: boolean)"); return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv, decrypt ? 0 : 1) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
    if (ctx) EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, "MTE_ERR_NATIVE_CRYPTO", "EVP_CipherInit_ex failed"); return NULL;
  }
  return wrap_ctx(env, ctx);
}

static int run(EVP_CIPHER_CTX *ctx, uint8_t *data, size_t len) {
  /* EVP takes int lengths: go in slices (a multiple of any block size) so huge buffers are fine. */
  while (len > 0) {
    int n = len > (1u << 30) ? (1 << 30) : (int)len;
    int out = 0;
    if (EVP_CipherUpdate(ctx, data, &out, data, n) != 1 || out != n) return 0;
    data += n; len -= (size_t)n;
  }
  return 1;
}

/* ctrApply(ctxA, bytes[, ctxB]): transforms bytes in place with A, then with B when given. */
static napi_value ctr_apply(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *a = NULL, *b = NULL; uint8_t *data; size_t len;
  if (argc < 2 || !get_ctx(env, argv[0], &a) || !get_u8(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, NULL, "ctrApply(ctx, bytes[, ctx2])"); return NULL;
  }
  if (argc >= 3) {
    napi_valuetype t; napi_typeof(env, argv[2], &t);
    if (t == napi_external && !get_ctx(env, argv[2], &b)) {
      napi_throw_type_error(env, NULL, "ctrApply: the second context is not a cipher context"); return NULL;
    }
  }
  /* A block cipher without padding would hold back a partial block and shift the output. */
  int bs = EVP_CIPHER_CTX_block_size((EVP_CIPHER_CTX *)a);
  int bs2 = b ? EVP_CIPHER_CTX_block_size((EVP_CIPHER_CTX *)b) : 1;
  if ((bs > 1 && len % (size_t)bs != 0) || (bs2 > 1 && len % (size_t)bs2 != 0)) {
    napi_throw_range_error(env, "MTE_ERR_NATIVE_CRYPTO", "cipherApply: length is not a multiple of the block size"); return NULL;
  }
  if (!run((EVP_CIPHER_CTX *)a, data, len) || (b && !run((EVP_CIPHER_CTX *)b, data, len))) {
    napi_throw_error(env, "MTE_ERR_NATIVE_CRYPTO", "EVP_CipherUpdate failed"); return NULL;
  }
  return NULL;
}

napi_value mtedge_register_aes_ctr(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "ctrCreate", NULL, ctr_create, NULL, NULL, NULL, napi_default, NULL },
    { "ctrApply", NULL, ctr_apply, NULL, NULL, NULL, napi_default, NULL },
    { "cbcCreate", NULL, cbc_create, NULL, NULL, NULL, napi_default, NULL },
    { "cipherApply", NULL, ctr_apply, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
