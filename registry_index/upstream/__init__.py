"""The upstream proxy: reading other indexes' Simple API pages, kept apart from hosted projects."""
