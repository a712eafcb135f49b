/* The bytes of a Uint8Array argument (a Node Buffer is one): shared by the addon's modules. */
#ifndef MTEDGE_NAPI_BYTES_H
#define MTEDGE_NAPI_BYTES_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

static inline int get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type; size_t length; void *base; napi_value ab; size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok || type != napi_uint8_array) return 0;
  *data = (uint8_t *)base; *len = length;
  return 1;
}
#endif
