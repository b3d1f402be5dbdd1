"""Stampede (thundering herd) protection: ``OPTIONS["stampede"] = {"mode": ...}``.

* ``herd``: values carry a soft expiry; past it exactly one caller gets a miss and
  recomputes while the others keep the stale value (django-redis's HerdClient, made exact).
* ``early``: XFetch, a caller may be chosen to recompute before expiry, with a probability
  that grows as expiry nears and with the value's own recompute time.
* ``lock``: single-flight ``get_or_set``: one caller computes under a short lock, the others
  wait (bounded) for its value.

Coordination lives in Redis (Lua scripts on the value's own key, a lock key), so it holds
across threads, tasks and processes. See docs/stampede.md. This package's ``__init__``
imports nothing: the codec imports ``envelope`` from here.
"""
