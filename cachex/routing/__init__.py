"""Pure routing: where a key lives, and how multi-key requests split per node. No I/O."""

from .hashtag import hash_tag
from .plan import (
    Batch,
    Commands,
    Group,
    Positions,
    batch_commands,
    node_commands,
    plan_nodes,
    plan_slots,
    scatter,
    single_batch,
)
from .ring import Ring, RingNode
from .slots import SLOTS, SlotMemo, key_slot

__all__ = ["SLOTS", "Batch", "Commands", "Group", "Positions", "Ring", "RingNode", "SlotMemo",
           "batch_commands", "hash_tag", "key_slot", "node_commands", "plan_nodes", "plan_slots",
           "scatter", "single_batch"]
