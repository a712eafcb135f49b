/*
 * Socket helpers Node 20 lacks. Worker threads cannot each listen() on one port, and a
 * listening fd handed to several threads is closed for all of them when one thread exits.
 * So the supervisor creates the listening socket here and gives every worker its own dup():
 * one accept queue, and a crashed worker closes only its own descriptor.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "ERRNO_%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* listenTcp(host: string, port: number, backlog: number, ipv6Only: boolean): number */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) { napi_throw_type_error(env, NULL, "listenTcp(host, port, backlog, ipv6Only)"); return NULL; }
  char host[128];
  size_t hostLen = 0;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLen) != napi_ok) {
    napi_throw_type_error(env, NULL, "host must be a string"); return NULL;
  }
  int32_t port = 0, backlog = 0;
  bool v6only = false;
  if (!arg_int(env, argv[1], &port) || !arg_int(env, argv[2], &backlog) ||
      napi_get_value_bool(env, argv[3], &v6only) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "bad port, backlog or ipv6Only"); return NULL;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t slen;
  int family;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    family = AF_INET; a4->sin_family = AF_INET; a4->sin_port = htons((uint16_t)port); slen = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    family = AF_INET6; a6->sin6_family = AF_INET6; a6->sin6_port = htons((uint16_t)port); slen = sizeof *a6;
  } else {
    napi_throw_error(env, "EINVAL", "listenTcp: host is not an IP address"); return NULL;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    int flag = v6only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &flag, sizeof flag);
  }
  if (bind(fd, (struct sockaddr *)&ss, slen) < 0) { int e = errno; close(fd); return throw_errno(env, "bind", e); }
  if (listen(fd, backlog > 0 ? backlog : 1024) < 0) { int e = errno; close(fd); return throw_errno(env, "listen", e); }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* dupFd(fd): number — close-on-exec, non-blocking like the original. */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd)) { napi_throw_type_error(env, NULL, "dupFd(fd)"); return NULL; }
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (nfd < 0) return throw_errno(env, "dup", errno);
  napi_value out; napi_create_int32(env, nfd, &out); return out;
}

/* closeFd(fd): void */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd)) { napi_throw_type_error(env, NULL, "closeFd(fd)"); return NULL; }
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* localPort(fd): number */
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd)) { napi_throw_type_error(env, NULL, "localPort(fd)"); return NULL; }
  struct sockaddr_storage ss; socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, "getsockname", errno);
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  napi_value out; napi_create_int32(env, port, &out); return out;
}

napi_value mtedge_register_aes_ctr(napi_env env, napi_value exports);
napi_value mtedge_register_crc32c(napi_env env, napi_value exports);
napi_value mtedge_register_cbc_lanes(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "listenTcp", NULL, listen_tcp, NULL, NULL, NULL, napi_default, NULL },
    { "dupFd", NULL, dup_fd, NULL, NULL, NULL, napi_default, NULL },
    { "closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL },
    { "localPort", NULL, local_port, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  mtedge_register_aes_ctr(env, exports);
  mtedge_register_cbc_lanes(env, exports);
  return mtedge_register_crc32c(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
