"""The HTTP edge: Starlette endpoints, the request context and the error table.

Each endpoint checks access, calls a service through ``Registry`` and sets headers; none
reaches the store or the domain repository (``.importlinter`` keeps it so).
"""
