"""Runs the vendored, unmodified mtprotoproxy (bench/peers/mtprotoproxy) for scripts/bench-peers.mjs.

usage: /usr/bin/python3 mtprotoproxy-run.py <config.py> <dc_host> <dc_port>

mtprotoproxy keeps its Telegram DC addresses in module globals and looks up its public IP over
HTTP on every start, with no config switch for either. Rather than edit the vendored file, this
imports it as a module and, in this process only, points every DC at the bench's echo DC and
replaces the IP lookup with a fixed loopback answer. Everything else (time sync, middle-proxy
updates, the mask host probe) is switched off from the generated config. Prints one JSON line
{"peer": ...} with what it runs on, then hands over to mtprotoproxy's own main().
"""
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "mtprotoproxy"))

if len(sys.argv) != 4:
    sys.exit(__doc__)
config_path, dc_host, dc_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if os.environ.get("BENCH_PEERS_NO_UVLOOP"):
    sys.modules["uvloop"] = None  # makes `import uvloop` fail: the stock asyncio loop is used
# mtprotoproxy's init_config() reads its config path from argv[1].
sys.argv = [os.path.join(HERE, "mtprotoproxy", "mtprotoproxy.py"), config_path]

import mtprotoproxy as peer  # noqa: E402

backend = peer.create_aes_ctr.__qualname__.split(".")[0]
if backend == "use_slow_bundled_cryptography_module":
    # The pure-Python AES would make the comparison meaningless: refuse instead.
    sys.exit("mtprotoproxy-run: no cryptography/pycryptodome module for %s" % sys.executable)

peer.TG_DATACENTERS_V4 = [dc_host] * 5
peer.TG_DATACENTERS_V6 = ["::1"] * 5
peer.TG_DATACENTER_PORT = dc_port


def loopback_ip_info():
    """Stands in for the upstream lookup, which asks public what-is-my-IP services."""
    peer.my_ip_info["ipv4"] = "127.0.0.1"
    peer.my_ip_info["ipv6"] = None


peer.init_ip_info = loopback_ip_info


def version(mod):
    try:
        return __import__(mod).__version__
    except Exception:
        return None


openssl = None
try:
    from cryptography.hazmat.backends.openssl.backend import backend as ossl

    openssl = ossl.openssl_version_text()
except Exception:
    pass

uvloop = None
if not os.environ.get("BENCH_PEERS_NO_UVLOOP") and importlib.util.find_spec("uvloop"):
    uvloop = version("uvloop")
print(json.dumps({
    "peer": "mtprotoproxy",
    "pid": os.getpid(),
    "python": sys.version.split()[0],
    "executable": sys.executable,
    "aes": backend,
    "cryptography": version("cryptography"),
    "openssl": openssl,
    "uvloop": uvloop,
}), flush=True)

peer.main()
