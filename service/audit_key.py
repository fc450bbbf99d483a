"""The audit chain's key: from an environment variable or a key file (``[audit]`` in the config)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from index import CatalogError

MIN_KEY_CHARS = 32  # characters of a key given in the environment
KEY_BYTES = 32      # random bytes of a key file prescreen makes (written as 64 hex digits)


def audit_key_source(home: Path, key_env: str, key_file: str) -> Callable[[bool], bytes | None]:
    """``source(create)`` -> the key (bytes) or None when there is none.

    ``$<key_env>`` wins when set (at least :data:`MIN_KEY_CHARS` characters). Else the key file
    (relative: inside ``home``); with ``create`` True a missing file is made with a new random key,
    readable by its owner only. A key that is set but unusable raises CatalogError saying why.
    """
    path = Path(key_file).expanduser()
    if not path.is_absolute():
        path = home / path

    def source(create: bool) -> bytes | None:
        if key_env and os.environ.get(key_env):
            value = os.environ[key_env]
            if len(value) < MIN_KEY_CHARS:
                raise CatalogError(f"${key_env} holds an audit key of {len(value)} characters; it needs at "
                                   f"least {MIN_KEY_CHARS}")
            return value.encode()
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            return _make(path)
        except OSError as exc:
            raise CatalogError(f"the audit key file {path} cannot be read ({exc.strerror or exc})") from None
        if len(key) < MIN_KEY_CHARS:
            raise CatalogError(f"the audit key file {path} holds {len(key)} bytes; it needs at least "
                               f"{MIN_KEY_CHARS}")
        return key

    return source


def _make(path: Path) -> bytes:
    key = secrets.token_hex(KEY_BYTES).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use that one
        return path.read_bytes().strip()
    except OSError as exc:
        raise CatalogError(f"the audit key file {path} cannot be made ({exc.strerror or exc})") from None
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key
