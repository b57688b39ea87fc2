"""Upload validation behind a small protocol; the default provider is strict."""

from .archives import ArchiveLimits
from .provider import StrictValidator, Validator

__all__ = ["ArchiveLimits", "StrictValidator", "Validator"]
