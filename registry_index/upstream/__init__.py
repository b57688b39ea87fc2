"""The upstream proxy: other Simple API indexes relayed through this one (issue 14)."""
