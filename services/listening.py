"""Whether the service can listen where it is configured to, asked before uvicorn starts so that
a busy port gets a sentence naming the setting instead of a socket error."""

import errno
import socket


def listen_problem(host: str, port: int) -> str | None:
    """Why binding `host`:`port` fails, naming CRM_HOST or CRM_PORT; None when it works.

    Binds the way uvicorn does (IPv6 when the host has a colon, SO_REUSEADDR) and lets go at
    once, so uvicorn gets the same address a moment later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"Cannot listen on {where}: port {port} is already in use, perhaps by another "
                f"copy of this service. Stop it, or choose another port with CRM_PORT "
                f"(for example CRM_PORT={port + 1 if port < 65535 else 8000})"
            )
        if exc.errno == errno.EACCES:
            return (
                f"Cannot listen on {where}: ports below 1024 need privileges this process "
                f"does not have. Choose another port with CRM_PORT (for example CRM_PORT=8000)"
            )
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(
            exc, socket.gaierror
        ):
            return (
                f"Cannot listen on {where}: {host!r} is not an address of this machine. "
                f"Set CRM_HOST to one that is, such as 127.0.0.1 or 0.0.0.0 for every address"
            )
        return f"Cannot listen on {where} ({exc.strerror or exc}): check CRM_HOST and CRM_PORT"
    return None
