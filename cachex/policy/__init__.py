"""Per-alias retry and failover policies: what happens after a call to a node failed.

``build_policy(OPTIONS, alias, topology)`` validates ``OPTIONS['retry']`` and
``OPTIONS['failover']`` and returns the ``Policy`` the router consults; see docs/policies.md.
"""

from .breaker import CircuitBreaker
from .core import Policy, build_policy, policy_options
from .failover import FailedReplies
from .options import FailoverOptions, RetryOptions, parse_failover, parse_retry
from .retry import RetryPolicy

__all__ = ["CircuitBreaker", "FailedReplies", "FailoverOptions", "Policy", "RetryOptions",
           "RetryPolicy", "build_policy", "parse_failover", "parse_retry", "policy_options"]
