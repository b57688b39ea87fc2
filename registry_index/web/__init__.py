"""The browsable web UI: server-rendered pages over the same cached sidecars the APIs use."""
