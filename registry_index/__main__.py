import sys

# The import stays inside the guard: worker processes (anyio's, for upload checks) re-run
# this file by path as "__mp_main__", and need neither the CLI nor the app it imports.
if __name__ == "__main__":
    from registry_index.cli import main

    sys.exit(main())
