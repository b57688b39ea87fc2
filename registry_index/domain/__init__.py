"""The domain: the project model and its transitions, the key layout, the project repository."""
