from tests.support.legacy import legacy_source

__all__ = ["legacy_source"]
