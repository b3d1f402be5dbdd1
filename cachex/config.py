"""LOCATION and OPTIONS -> a validated, immutable ``Settings``. Pure: no I/O.

Everything a user can get wrong in CACHES is caught here, at start-up, with an
``ImproperlyConfigured`` that names the alias, the bad value and what would be accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote

from django.core.exceptions import ImproperlyConfigured

from .optioncheck import reject_unknown
from .redact import KEY_MODES, mask_url, split_urls, userinfo_end

TOPOLOGIES = ("single", "sharded", "cluster", "sentinel", "replicated")
DATA_SCHEMES = {"redis": False, "rediss": True, "valkey": False, "valkeys": True, "unix": False}
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True,
                   "valkey+cluster": False, "valkeys+cluster": True}
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True,
                    "valkey+sentinel": False, "valkeys+sentinel": True}
URL_PARAMS = ("db", "weight", "name")
# Django's generic BaseCache options; meaningless for Redis (eviction is maxmemory-policy).
DJANGO_OPTIONS = ("MAX_ENTRIES", "CULL_FREQUENCY")
OPTION_KEYS = (
    "topology", "retry", "failover", "serializer", "compressor", "compress_min_size",
    "pickle_protocol", "pool", "read_from_replicas", "weights", "sentinel", "wait_replicas",
    "username", "password", "log_keys", "decode_fallbacks", "decompress_max_size", "signing",
    "metrics", "fast_path", "stampede", "near_cache", "pipelining",
)
# OPTIONS["pipelining"] when absent: on, since a lone aget measured within 5 % of the switch
# off on every topology in every run, wall clock and CPU (docs/async.md, "Measured")
PIPELINING_DEFAULT = True
POOL_KEYS = ("max_connections", "pool_timeout", "socket_timeout", "socket_connect_timeout",
             "socket_keepalive", "health_check_interval", "client_name", "ssl_cert_reqs",
             "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
SENTINEL_KEYS = ("service", "username", "password", "socket_timeout", "db")
# redis-py's accepted spellings of ssl_cert_reqs (besides the ssl.CERT_* constants and None)
CERT_REQS = ("none", "optional", "required")
# Host names that reach this machine's loopback; one server cannot be two shards.
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain", "ip6-localhost"})
# Options of Django's own RedisCache / redis-py that users bring along when switching.
MOVED_TO_POOL = ("socket_timeout", "socket_connect_timeout", "max_connections",
                 "health_check_interval", "socket_keepalive")


class ConfigError(ValueError):
    """A problem found while parsing; turned into ImproperlyConfigured with the alias."""


@dataclass(frozen=True)
class Endpoint:
    """One server address. ``identity`` (never the URL) is what the hash ring sees."""

    host: str | None
    port: int | None
    db: int = 0
    path: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    name: str | None = None
    weight: int = 1

    @cached_property
    def address(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"

    @cached_property
    def identity(self) -> str:
        """Ring identity: an explicit name, else ``host:port`` plus ``/db`` when not 0."""
        if self.name:
            return self.name
        return self.address + (f"/{self.db}" if self.db else "")


@dataclass(frozen=True)
class PoolOptions:
    max_connections: int | None = None
    # How long a caller waits for a free connection of a bounded pool; None: socket_timeout
    pool_timeout: float | None = None
    socket_timeout: float | None = 2.0
    socket_connect_timeout: float | None = 2.0
    socket_keepalive: bool = True
    health_check_interval: float = 0
    client_name: str | None = None
    ssl: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything cachex derives from one CACHES entry (except the codec and the policies)."""

    alias: str
    topology: str
    endpoints: tuple[Endpoint, ...]
    pool: PoolOptions
    read_from_replicas: bool = False
    service: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    sentinel_socket_timeout: float | None = None
    scheme_family: str = "redis"
    # (replicas, timeout ms): every write to the primary waits for that many replica acks
    wait_replicas: tuple[int, int] | None = None
    # how messages and log lines show cache keys (cachex.redact): "hash", "prefix" or "full"
    log_keys: str = "hash"
    # False: batches use the driver's public API only (see cachex/topology/seam.py)
    fast_path: bool = True

    @property
    def registry_key(self) -> tuple[Any, ...]:
        """Full connection settings: two aliases that differ in any of them never share a pool."""
        return (self.topology, self.endpoints, self.pool, self.read_from_replicas,
                self.service, self.sentinel_username, self.sentinel_password,
                self.sentinel_socket_timeout, self.wait_replicas, self.fast_path)


def parse_pipelining(alias: str, options: Mapping[str, Any]) -> bool:
    """OPTIONS["pipelining"]: True or False (async auto-pipelining, docs/async.md)."""
    value = options.get("pipelining", PIPELINING_DEFAULT)
    if not isinstance(value, bool):
        raise fail(alias, f"OPTIONS['pipelining'] must be True or False, got {value!r}",
                   "Write OPTIONS = {'pipelining': False} to turn async auto-pipelining off, "
                   "or leave it out for the default")
    return value


def fail(alias: str, problem: str, fix: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"cachex cache {alias!r}: {problem}. {fix}")


def parse_settings(alias: str, location: Any, options: Mapping[str, Any]) -> Settings:
    """Validate one alias's LOCATION and OPTIONS, raising ImproperlyConfigured naming ``alias``."""
    try:
        settings = _parse(alias, location, options)
        wait = _parse_wait(options.get("wait_replicas"))
        settings = replace(settings, endpoints=_with_credentials(settings.endpoints, options),
                           log_keys=_parse_log_keys(options.get("log_keys", "hash")))
        _check_tls(settings)
        fast_path = options.get("fast_path", True)
        if not isinstance(fast_path, bool):
            raise ConfigError(f"OPTIONS['fast_path'] must be True or False, got {fast_path!r}")
    except ConfigError as exc:
        raise ImproperlyConfigured(f"cachex cache {alias!r}: {exc}") from None
    if not fast_path:
        settings = replace(settings, fast_path=False)
    if wait is None:
        return settings
    if settings.topology not in ("replicated", "sentinel"):
        raise fail(alias, f"OPTIONS['wait_replicas'] needs replicas, and the "
                   f"{settings.topology} topology has none here",
                   "Use it with the 'replicated' or 'sentinel' topology, or remove it.")
    return replace(settings, wait_replicas=wait)


def _parse_wait(raw: Any) -> tuple[int, int] | None:
    """``wait_replicas``: N, or {"count": N, "timeout": seconds} (default 0.5 s)."""
    if raw is None:
        return None
    spec = raw if isinstance(raw, Mapping) else {"count": raw}
    reject_unknown(spec, ("count", "timeout"), "OPTIONS['wait_replicas']", ConfigError)
    count, timeout = spec.get("count"), spec.get("timeout", 0.5)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"OPTIONS['wait_replicas'] needs a replica count >= 1, got {count!r}")
    _number(timeout, "OPTIONS['wait_replicas']['timeout']", allow_none=False, positive=True)
    return count, max(1, int(timeout * 1000))


def _parse(alias: str, location: Any, options: Mapping[str, Any]) -> Settings:
    if not isinstance(options, Mapping):
        raise ConfigError(f"OPTIONS must be a dict, got {type(options).__name__}")
    _check_option_keys(options)
    explicit = options.get("topology")
    if explicit is not None and explicit not in TOPOLOGIES:
        raise ConfigError(
            f"OPTIONS['topology'] = {explicit!r} is not a topology. "
            f"Use one of {', '.join(TOPOLOGIES)} (or leave it out to infer it from LOCATION)"
        )
    pool = _parse_pool(options.get("pool", {}))
    urls = _split_location(location)
    sentinel_opts = _parse_sentinel_options(options.get("sentinel", {}))
    read_from_replicas = options.get("read_from_replicas", False)
    if not isinstance(read_from_replicas, bool):
        raise ConfigError(f"OPTIONS['read_from_replicas'] must be True or False, "
                          f"got {read_from_replicas!r}")

    first_scheme = _scheme_of(urls[0])
    if first_scheme in CLUSTER_SCHEMES or first_scheme in SENTINEL_SCHEMES:
        if len(urls) != 1:
            raise ConfigError(
                f"a {first_scheme}:// LOCATION lists its nodes in one URL "
                f"('{first_scheme}://h1:p1,h2:p2'), not as a list of URLs"
            )
        kind = "cluster" if first_scheme in CLUSTER_SCHEMES else "sentinel"
        if explicit not in (None, kind):
            raise ConfigError(f"LOCATION uses {first_scheme}:// but OPTIONS['topology'] is "
                              f"{explicit!r}; remove one of them")
        endpoints, service, db = _parse_multi_host_url(urls[0], first_scheme, kind)
        family = "valkey" if first_scheme.startswith("valkey") else "redis"
        if kind == "cluster":
            if db not in (0, None):
                raise ConfigError(f"Redis Cluster has only database 0, but LOCATION asks for "
                                  f"db {db}; drop the /{db} from the URL")
            _refuse(options, "cluster", ("weights", "sentinel"))
            return Settings(alias, "cluster", endpoints, pool, read_from_replicas,
                            scheme_family=family)
        if not service:
            raise ConfigError(
                "a sentinel LOCATION needs the service (primary group) name: "
                f"'{first_scheme}://host:26379/<service>/<db>', e.g. '.../mymaster/0'"
            )
        _refuse(options, "sentinel", ("weights",))
        data = _with_db(endpoints, db if db is not None else sentinel_opts.get("db") or 0)
        return _sentinel_settings(alias, data, service, pool, read_from_replicas,
                                  sentinel_opts, family)

    endpoints = tuple(_parse_url(u) for u in urls)
    family = "valkey" if first_scheme.startswith("valkey") else "redis"
    dupes = _same_servers(endpoints)
    if dupes:
        raise ConfigError(f"LOCATION lists the same server more than once ({', '.join(dupes)}); "
                          "each server may appear once (localhost, 127.0.0.1 and ::1 are one "
                          "machine; use ?name=... to tell apart two entries that really are "
                          "different servers)")
    topology = explicit or ("single" if len(endpoints) == 1 else "sharded")
    if topology == "single" and len(endpoints) != 1:
        raise ConfigError(f"OPTIONS['topology'] = 'single' needs one server, LOCATION has "
                          f"{len(endpoints)}; use 'sharded' or 'replicated' for several")
    if topology == "replicated" and len(endpoints) < 2:
        raise ConfigError("OPTIONS['topology'] = 'replicated' needs a primary and at least one "
                          "replica: list two or more URLs, the first one being the primary")
    if topology == "cluster":
        if any(e.db for e in endpoints):
            raise ConfigError("Redis Cluster has only database 0; remove the db from the URLs")
        if any(e.path is not None for e in endpoints):
            raise ConfigError("Cluster nodes are reached over TCP (the nodes announce host:port "
                              "addresses); replace the unix:// URLs with redis:// ones")
        if any(e.weight != 1 for e in endpoints):
            raise ConfigError("?weight= only applies to shards; a Cluster places keys by slot. "
                              "Remove it from the URLs")
        _refuse(options, "cluster", ("weights", "sentinel"))
        return Settings(alias, "cluster", endpoints, pool, read_from_replicas,
                        scheme_family=family)
    if topology == "sentinel":
        service = sentinel_opts.get("service")
        if not service:
            raise ConfigError("OPTIONS['topology'] = 'sentinel' with plain URLs needs "
                              "OPTIONS['sentinel']['service'] (the primary group name)")
        _refuse(options, "sentinel", ("weights",))
        return _sentinel_settings(alias, endpoints, service, pool, read_from_replicas,
                                  sentinel_opts, family)
    _refuse(options, topology, ("sentinel",))
    endpoints = _apply_weights(endpoints, options.get("weights"), topology)
    if read_from_replicas and topology != "replicated":
        raise ConfigError(f"OPTIONS['read_from_replicas'] needs replicas; the {topology} "
                          "topology has none (use 'replicated', 'sentinel' or 'cluster')")
    return Settings(alias, topology, endpoints, pool, read_from_replicas, scheme_family=family)


def _refuse(options: Mapping[str, Any], topology: str, keys: tuple[str, ...]) -> None:
    """Options that mean nothing for ``topology`` are an error, not silently ignored."""
    for key in keys:
        if key in options:
            raise ConfigError(f"OPTIONS[{key!r}] does not apply to the {topology} topology; "
                              "remove it")


def _sentinel_settings(alias: str, endpoints: tuple[Endpoint, ...], service: str,
                       pool: PoolOptions, read_from_replicas: bool,
                       sentinel_opts: Mapping[str, Any], family: str) -> Settings:
    return Settings(
        alias, "sentinel", endpoints, pool, read_from_replicas, service=service,
        sentinel_username=sentinel_opts.get("username"),
        sentinel_password=sentinel_opts.get("password"),
        sentinel_socket_timeout=sentinel_opts.get("socket_timeout"),
        scheme_family=family,
    )


def _check_option_keys(options: Mapping[str, Any]) -> None:
    for key in options:
        if key in OPTION_KEYS or key in DJANGO_OPTIONS:
            continue
        if key in MOVED_TO_POOL:
            raise ConfigError(f"OPTIONS[{key!r}] belongs under OPTIONS['pool'] in cachex: "
                              f"write OPTIONS = {{'pool': {{{key!r}: ...}}}}")
        raise ConfigError(f"unknown OPTIONS key {key!r}. Accepted keys: {', '.join(OPTION_KEYS)}")


def _split_location(location: Any) -> list[str]:
    if isinstance(location, str):
        text = location.strip()
        if not text:
            urls = []
        elif _scheme_of(text) in CLUSTER_SCHEMES or _scheme_of(text) in SENTINEL_SCHEMES:
            urls = [text]
        else:
            urls = split_urls(text)
    elif isinstance(location, Sequence):
        urls = []
        for item in location:
            if not isinstance(item, str):
                raise ConfigError(f"LOCATION entries must be URL strings, got a "
                                  f"{type(item).__name__}")
            urls.append(item.strip())
    else:
        raise ConfigError(f"LOCATION must be a URL string or a list of URLs, got a "
                          f"{type(location).__name__}")
    if not urls or not all(urls):
        raise ConfigError("LOCATION is empty; give at least one server URL such as "
                          "'redis://127.0.0.1:6379/0'")
    return urls


def _scheme_of(url: str) -> str:
    if "://" not in url:
        raise ConfigError(f"{_redact(url)!r} is not a URL; write it as 'redis://host:port/db' "
                          "(schemes: redis, rediss, valkey, valkeys, unix, "
                          "redis+cluster, redis+sentinel)")
    return url.split("://", 1)[0].lower()


def _split_url(url: str) -> tuple[str, str | None, str | None, str, str, dict[str, str]]:
    """(scheme, username, password, hosts, path, query) without touching the host list."""
    _scheme_of(url)  # a URL at all?
    scheme, rest = url.split("://", 1)
    username = password = None
    end = userinfo_end(rest)  # the last '@': a password may hold '@', '/', ':', '?', '%'
    if end >= 0:
        userinfo, rest = rest[:end], rest[end + 1:]
        user, sep, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if sep else None
    rest, _, query_text = rest.partition("?")
    if scheme.lower() == "unix":
        hosts, path = "", rest
    else:
        hosts, _, path = rest.partition("/")
    try:
        query = dict(parse_qsl(query_text, keep_blank_values=True, strict_parsing=bool(query_text)))
    except ValueError:
        raise ConfigError(f"cannot read the query string of {_redact(url)!r}") from None
    return scheme.lower(), username, password, hosts, path, query


def _parse_host(text: str, default_port: int, url: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, bracket, port_text = text[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise ConfigError(f"unbalanced brackets around the IPv6 address in "
                              f"{_redact(url)!r}; write '[::1]:6379'")
        port_text = port_text[1:]
    elif text.count(":") > 1:
        raise ConfigError(f"IPv6 addresses need brackets in {_redact(url)!r}: '[::1]:6379'")
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ConfigError(f"{_redact(url)!r} has no host; write 'scheme://host:port'")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ConfigError(f"port {port_text!r} in {_redact(url)!r} is not a number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"port {port} in {_redact(url)!r} is out of range (1-65535)")
    return host, port


def _parse_db(text: str, url: str) -> int:
    try:
        db = int(text)
    except ValueError:
        raise ConfigError(f"database {text!r} in {_redact(url)!r} is not a number") from None
    if db < 0:
        raise ConfigError(f"database {db} in {_redact(url)!r} is negative")
    return db


def _parse_url(url: str) -> Endpoint:
    scheme, username, password, hosts, path, query = _split_url(url)
    if scheme not in DATA_SCHEMES:
        raise ConfigError(
            f"unknown scheme {scheme!r} in {_redact(url)!r}; use redis://, rediss://, "
            "valkey://, valkeys:// or unix:// (or redis+cluster:// / redis+sentinel://)"
        )
    unknown = [k for k in query if k not in URL_PARAMS]
    if unknown:
        raise ConfigError(f"unknown URL parameter {unknown[0]!r} in {_redact(url)!r}; URLs take "
                          f"{', '.join(URL_PARAMS)}; connection settings go in OPTIONS['pool']")
    db = _parse_db(query["db"], url) if "db" in query else 0
    db_in_query = "db" in query
    weight = _parse_weight(query.get("weight", "1"), url)
    name = query.get("name") or None
    if scheme == "unix":
        if not path:
            raise ConfigError(f"{_redact(url)!r} has no socket path; write 'unix:///path/to.sock'")
        return Endpoint(None, None, db, path, username, password, False, name, weight)
    if "," in hosts:
        raise ConfigError(f"{_redact(url)!r} names several hosts; give shards as a list of URLs, "
                          "or use redis+cluster:// for a Cluster")
    host, port = _parse_host(hosts, 6379, url)
    path = path.strip("/")
    if path:
        path_db = _parse_db(path, url)
        if db_in_query and path_db != db:
            raise ConfigError(f"{_redact(url)!r} names database {path_db} in the path and "
                              f"{db} in ?db=; give the database once")
        db = path_db
    return Endpoint(host, port, db, None, username, password, DATA_SCHEMES[scheme], name, weight)


def _parse_multi_host_url(url: str, scheme: str, kind: str
                          ) -> tuple[tuple[Endpoint, ...], str | None, int | None]:
    _, username, password, hosts, path, query = _split_url(url)
    if query:
        raise ConfigError(f"{_redact(url)!r} takes no URL parameters; use OPTIONS")
    tls = (CLUSTER_SCHEMES if kind == "cluster" else SENTINEL_SCHEMES)[scheme]
    default_port = 6379 if kind == "cluster" else 26379
    items = [h for h in hosts.split(",") if h.strip()]
    if not items:
        raise ConfigError(f"{_redact(url)!r} lists no nodes; write "
                          f"'{scheme}://host1:port1,host2:port2'")
    seen: list[tuple[str, int]] = []
    for item in items:
        hp = _parse_host(item, default_port, url)
        if hp in seen:
            raise ConfigError(f"{_redact(url)!r} lists {hp[0]}:{hp[1]} twice")
        seen.append(hp)
    parts = [p for p in path.split("/") if p]
    service: str | None = None
    db: int | None = None
    if kind == "cluster":
        if len(parts) > 1:
            raise ConfigError(f"{_redact(url)!r}: a cluster URL ends at the host list "
                              "(optionally '/0')")
        db = _parse_db(parts[0], url) if parts else None
    else:
        if len(parts) > 2:
            raise ConfigError(f"{_redact(url)!r}: a sentinel URL is "
                              "'scheme://hosts/<service>/<db>'")
        service = unquote(parts[0]) if parts else None
        db = _parse_db(parts[1], url) if len(parts) > 1 else None
    endpoints = tuple(Endpoint(h, p, 0, None, username, password, tls) for h, p in seen)
    return endpoints, service, db


def _with_db(endpoints: tuple[Endpoint, ...], db: int) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(e.host, e.port, db, e.path, e.username, e.password, e.tls)
                 for e in endpoints)


def _parse_weight(text: Any, where: str) -> int:
    try:
        weight = int(text)
        ok = weight > 0 and str(weight) == str(text).strip()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"weight {text!r} for {_redact(where)!r} must be a whole number >= 1")
    return weight


def _apply_weights(endpoints: tuple[Endpoint, ...], weights: Any, topology: str
                   ) -> tuple[Endpoint, ...]:
    if weights is None:
        return endpoints
    if topology != "sharded":
        raise ConfigError(f"OPTIONS['weights'] only applies to shards, not to {topology}")
    if not isinstance(weights, Mapping):
        raise ConfigError("OPTIONS['weights'] must map a node (name or 'host:port') to a weight")
    by_id = {e.identity: e for e in endpoints}
    by_addr = {e.address: e for e in endpoints}
    out = dict(by_id)
    for node, raw in weights.items():
        target = by_id.get(node) or by_addr.get(node)
        if target is None:
            raise ConfigError(f"OPTIONS['weights'] names {node!r}, which is not in LOCATION "
                              f"(known: {', '.join(by_id)})")
        w = _parse_weight(raw, node)
        out[target.identity] = Endpoint(target.host, target.port, target.db, target.path,
                                        target.username, target.password, target.tls,
                                        target.name, w)
    return tuple(out[e.identity] for e in endpoints)


def _number(value: Any, what: str, *, allow_none: bool = True, minimum: float = 0,
            positive: bool = False) -> Any:
    """A finite number >= ``minimum`` (> 0 when ``positive``), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < minimum or (positive and value <= 0):
        bound = "a finite number > 0 (seconds)" if positive else f"a finite number >= {minimum}"
        none = "; None waits forever" if allow_none and positive else ""
        raise ConfigError(f"{what} must be {bound}, got {value!r}{none}")
    return value


def _parse_pool(raw: Any) -> PoolOptions:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"OPTIONS['pool'] must be a dict, got {raw!r}")
    unknown = [k for k in raw if k not in POOL_KEYS]
    if unknown and unknown[0] in ("password", "username"):
        raise ConfigError(f"OPTIONS['pool'][{unknown[0]!r}] is not where credentials go: write "
                          f"OPTIONS[{unknown[0]!r}] (every data node), or put them in LOCATION; "
                          "sentinels' own credentials go in OPTIONS['sentinel']")
    reject_unknown(unknown, POOL_KEYS, "OPTIONS['pool']", ConfigError)
    defaults = PoolOptions()
    max_conn = raw.get("max_connections")
    if max_conn is not None and (isinstance(max_conn, bool) or not isinstance(max_conn, int)
                                 or max_conn < 1):
        raise ConfigError(f"OPTIONS['pool']['max_connections'] must be a whole number >= 1, "
                          f"got {max_conn!r}")
    pool_timeout = raw.get("pool_timeout")
    if pool_timeout is not None and (
            isinstance(pool_timeout, bool) or not isinstance(pool_timeout, (int, float))
            or not 0 < pool_timeout < math.inf):
        raise ConfigError("OPTIONS['pool']['pool_timeout'] must be a number of seconds > 0 "
                          "(how long a caller waits for a free connection when "
                          f"max_connections is reached), got {pool_timeout!r}")
    ssl = tuple(sorted((k, v) for k, v in raw.items() if k.startswith("ssl_")))
    _check_cert_reqs(raw)
    return PoolOptions(
        max_connections=max_conn,
        pool_timeout=None if pool_timeout is None else float(pool_timeout),
        socket_timeout=_number(raw.get("socket_timeout", defaults.socket_timeout),
                               "OPTIONS['pool']['socket_timeout']", positive=True),
        socket_connect_timeout=_number(
            raw.get("socket_connect_timeout", defaults.socket_connect_timeout),
            "OPTIONS['pool']['socket_connect_timeout']", positive=True),
        socket_keepalive=bool(raw.get("socket_keepalive", True)),
        health_check_interval=_number(raw.get("health_check_interval", 0),
                                      "OPTIONS['pool']['health_check_interval']",
                                      allow_none=False),
        client_name=raw.get("client_name"),
        ssl=ssl,
    )


def _parse_sentinel_options(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"OPTIONS['sentinel'] must be a dict, got {raw!r}")
    reject_unknown(raw, SENTINEL_KEYS, "OPTIONS['sentinel']", ConfigError)
    _number(raw.get("socket_timeout"), "OPTIONS['sentinel']['socket_timeout']", positive=True)
    db = raw.get("db")
    if db is not None and (isinstance(db, bool) or not isinstance(db, int) or db < 0):
        raise ConfigError(f"OPTIONS['sentinel']['db'] must be a whole number >= 0, got {db!r}")
    for name in ("service", "username", "password"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise ConfigError(f"OPTIONS['sentinel'][{name!r}] must be a string, got a "
                              f"{type(raw[name]).__name__}")
    return raw


def _check_cert_reqs(raw: Mapping[str, Any]) -> None:
    """redis-py checks ssl_cert_reqs only when it first connects; check it now."""
    import ssl

    if "ssl_cert_reqs" not in raw:
        return
    value = raw["ssl_cert_reqs"]
    if value is None or value in CERT_REQS or isinstance(value, ssl.VerifyMode):
        return
    raise ConfigError(f"OPTIONS['pool']['ssl_cert_reqs'] = {value!r} is not a certificate "
                      f"requirement; use one of {', '.join(map(repr, CERT_REQS))} or an "
                      "ssl.CERT_* constant ('required', the default, verifies the server)")


def _check_tls(settings: Settings) -> None:
    """``ssl_*`` options on a plain URL would be ignored and the traffic stay plaintext."""
    if not settings.pool.ssl:
        return
    plain = [e for e in settings.endpoints if not e.tls]
    if plain:
        names = ", ".join(k for k, _ in settings.pool.ssl)
        raise ConfigError(f"OPTIONS['pool'] sets {names}, but {plain[0].address} is reached "
                          "over a plain connection, so they would be ignored and the traffic "
                          "sent unencrypted; use rediss:// (valkeys://, rediss+cluster://, "
                          "rediss+sentinel://) URLs, or remove the ssl_* options")


def _with_credentials(endpoints: tuple[Endpoint, ...], options: Mapping[str, Any]
                      ) -> tuple[Endpoint, ...]:
    """``OPTIONS['username'/'password']``: the data nodes' credentials, so LOCATION (which
    Django's error reports show) can stay free of secrets."""
    username, password = options.get("username"), options.get("password")
    for name, value in (("username", username), ("password", password)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"OPTIONS[{name!r}] must be a non-empty string, got a "
                              f"{type(value).__name__}")
    if username is None and password is None:
        return endpoints
    if any(e.username is not None or e.password is not None for e in endpoints):
        raise ConfigError("credentials are given both in LOCATION and in OPTIONS['username'/"
                          "'password']; keep them in OPTIONS only (Django's error reports "
                          "mask OPTIONS['password'] but show LOCATION)")
    return tuple(replace(e, username=username, password=password) for e in endpoints)


def _same_servers(endpoints: tuple[Endpoint, ...]) -> list[str]:
    """Addresses that name one server twice (same db), whatever their spelling."""
    seen: dict[tuple[Any, ...], str] = {}
    identities = [e.identity for e in endpoints]
    dupes = [i for i in identities if identities.count(i) > 1]
    for e in endpoints:
        host = (e.host or "").lower().rstrip(".")
        spot = (e.path, "loopback" if host in LOOPBACK else host, e.port, e.db, e.name)
        if spot in seen:
            dupes.append(f"{seen[spot]} and {e.identity}" if seen[spot] != e.identity
                         else e.identity)
        else:
            seen[spot] = e.identity
    return sorted(set(dupes))


def _parse_log_keys(raw: Any) -> str:
    if raw not in KEY_MODES:
        raise ConfigError(f"OPTIONS['log_keys'] must be one of {', '.join(map(repr, KEY_MODES))}"
                          f", not {raw!r}")
    return str(raw)


def _redact(url: str) -> str:
    """A URL fit for an error message: user name and password replaced by '***'."""
    return mask_url(url)
