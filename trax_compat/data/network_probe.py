"""Is there a network to download from? A quick look before TFDS tries.

Offline, TFDS retries a dataset's download for minutes before it gives up.
The probe resolves the name of the host TFDS's downloads go through; when
that fails at once (no DNS), a download cannot work either. An unanswered
lookup, a lookup that succeeds, or an HTTP(S) proxy in the environment (it
resolves names itself) says nothing: the download is tried as before.
"""

import os
import socket
import threading

PROBE_HOST = "storage.googleapis.com"
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
               "ALL_PROXY", "all_proxy")


def offline_reason(host=PROBE_HOST, timeout=5.0):
    """Why a download cannot work here, or None when it may."""
    if any(os.environ.get(v) for v in _PROXY_VARS):
        return None
    errors = []

    def resolve():
        try:
            socket.getaddrinfo(host, 443)
        except OSError as e:  # socket.gaierror: no name resolution
            errors.append(e)

    thread = threading.Thread(target=resolve, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not errors:
        return None
    return "%s does not resolve (%s): this machine is offline" % (
            host, errors[0])
