"""lark-oapi, only the parts we call.

`import lark_oapi` runs the package's `__init__`, which imports all of its ~60 API
services and the long-connection client (~10,600 modules: ~4 s of CPU and ~160 MB of
memory on our machine). The parts we use are plain submodules: `lark_oapi.core` (config,
transport, token checks) and one package per service (`lark_oapi.api.im`, `.contact`,
`.task`), whose resources call `Transport.aexecute` with a `Config`. So `load()` registers
the two umbrella packages (`lark_oapi`, `lark_oapi.api`) without running their `__init__`
and imports only those submodules (~40 MB, ~0.7 s; bench/tick.py `run_rss_mb`).

Nothing else changes for other code: the first time anything asks either umbrella package
for a name it does not have yet (the long connection's `lark.EventDispatcherHandler`, a
test's `lark.Client`, `from lark_oapi import *`), its `__init__` runs in full, and from then
on the SDK is exactly as if imported normally.

`Client` is what `lark.Client.builder()…build()` gave us, for the services we call: the
same `Config` (domain check, timeout, our own tokens, the log level), the im / contact /
task services, each built on first use, and `arequest` for raw calls (lark-oapi 1.7.5's
`Client.arequest`, which lives in the module that imports every service).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import urllib.parse
from functools import cached_property
from typing import Any

UMBRELLAS = ("lark_oapi", "lark_oapi.api")
_lock = threading.RLock()


def _deferred(name: str) -> None:
    """Register package `name` with its `__init__` not yet run; it runs, whole, on the
    first lookup of a name the package lacks (dunder names aside, `__all__` included)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - the SDK is a dependency
        raise ImportError(f"cannot find {name}")
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    pending = [True]

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__") and attr != "__all__":
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        with _lock:
            if pending:
                pending.clear()
                del module.__dict__["__getattr__"]
                loader.exec_module(module)
        try:
            return module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[name] = module


def load() -> None:
    """Make lark-oapi's submodules importable without importing all of it (once)."""
    with _lock:
        for name in UMBRELLAS:
            if name not in sys.modules:
                _deferred(name)


def validate_domain(domain: str) -> None:
    """lark-oapi 1.7.5's `ClientBuilder.domain` check: an https origin (http only on
    loopback), no path, query, fragment or credentials."""
    if not isinstance(domain, str) or not domain:
        raise ValueError("domain must be a non-empty https URL")
    parsed = urllib.parse.urlsplit(domain)
    if parsed.scheme == "http":
        if (parsed.hostname or "").lower() not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"domain must use https scheme (got {domain!r})")
    elif parsed.scheme != "https":
        raise ValueError(f"domain must use https scheme (got {domain!r})")
    if not parsed.netloc:
        raise ValueError(f"domain missing host (got {domain!r})")
    if "@" in parsed.netloc:
        raise ValueError(f"domain must not embed credentials (got {domain!r})")
    if parsed.path or parsed.query or parsed.fragment:
        raise ValueError(
            "domain must be an origin (scheme + host[:port]) without path/query/fragment "
            f"(got {domain!r})"
        )


class Client:
    """The SDK client for our calls: `client.im.v1.message.acreate(req, option)`,
    `client.contact.v3…`, `client.task.v2…`, `client.arequest(req, option)`."""

    def __init__(self, app_id: str, app_secret: str, domain: str, timeout: float) -> None:
        load()
        from lark_oapi.core.enum import LogLevel
        from lark_oapi.core.log import logger
        from lark_oapi.core.model import Config

        validate_domain(domain)
        config = Config()
        config.app_id, config.app_secret, config.domain = app_id, app_secret, domain
        config.timeout = timeout
        config.enable_set_token = True  # our tenant token, per request (bot.feishu.tokens)
        config.log_level = LogLevel.WARNING
        logger.setLevel(int(config.log_level.value))
        self._config = config

    @property
    def config(self):
        return self._config

    @cached_property
    def im(self):
        from lark_oapi.api.im.service import ImService

        return ImService(self._config)

    @cached_property
    def contact(self):
        from lark_oapi.api.contact.service import ContactService

        return ContactService(self._config)

    @cached_property
    def task(self):
        from lark_oapi.api.task.service import TaskService

        return TaskService(self._config)

    async def arequest(self, request, option=None):
        """A raw call (`BaseRequest`), as lark-oapi's `Client.arequest`."""
        from lark_oapi.core import JSON
        from lark_oapi.core.const import APPLICATION_JSON, CONTENT_TYPE, UTF_8
        from lark_oapi.core.http import Transport
        from lark_oapi.core.model import BaseResponse, RequestOption
        from lark_oapi.core.token import verify
        from lark_oapi.core.utils.files import Files

        if option is None:
            option = RequestOption()
        verify(self._config, request, option)
        request.files = Files.extract_files(request.body)
        raw_resp = await Transport.aexecute(self._config, request, option)
        resp = BaseResponse()
        content_type = raw_resp.headers.get(CONTENT_TYPE)
        if content_type is not None and content_type.startswith(APPLICATION_JSON):
            resp = JSON.unmarshal(str(raw_resp.content, UTF_8), BaseResponse)
        elif 200 <= raw_resp.status_code < 300:
            resp.code = 0
        resp.raw = raw_resp
        return resp
