"""Per-alias retry (and, later, failover) policies."""

from .options import RetryOptions, parse_retry
from .retry import RetryPolicy

__all__ = ["RetryOptions", "RetryPolicy", "parse_retry"]
