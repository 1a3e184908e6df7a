"""Each annotator's own random order of a task's items, readable a few items at a time over an index.

Every item carries a fixed random ``shuffle_key`` (62 bits, a hash of its task and external id) and
falls into one of ``BUCKETS`` buckets by the key's top bits. An annotator's order is:

- the buckets in a random order of their own (a keyed 4-round Feistel permutation of the bucket
  numbers: a bijection computed per bucket, nothing stored), then
- within a bucket, the items by a random rank of their own (a 64-bit mix of seed, annotator, key).

So two annotators' orders are independent random orders except that the few items sharing a bucket
(a task of a million items has about 244 per bucket; below 4,096 items most buckets hold at most
one) stay near each other in both; where an item comes in one annotator's order says nothing about
where it comes in another's. The next items after any point of an order are the next few buckets
of it: one read of the ``items (task_id, bucket, n_labeled)`` index for a list of bucket numbers,
the list as long as it takes to hold about ``PER_READ`` items at the task's size. An item imported
later falls into a random bucket and so enters every annotator's order at a random place.
Pure functions; the queue itself (``annotation.assignment``) keeps each annotator's place.
"""

from __future__ import annotations

import hashlib

KEY_BITS = 62
BUCKET_BITS = 12
BUCKETS = 1 << BUCKET_BITS
PER_READ = 32  # items a read of the order holds on average at first
_HALF = BUCKET_BITS // 2  # the Feistel halves: BUCKET_BITS is even
_HALF_MASK = (1 << _HALF) - 1
_MASK64 = (1 << 64) - 1


def shuffle_key(task_id: int, external_id: str) -> int:
    """The item's fixed random key in [0, 2^62): a hash of (task, external id), so a re-import
    into another database gives every item the same place in every annotator's order."""
    digest = hashlib.sha256(f"queue:{task_id}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - KEY_BITS)


def bucket_of(key: int) -> int:
    """The bucket of a shuffle key: its top ``BUCKET_BITS`` bits."""
    return key >> (KEY_BITS - BUCKET_BITS)


def queue_columns(task_id: int, external_id: str) -> dict[str, int]:
    """An item row's ``shuffle_key`` and ``bucket``, for writers that insert rows themselves."""
    key = shuffle_key(task_id, external_id)
    return {"shuffle_key": key, "bucket": bucket_of(key)}


def _mix(seed: int, who: int, value: int) -> int:
    """A 64-bit mix (splitmix64's finalizer) of three integers."""
    x = (seed * 0x9E3779B97F4A7C15 + who * 0xD6E8FEB86659FD93 + value * 0xA0761D6478BD642F) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def bucket_at(place: int, who: int, seed: int = 0) -> int:
    """The bucket at ``place`` (0 .. BUCKETS-1) of annotator ``who``'s order of buckets."""
    left, right = place >> _HALF, place & _HALF_MASK
    for rnd in range(4):
        left, right = right, left ^ (_mix(seed, who, (rnd << 16) | right) & _HALF_MASK)
    return (left << _HALF) | right


def place_of(bucket: int, who: int, seed: int = 0) -> int:
    """The inverse of :func:`bucket_at`: where a bucket comes in the annotator's order."""
    left, right = bucket >> _HALF, bucket & _HALF_MASK
    for rnd in reversed(range(4)):
        left, right = right ^ (_mix(seed, who, (rnd << 16) | left) & _HALF_MASK), left
    return (left << _HALF) | right


def rank(key: int, who: int, seed: int = 0) -> int:
    """The item's rank within its bucket in annotator ``who``'s order (62 bits: fits a signed BIGINT)."""
    return _mix(seed, who, key) >> 2


def buckets_per_read(n_items: int) -> int:
    """How many consecutive buckets of an order hold about ``PER_READ`` of ``n_items`` items."""
    return max(1, min(BUCKETS, -(-PER_READ * BUCKETS // max(n_items, 1))))
