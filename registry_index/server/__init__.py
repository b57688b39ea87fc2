"""The HTTP server layer: what registry_index adds to uvicorn, kept out of the app."""
