"""The OPTIONS of django-redis, django-valkey, django-cachex and Django's RedisCache, read as
cachex's own, so a project switches by changing BACKEND alone.

``translate`` is pure: (alias, LOCATION, OPTIONS, Django-level globals) in, the LOCATION and
OPTIONS cachex parses out, plus one note per translated setting. ``apply`` is the start-up
hook: it reads the globals from ``django.conf.settings`` and turns each note into a
``CachexCompatWarning`` that names cachex's spelling, so the settings can be rewritten at
leisure. Only what cannot mean anything to cachex is refused, with the fix in the message.

A LOCATION that is a list means shards in cachex but primary + replicas in django-redis; the
list is read the django-redis way only when a django-redis ``CLIENT_CLASS`` says so.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from django.core.exceptions import ImproperlyConfigured

from ..config import OPTION_KEYS


class CachexCompatWarning(FutureWarning):
    """A peer backend's setting was accepted and translated; the message says how cachex
    spells it. Shown by default; silence it with ``warnings.filterwarnings``."""


@dataclass(frozen=True)
class Translation:
    location: Any
    options: Mapping[str, Any]
    notes: tuple[str, ...]


# Django settings (not OPTIONS) that django-redis / django-valkey read for every alias.
GLOBALS = tuple(f"DJANGO_{lib}_{name}" for lib in ("REDIS", "VALKEY") for name in (
    "IGNORE_EXCEPTIONS", "LOG_IGNORED_EXCEPTIONS", "LOGGER", "CONNECTION_FACTORY",
    "SCAN_ITERSIZE", "CLOSE_CONNECTION"))

# peer OPTIONS key -> (canonical name) ; every spelling the peers use
_ALIASES: dict[str, str] = {
    "CLIENT_CLASS": "client_class",
    "IGNORE_EXCEPTIONS": "ignore_exceptions", "ignore_exceptions": "ignore_exceptions",
    "LOG_IGNORED_EXCEPTIONS": "log_ignored", "LOG_IGNORE_EXCEPTIONS": "log_ignored",
    "log_ignored_exceptions": "log_ignored",
    "CONNECTION_POOL_KWARGS": "pool_kwargs",
    "PASSWORD": "password", "USERNAME": "username",
    "DB": "db", "db": "db",
    "SERIALIZER": "serializer", "COMPRESSOR": "compressor",
    "PICKLE_VERSION": "pickle_version",
    "CONNECTION_FACTORY": "connection_factory",
    "SENTINELS": "sentinels", "sentinels": "sentinels",
    "SENTINEL_KWARGS": "sentinel_kwargs", "sentinel_kwargs": "sentinel_kwargs",
    "stampede_prevention": "stampede_prevention",
    "REVERSE_KEY_FUNCTION": "reverse_key_function",
    "reverse_key_function": "reverse_key_function",
}
# Django RedisCache / django-cachex spell credentials in lowercase; so does cachex once it
# takes them in OPTIONS (Django's error pages mask OPTIONS['password'], not LOCATION).
NATIVE_CREDENTIALS = "password" in OPTION_KEYS
if not NATIVE_CREDENTIALS:
    _ALIASES.update({"password": "password", "username": "username"})
# settings that go to OPTIONS['pool'] under the same lowercase name
_POOL = ("max_connections", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
         "health_check_interval", "client_name", "ssl_cert_reqs", "ssl_ca_certs",
         "ssl_certfile", "ssl_keyfile")
_POOL_ALIASES = {**{k: k for k in _POOL}, "SOCKET_TIMEOUT": "socket_timeout",
                 "SOCKET_CONNECT_TIMEOUT": "socket_connect_timeout"}
# settings with no effect in cachex, and why
_IGNORED = {
    "CONNECTION_POOL_CLASS": "cachex builds and shares its pools itself",
    "pool_class": "cachex builds and shares its pools itself",
    "async_pool_class": "cachex keeps one async pool per event loop itself",
    "PARSER_CLASS": "the driver picks its parser (hiredis when installed)",
    "PARSER_CLS": "the driver picks its parser (hiredis when installed)",
    "parser_class": "the driver picks its parser (hiredis when installed)",
    "REDIS_CLIENT_CLASS": "cachex builds the driver's client itself",
    "REDIS_CLIENT_KWARGS": "cachex builds the driver's client itself",
    "CLOSE_CONNECTION": "connections go back to the pool after every call",
    "retry_on_timeout": "cachex's OPTIONS['retry'] policy decides retries",
    "REPLICA_READ_ONLY": "cachex never writes to a replica",
}
_IGNORED_PREFIXES = ("COMPRESS_", "DECOMPRESS_")  # compressor levels and dictionaries

_SERIALIZERS = ("pickle", "json", "msgpack")
_COMPRESSORS = ("zlib", "lz4", "zstd")
_CLUSTER = {"redis": "redis+cluster", "rediss": "rediss+cluster",
            "valkey": "valkey+cluster", "valkeys": "valkeys+cluster"}
_SENTINEL = {"redis": "redis+sentinel", "rediss": "rediss+sentinel",
             "valkey": "valkey+sentinel", "valkeys": "valkeys+sentinel"}


def _is_ignored(key: str) -> str | None:
    if key in _IGNORED:
        return _IGNORED[key]
    if key.startswith(_IGNORED_PREFIXES):
        return "cachex's compressors use their own levels"
    return None


def is_native(options: Mapping[str, Any]) -> bool:
    """True when nothing in ``options`` is a peer's spelling (the common, free path)."""
    for key, value in options.items():
        if key in _ALIASES or key in _POOL_ALIASES or _is_ignored(key) is not None:
            return False
        if key == "serializer" and value not in _SERIALIZERS:
            return False
        if key == "compressor" and not (value is None or value in _COMPRESSORS):
            return False
    return True


def _fail(alias: str, problem: str, fix: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"cachex cache {alias!r}: {problem}. {fix}")


def _dotted(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


def codec_name(value: Any, kind: str) -> str | None:
    """A peer's serializer/compressor (dotted path, class or instance) -> cachex's name;
    None for "no compression"; raises ValueError for one cachex has no counterpart for."""
    if value is None:
        return None
    if isinstance(value, str) and value in (_SERIALIZERS if kind == "serializer"
                                            else _COMPRESSORS):
        return value
    name = _dotted(value).rsplit(".", 1)[-1].lower()
    if kind == "serializer":
        if name == "redisserializer":  # Django RedisCache's own: pickle, ints as digits
            return "pickle"
        for known in ("msgpack", "json", "pickle"):  # ormsgpack/orjson read as their formats
            if known in name:
                return known
    else:
        if "identity" in name or name in ("none", "nocompressor"):
            return None
        for known, target in (("zstd", "zstd"), ("lz4", "lz4"), ("zlib", "zlib"),
                              ("gzip", "zlib"), ("lzma", "zlib"), ("xz", "zlib")):
            if known in name:
                return target
    accepted = _SERIALIZERS if kind == "serializer" else (*_COMPRESSORS, None)
    raise ValueError(f"{kind} {_dotted(value)!r} has no cachex counterpart; use one of "
                     f"{', '.join(map(repr, accepted))}")


# ---------------------------------------------------------------- URL helpers (pure)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:(?P<userinfo>[^@/]*)@)?"
                  r"(?P<rest>.*)$")


def _urls(location: Any) -> list[str] | None:
    """LOCATION as a list of URLs (the peers' forms), or None if it is not one."""
    if isinstance(location, str):
        if "+cluster://" in location or "+sentinel://" in location:
            return [location.strip()]
        return [u.strip() for u in re.split(r"[,;]", location) if u.strip()]
    if isinstance(location, (list, tuple)) and all(isinstance(u, str) for u in location):
        return [u.strip() for u in location]
    return None


def _scheme(url: str) -> str:
    m = _URL.match(url)
    return m.group("scheme").lower() if m else ""


def _has_userinfo(url: str) -> bool:
    m = _URL.match(url)
    return bool(m and m.group("userinfo") is not None)


def _with_credentials(url: str, username: str | None, password: str | None) -> str:
    m = _URL.match(url)
    if not m or m.group("userinfo") is not None or m.group("scheme").lower() == "unix":
        return url
    user = quote(username or "", safe="")
    userinfo = f"{user}:{quote(password, safe='')}" if password is not None else user
    return f"{m.group('scheme')}://{userinfo}@{m.group('rest')}"


def _with_db(url: str, db: int) -> str:
    m = _URL.match(url)
    if not m or "+" in m.group("scheme"):
        return url
    rest = m.group("rest")
    hosts, _, query = rest.partition("?")
    path = hosts.partition("/")[2].strip("/") if m.group("scheme").lower() != "unix" else ""
    if path or "db" in dict(parse_qsl(query)):
        return url  # the URL's own db wins, as in redis-py's from_url
    return f"{url}{'&' if query else '?'}db={int(db)}"


def _sentinel_location(url: str, sentinels: Sequence[Any]) -> tuple[str, bool]:
    """django-redis's ``redis://<service>/<db>`` (or ``?db=``) + SENTINELS -> cachex's
    ``redis+sentinel://s1:26379,.../<service>/<db>``; and whether it named a replica
    (``?is_master=0``)."""
    m = _URL.match(url)
    if not m:
        raise ValueError(f"{_redact(url)!r} is not a URL")
    scheme = m.group("scheme").lower()
    if "+sentinel" in scheme:
        return url, False
    hosts, _, query_text = m.group("rest").partition("?")
    service, _, path = hosts.partition("/")
    service = service.rsplit(":", 1)[0] if service.count(":") == 1 else service
    query = dict(parse_qsl(query_text))
    db = path.strip("/") or query.pop("db", "0")
    replica = query.pop("is_master", "1") in ("0", "false", "False")
    addresses = []
    for item in sentinels:
        if isinstance(item, str):
            text, _, digits = item.rpartition(":")
            item = (text or item, int(digits) if digits else 26379)
        where, number = str(item[0]), int(item[1])
        addresses.append(f"[{where}]:{number}" if ":" in where else f"{where}:{number}")
    if not addresses:
        raise ValueError("SENTINELS lists no sentinel")
    userinfo = f"{m.group('userinfo')}@" if m.group("userinfo") is not None else ""
    rebuilt = (f"{_SENTINEL.get(scheme, 'redis+sentinel')}://{userinfo}{','.join(addresses)}"
               f"/{service}/{db}")
    return rebuilt + (f"?{urlencode(query)}" if query else ""), replica


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


# ---------------------------------------------------------------- the translation
def translate(alias: str, location: Any, options: Mapping[str, Any],
              globals_: Mapping[str, Any] | None = None) -> Translation:
    """Peer settings -> cachex's LOCATION and OPTIONS. Pure; see the module docstring."""
    g = {k: v for k, v in (globals_ or {}).items() if k in GLOBALS and v is not None}
    if not isinstance(options, Mapping) or (is_native(options) and not g):
        return Translation(location, options, ())
    notes: list[str] = []
    opts = dict(options)
    peer: dict[str, tuple[str, Any]] = {}  # canonical -> (spelling, value)

    def note(spelling: str, value: Any, cachex: str) -> None:
        shown = "..." if "password" in spelling.lower() else repr(value)
        notes.append(f"cachex cache {alias!r}: OPTIONS['{spelling}'] = {shown} is a peer "
                     f"backend's setting; cachex reads it as {cachex}")

    for key in list(opts):
        why = _is_ignored(key)
        if why is not None:
            value = opts.pop(key)
            notes.append(f"cachex cache {alias!r}: OPTIONS[{key!r}] has no effect in cachex "
                         f"({why}); remove it")
        elif key in _ALIASES:
            peer[_ALIASES[key]] = (key, opts.pop(key))

    # -- pool and socket settings
    pool = dict(opts.get("pool") or {})
    moved: dict[str, tuple[str, Any]] = {}
    for key in list(opts):
        if key in _POOL_ALIASES:
            moved[_POOL_ALIASES[key]] = (key, opts.pop(key))
    if "pool_kwargs" in peer:
        spelling, kwargs = peer.pop("pool_kwargs")
        if not isinstance(kwargs, Mapping):
            raise _fail(alias, f"OPTIONS['{spelling}'] must be a dict, got "
                        f"{type(kwargs).__name__}", "Write it as {'max_connections': 50}")
        for k, v in kwargs.items():
            if k in _POOL:
                moved.setdefault(k, (f"{spelling}']['{k}", v))
            elif k in ("password", "username", "db"):
                peer.setdefault(k, (f"{spelling}']['{k}", v))
            elif k == "decode_responses":
                if v:
                    raise _fail(alias, f"OPTIONS['{spelling}']['decode_responses'] = True "
                                "cannot work: cache values are bytes", "Remove it")
            else:
                notes.append(f"cachex cache {alias!r}: OPTIONS['{spelling}'][{k!r}] has no "
                             "effect in cachex (it sets connections up itself; see "
                             "OPTIONS['pool'] and OPTIONS['retry']); remove it")
    for pool_key, (spelling, value) in moved.items():
        if pool_key in pool:
            notes.append(f"cachex cache {alias!r}: OPTIONS['{spelling}'] ignored: "
                         f"OPTIONS['pool'][{pool_key!r}] is set and wins")
            continue
        pool[pool_key] = value
        note(spelling, value, f"OPTIONS['pool'][{pool_key!r}]")
    if pool:
        opts["pool"] = pool

    # -- codec
    for kind in ("serializer", "compressor"):
        raw = peer.pop(kind, None)
        spelling, value = raw if raw is not None else (kind, opts.get(kind))
        if raw is None and (kind not in opts or (
                value in (_SERIALIZERS if kind == "serializer" else (*_COMPRESSORS, None)))):
            continue
        if isinstance(value, (list, tuple)):  # django-cachex fallback chains: write format
            if not value:
                raise _fail(alias, f"OPTIONS['{spelling}'] is an empty list",
                            f"Name one {kind}")
            notes.append(f"cachex cache {alias!r}: OPTIONS['{spelling}'] lists fallbacks; "
                         "cachex writes with the first and reads any compressor it knows "
                         "(the serializer must match)")
            value = value[0]
        try:
            name: str | None = codec_name(value, kind)
        except ValueError as exc:
            raise _fail(alias, f"OPTIONS['{spelling}']: {exc}",
                        f"Set OPTIONS[{kind!r}] to one of them") from None
        if name is None:
            opts.pop(kind, None)
        else:
            opts[kind] = name
        note(spelling, _dotted(value) if not isinstance(value, str) else value,
             f"OPTIONS[{kind!r}] = {name!r} (cachex tags non-pickle and compressed values "
             "with their format: entries the old backend wrote that way raise DecodeError, "
             "so change VERSION or KEY_PREFIX, or clear the cache, when switching)")
    if "pickle_version" in peer:
        spelling, value = peer.pop("pickle_version")
        protocol = None if value in (None, -1) else value
        if protocol is not None:
            opts["pickle_protocol"] = protocol
        note(spelling, value, f"OPTIONS['pickle_protocol'] = {protocol!r}")

    # -- errors: IGNORE_EXCEPTIONS -> fail_open
    ignore = None
    if "ignore_exceptions" in peer:
        spelling, ignore = peer.pop("ignore_exceptions")
        source = f"OPTIONS['{spelling}']"
    else:
        for lib in ("REDIS", "VALKEY"):
            if f"DJANGO_{lib}_IGNORE_EXCEPTIONS" in g:
                ignore = g[f"DJANGO_{lib}_IGNORE_EXCEPTIONS"]
                source = f"settings.DJANGO_{lib}_IGNORE_EXCEPTIONS"
                break
    if ignore is not None:
        if "failover" in opts:
            notes.append(f"cachex cache {alias!r}: {source} ignored: OPTIONS['failover'] is "
                         "set and wins")
        elif ignore:
            opts["failover"] = {"mode": "fail_open"}
            notes.append(f"cachex cache {alias!r}: {source} = True is a peer backend's "
                         "setting; cachex reads it as OPTIONS['failover'] = {'mode': "
                         "'fail_open'} (misses and dropped writes while a node is down, each "
                         "logged on the 'cachex.policy' logger; incr and locks still raise)")
    log_sources = [f"OPTIONS['{peer['log_ignored'][0]}']"] if "log_ignored" in peer else []
    peer.pop("log_ignored", None)
    log_sources += [f"settings.{k}" for k in g if k.endswith(("LOG_IGNORED_EXCEPTIONS",
                                                               "_LOGGER"))]
    for source in log_sources:
        notes.append(f"cachex cache {alias!r}: {source} is a peer backend's setting; cachex "
                     "always logs fail-open events on the 'cachex.policy' logger (WARNING); "
                     "route or silence that logger in LOGGING instead")
    for k in g:
        if k.endswith("CLOSE_CONNECTION"):
            notes.append(f"cachex cache {alias!r}: settings.{k} has no effect in cachex "
                         "(connections go back to the pool after every call)")
        elif k == "DJANGO_VALKEY_SCAN_ITERSIZE":
            notes.append(f"cachex cache {alias!r}: settings.{k} is django-valkey's; cachex "
                         "reads settings.DJANGO_REDIS_SCAN_ITERSIZE (or pass itersize=)")

    if "stampede_prevention" in peer:  # django-cachex's XFetch: cachex's "early" mode
        spelling, value = peer.pop("stampede_prevention")
        if value:
            early: dict[str, Any] = {"mode": "early"}
            if isinstance(value, Mapping):
                early.update({k: value[k] for k in ("beta", "delta") if k in value})
            opts.setdefault("stampede", early)
            note(spelling, value, f"OPTIONS['stampede'] = {early!r} (its 'buffer' has no "
                 "counterpart)")
    if "reverse_key_function" in peer:
        spelling, _ = peer.pop("reverse_key_function")
        raise _fail(alias, f"OPTIONS['{spelling}'] is a cache setting, not an option",
                    "Move it out of OPTIONS to the top level of the CACHES entry as "
                    "'REVERSE_KEY_FUNCTION'")

    # -- topology and LOCATION
    location = _topology(alias, location, opts, peer, g, notes, note)

    # -- credentials and db go into the URLs
    urls = _urls(location)
    creds = {k: peer.pop(k)[1] for k in ("username", "password") if k in peer}
    in_urls = urls is not None and any(_has_userinfo(u) for u in urls)
    if creds and NATIVE_CREDENTIALS and not in_urls:
        for k, v in creds.items():
            opts.setdefault(k, v)
        notes.append(f"cachex cache {alias!r}: OPTIONS PASSWORD/USERNAME are a peer backend's "
                     "spelling; cachex reads them as OPTIONS['password'] / ['username']")
    elif creds and urls is not None:
        urls = [_with_credentials(u, creds.get("username"), creds.get("password"))
                for u in urls]
        location = urls if not isinstance(location, str) or len(urls) > 1 else urls[0]
        notes.append(f"cachex cache {alias!r}: OPTIONS password/username are a peer "
                     "backend's setting; cachex reads them from the LOCATION URLs "
                     "('redis://user:password@host:6379/0')")
    if "db" in peer:
        spelling, db = peer.pop("db")
        if urls is not None:
            urls = [_with_db(u, db) for u in (_urls(location) or [])]
            location = urls if not isinstance(location, str) or len(urls) > 1 else urls[0]
        note(spelling, db, "the LOCATION URL's database ('redis://host:6379/<db>')")
    for canonical, (spelling, _value) in peer.items():  # left over: applied nowhere
        raise _fail(alias, f"OPTIONS['{spelling}'] cannot be applied here ({canonical})",
                    "Remove it (see docs/migration/)")
    return Translation(location, opts, tuple(notes))


def _topology(alias: str, location: Any, opts: dict[str, Any],
              peer: dict[str, tuple[str, Any]], g: Mapping[str, Any], notes: list[str],
              note: Callable[[str, Any, str], None]) -> Any:
    client = peer.pop("client_class", None)
    factory = peer.pop("connection_factory", None)
    sentinels = peer.pop("sentinels", (None, None))[1]
    sentinel_kwargs = peer.pop("sentinel_kwargs", None)
    cls = _dotted(client[1]).rsplit(".", 1)[-1] if client else ""
    factory_name = _dotted(factory[1]) if factory else next(
        (str(v) for k, v in g.items() if k.endswith("CONNECTION_FACTORY")), "")
    kind = {"DefaultClient": "default", "HerdClient": "herd", "ShardClient": "sharded",
            "SentinelClient": "sentinel", "ClusterClient": "cluster"}.get(cls)
    if client and kind is None:
        raise _fail(alias, f"OPTIONS['CLIENT_CLASS'] = {_dotted(client[1])!r} is not a client "
                    "class cachex knows (it has none: the topology follows LOCATION)",
                    "Remove CLIENT_CLASS; for shards give a list LOCATION, for Sentinel "
                    "'redis+sentinel://host:26379/<service>/0', for a Cluster "
                    "'redis+cluster://host:7000'")
    if factory and "sentinel" not in factory_name.lower() and "cluster" not in \
            factory_name.lower():
        notes.append(f"cachex cache {alias!r}: OPTIONS['{factory[0]}'] has no effect in "
                     "cachex (it builds its own connections); remove it")
    if kind in (None, "default", "herd") and (sentinels or "sentinel" in factory_name.lower()):
        kind = "sentinel"
    if kind in (None, "default", "herd") and factory and "cluster" in factory_name.lower():
        kind = "cluster"
    if kind == "herd" or (client and kind == "default"):
        if kind == "herd":
            opts.setdefault("stampede", {"mode": "herd"})
        note(client[0], client[1],  # type: ignore[index]
             "OPTIONS['stampede'] = {'mode': 'herd'}" if kind == "herd" else
             "the topology LOCATION gives (one URL: single server; several: "
             "OPTIONS['topology'] = 'replicated', the first one written)")
    urls = _urls(location)
    if kind == "sentinel":
        if urls is None:
            return location
        if not sentinels and not any("+sentinel" in _scheme(u) for u in urls):
            raise _fail(alias, "a Sentinel CLIENT_CLASS/CONNECTION_FACTORY needs the sentinels",
                        "Add OPTIONS['SENTINELS'] = [('host', 26379)], or write LOCATION as "
                        "'redis+sentinel://host:26379/<service>/<db>'")
        try:
            rebuilt = [_sentinel_location(u, sentinels or ()) for u in urls]
        except (ValueError, TypeError, IndexError) as exc:
            raise _fail(alias, f"cannot read the Sentinel settings ({exc})",
                        "Write LOCATION as 'redis+sentinel://host:26379/<service>/<db>'"
                        ) from None
        primary = [u for u, replica in rebuilt if not replica] or [rebuilt[0][0]]
        if any(replica for _, replica in rebuilt) and "read_from_replicas" not in opts:
            opts["read_from_replicas"] = True
        if sentinel_kwargs:
            extra = {k: v for k, v in dict(sentinel_kwargs[1]).items()
                     if k in ("password", "username", "socket_timeout")}
            opts["sentinel"] = {**extra, **dict(opts.get("sentinel") or {})}
            note(sentinel_kwargs[0], {k: "..." for k in sentinel_kwargs[1]},
                 "OPTIONS['sentinel'] (password, username, socket_timeout)")
        notes.append(f"cachex cache {alias!r}: Sentinel settings (CLIENT_CLASS/"
                     "CONNECTION_FACTORY/SENTINELS) are a peer backend's; cachex reads them "
                     f"as LOCATION = {_redact(primary[0])!r}")
        return primary[0]
    if sentinels or sentinel_kwargs:
        raise _fail(alias, "OPTIONS['SENTINELS'/'SENTINEL_KWARGS'] given but the topology is "
                    f"{kind or 'not Sentinel'}", "Remove them, or use a Sentinel LOCATION")
    if urls is None:
        return location
    if kind == "cluster":
        if all("+cluster" not in _scheme(u) for u in urls) and "topology" not in opts:
            opts["topology"] = "cluster"
        notes.append(f"cachex cache {alias!r}: a Cluster CLIENT_CLASS/CONNECTION_FACTORY is a "
                     "peer backend's setting; cachex reads it as OPTIONS['topology'] = "
                     "'cluster' (or write LOCATION as 'redis+cluster://host:7000')")
        return location
    if kind == "sharded":
        if len(urls) > 1 and "topology" not in opts:
            opts["topology"] = "sharded"
        note(client[0], client[1],  # type: ignore[index]
             "OPTIONS['topology'] = 'sharded' (a list LOCATION is sharded by default in "
             "cachex, so the line can go)")
        return location
    if client and kind in ("default", "herd"):
        unique = list(dict.fromkeys(urls))
        if len(unique) < len(urls):
            notes.append(f"cachex cache {alias!r}: LOCATION names the same server more than "
                         "once; with a DefaultClient that is one primary, read as such")
        if len(unique) > 1 and all("+" not in _scheme(u) for u in unique) \
                and "topology" not in opts:
            opts["topology"] = "replicated"
        return unique[0] if len(unique) == 1 else unique
    return location


def apply(alias: str, location: Any, options: Mapping[str, Any], *,
          warn: bool = True) -> tuple[Any, Any]:
    """The start-up hook: translate with the globals from Django settings and warn per note
    (``warn=False``: the system checks, which read the settings without building a cache)."""
    if isinstance(options, Mapping) and is_native(options) and not _globals():
        return location, options
    done = translate(alias, location, options, _globals())
    for text in done.notes if warn else ():
        warnings.warn(text, CachexCompatWarning, stacklevel=2)
    return done.location, done.options


def _globals() -> dict[str, Any]:
    try:
        from django.conf import settings

        return {k: getattr(settings, k) for k in GLOBALS if hasattr(settings, k)}
    except Exception:  # settings not configured: a backend built by hand
        return {}
