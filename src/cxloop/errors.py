"""One exception hierarchy for cxloop. Each edge translates it once.

::

    CxloopError
    ├── ConfigError            a setting or a rules file is wrong
    │   └── RuleError          a promise rule is invalid (names the rule and field)
    ├── InputError             a file cannot be read at all (missing, unknown format)
    │   └── MappingError       a file lacks what its mapping needs (e.g. a column)
    ├── StoreError             the store is unusable (corrupt manifest, a database error)
    │   ├── Busy               another writer held the store too long: retry (HTTP 503)
    │   ├── Unsupported        this store/engine combination cannot do that (names what can)
    │   └── store.db.DatabaseError   SQLite or PostgreSQL refused (Integrity / Operational)
    ├── NotFoundError          a customer, promise, case or ingest run does not exist
    ├── PolicyError            an action the empowerment policy or a state table forbids
    ├── ConflictError          someone else did it first (an approval decided concurrently)
    └── DeliveryError          a notice was certainly not delivered (rejected, unreachable)

Bad *rows* are not exceptions: they are quarantined and reported.
"""

from __future__ import annotations


class CxloopError(Exception):
    """Base of every error cxloop raises on purpose."""


class ConfigError(CxloopError):
    """A setting or configuration file is invalid."""


class RuleError(ConfigError):
    """A promise rule is invalid."""


class InputError(CxloopError):
    """An input file cannot be read."""


class MappingError(InputError):
    """An input file does not have what its mapping needs."""


class StoreError(CxloopError):
    """The store cannot be used."""


class Busy(StoreError):
    """Another writer held the store (or the database) longer than the wait allowed: the
    same request can succeed later. The API answers 503 with Retry-After."""


class Unsupported(StoreError):
    """The configured backend cannot do this (the message says what to use instead)."""


class NotFoundError(CxloopError):
    """Something asked for does not exist."""


class PolicyError(CxloopError):
    """An action is not allowed: by the empowerment policy, or by a state's transitions."""


class ConflictError(CxloopError):
    """Someone else changed it first: e.g. of concurrent decisions on one approval, all but
    the winner get this (HTTP 409). Not a PolicyError: nothing forbids it, it is done."""


class DeliveryError(CxloopError):
    """A notice was certainly not delivered; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
