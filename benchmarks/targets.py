"""The performance targets of issue 7, checked against ratios measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    group: str
    workload: str
    contender: str
    baseline: str
    threshold: float
    text: str

    def check(self, groups: dict[str, Any]) -> dict[str, Any]:
        """This target's measured ratio and verdict (MET / NOT MET / NOT AVAILABLE)."""
        out: dict[str, Any] = {"text": self.text, "group": self.group,
                               "workload": self.workload, "contender": self.contender,
                               "baseline": self.baseline, "threshold": self.threshold,
                               "ratio": None, "cpu_ratio": None, "status": "NOT AVAILABLE",
                               "why": None}
        group = groups.get(self.group)
        if group is None or not group.get("available"):
            out["why"] = (group or {}).get("reason") or f"group {self.group} not run"
            return out
        for who in (self.contender, self.baseline):
            info = group["contenders"].get(who)
            if info is None or not info["available"]:
                out["why"] = f"{who}: {info['reason'] if info else 'not in this run'}"
                return out
        work = group["workloads"].get(self.workload)
        if work is None:
            out["why"] = f"workload {self.workload!r} not run (see --only)"
            return out
        ratio = work["ratios"].get(self.contender, {}).get(self.baseline)
        if ratio is None:
            errors = [work["results"].get(w, {}).get("error") for w in
                      (self.contender, self.baseline)]
            out["why"] = "; ".join(e for e in errors if e) or "no measurement"
            return out
        out["ratio"] = ratio
        out["cpu_ratio"] = work.get("cpu_ratios", {}).get(self.contender, {}).get(self.baseline)
        out["status"] = "MET" if ratio >= self.threshold else "NOT MET"
        return out


CX = "cachex[redis]"
TARGETS = [
    Target("single", "get 100B", CX, "redis-py", 0.95, "single: get >= 0.95x raw redis-py"),
    Target("single", "set 100B", CX, "redis-py", 0.95, "single: set >= 0.95x raw redis-py"),
    Target("single", "get_many(100) 100B", CX, "redis-py", 0.9,
           "single: get_many(100) >= 0.9x raw redis-py"),
    Target("single", "aget x100 100B", CX, "redis-py", 0.9,
           "async: aget, 100 concurrent tasks >= 0.9x raw redis.asyncio"),
    Target("single", "aget x100 100B", CX, "django", 3.0,
           "async: aget, 100 concurrent tasks >= 3x Django's built-in RedisCache"),
    Target("shards", "get_many(100) 100B", CX, "redis-py 1 node", 0.7,
           "shards: get_many(100) over 4 nodes >= 0.7x raw single-node MGET"),
    Target("shards", "get_many(100) 100B", CX, "django-redis shard", 20.0,
           "shards: get_many(100) >= 20x django-redis ShardClient"),
    Target("cluster", "get_many(100) 100B", CX, "RedisCluster", 2.5,
           "cluster: get_many(100) >= 2.5x RedisCluster.mget_nonatomic"),
    Target("cluster", "aget_many(100) 100B", CX, "RedisCluster", 3.0,
           "cluster: aget_many(100) >= 3x asyncio RedisCluster.mget_nonatomic"),
]


def check_all(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [t.check(groups) for t in TARGETS]
