"""The services: plain classes, each composed from only the collaborators it uses.

``registry.Registry`` builds them over one store and is the facade the app, the CLI and
library users call. Services reach project data only through ``domain.ProjectRepository``
and stored files only through ``files.Artifacts``; routes reach neither.
"""
