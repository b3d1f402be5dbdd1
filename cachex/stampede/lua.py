"""The Lua scripts of the stampede modes. Pure text: imported by the failover policy too."""

from __future__ import annotations

import hashlib

# The value, or nil for a miss, or 1: "you recompute" (a miss for this caller only).
# ARGV[1]: the lease in ms; ARGV[2]: early mode's -ln(rand) * beta.
READ = """
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 2) ~= '\\0T' then return v end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return v end
local n = tonumber(string.sub(v, 4, 15))
local due
if string.sub(v, 3, 3) == 'h' then due = ttl <= n else due = n * tonumber(ARGV[2]) >= ttl end
if not due or ttl > tonumber(string.sub(v, 16, 27)) then return v end
redis.call('SETRANGE', KEYS[1], 15, string.format('%012d', math.max(ttl - tonumber(ARGV[1]), 0)))
return 1
"""

# touch: a herd value keeps its grace on top of the new timeout; any claim is dropped.
TOUCH = """
local ok, h = pcall(redis.call, 'GETRANGE', KEYS[1], 0, 26)
local extra = 0
if ok and string.sub(h, 1, 2) == '\\0T' and string.len(h) == 27 then
  if string.sub(h, 3, 3) == 'h' then extra = tonumber(string.sub(h, 4, 15)) end
  redis.call('SETRANGE', KEYS[1], 15, '999999999999')
end
return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + extra)
"""

# lock mode: delete the lock only if it still holds our token
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

SHAS = {text: hashlib.sha1(text.encode()).hexdigest() for text in (READ, TOUCH, RELEASE)}

# A stampede read or touch on a node that fails open answers nil: a miss / "not touched".
# (Other scripts, such as incr's, never fail open: their callers must know.)
DEGRADABLE = frozenset({READ, TOUCH, SHAS[READ], SHAS[TOUCH]})
