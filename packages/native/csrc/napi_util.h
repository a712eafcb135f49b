/* N-API helpers shared by the addon's modules. */
#ifndef MTEDGE_NAPI_UTIL_H
#define MTEDGE_NAPI_UTIL_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* The bytes of a Uint8Array argument (a Node Buffer is one). */
static inline int get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type; size_t length; void *base; napi_value ab; size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok || type != napi_uint8_array) return 0;
  *data = (uint8_t *)base; *len = length;
  return 1;
}

/*
 * An External owning `data`, released by `finalize` (at once if the External cannot be made),
 * and type-tagged so a call can never take another kind of External for it. NULL after a throw.
 */
static inline napi_value wrap_tagged(napi_env env, void *data, napi_finalize finalize, const napi_type_tag *tag) {
  napi_value ext;
  if (napi_create_external(env, data, finalize, NULL, &ext) != napi_ok) {
    finalize(env, data, NULL);
    napi_throw_error(env, "MTE_ERR_NATIVE_CRYPTO", "napi_create_external failed"); return NULL;
  }
  napi_type_tag_object(env, ext, tag);
  return ext;
}

/* The data of an External `wrap_tagged` made with `tag`; NULL for anything else. */
static inline void *unwrap_tagged(napi_env env, napi_value v, const napi_type_tag *tag) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged || napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}
#endif
