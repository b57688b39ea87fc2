"""A target environment: the marker values and wheel tags of one Python on one platform.

Pure: built from ``python=3.11`` and ``platform=linux|macos|windows`` (+ ``arch``), or from the
server's own interpreter. Markers are evaluated with ``packaging.markers`` and wheels matched
against the tags ``packaging.tags`` generates for that interpreter and platform.
"""

from __future__ import annotations

import platform as _platform
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.version import Version

PLATFORMS = ("linux", "macos", "windows")
ARCHES = ("x86_64", "aarch64")
_ARCH_ALIASES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}
_PYTHON = re.compile(r"^3\.(\d{1,2})(?:\.(\d{1,2}))?\Z")
_MIN_MINOR, _MAX_MINOR = 6, 30
# Newest glibc minor whose manylinux tags a linux target accepts, and musl minor likewise.
_GLIBC_MAX_MINOR = 41
_MUSL_MAX_MINOR = 2
_MACOS_VERSION = (15, 0)


class InvalidEnvironment(ValueError):
    """A bad target; ``parameter`` names the query parameter / option at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Environment:
    python_full_version: str  # "3.11.0" or the server's own "3.11.7"
    platform: str  # linux | macos | windows
    arch: str = "x86_64"  # x86_64 | aarch64

    # -- construction ------------------------------------------------------------------

    @classmethod
    def current(cls) -> Environment:
        """The server's own interpreter and platform."""
        info = sys.version_info
        plat = {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
        arch = _ARCH_ALIASES.get(_platform.machine().lower(), "x86_64")
        return cls(f"{info.major}.{info.minor}.{info.micro}", plat, arch)

    @classmethod
    def from_params(
        cls, python: str | None = None, platform: str | None = None, arch: str | None = None
    ) -> Environment:
        """From query parameters or CLI options; anything omitted is the server's own.

        ``python=3.11`` means 3.11.0, as ``pip --python-version 3.11`` does; a platform without an
        ``arch`` means x86_64.
        """
        here = cls.current()
        full = here.python_full_version
        if python is not None and python != "":
            m = _PYTHON.match(python.strip())
            if not m or not _MIN_MINOR <= int(m.group(1)) <= _MAX_MINOR:
                raise InvalidEnvironment(
                    "python",
                    f"Parameter 'python' must be a Python version such as 3.11 or 3.11.4 "
                    f"(3.{_MIN_MINOR} to 3.{_MAX_MINOR}), not {python!r}.",
                )
            full = f"3.{int(m.group(1))}.{int(m.group(2) or 0)}"
        plat = here.platform
        if platform is not None and platform != "":
            plat = platform.strip().lower()
            if plat not in PLATFORMS:
                raise InvalidEnvironment(
                    "platform",
                    f"Parameter 'platform' must be one of {', '.join(PLATFORMS)}, not {platform!r}.",
                )
        chosen_arch = "x86_64" if platform else here.arch
        if arch is not None and arch != "":
            found = _ARCH_ALIASES.get(arch.strip().lower())
            if found is None:
                raise InvalidEnvironment(
                    "arch",
                    f"Parameter 'arch' must be one of {', '.join(ARCHES)} (or arm64, amd64), not {arch!r}.",
                )
            chosen_arch = found
        return cls(full, plat, chosen_arch)

    # -- derived -----------------------------------------------------------------------

    @property
    def python_version_info(self) -> tuple[int, int]:
        major, minor, *_ = self.python_full_version.split(".")
        return int(major), int(minor)

    @property
    def python_version(self) -> str:
        return "{}.{}".format(*self.python_version_info)

    @property
    def python(self) -> Version:
        """The version requires-python is checked against."""
        return Version(self.python_full_version)

    @cached_property
    def markers(self) -> dict[str, str]:
        """The PEP 508 marker environment (``extra`` is added per evaluation)."""
        sys_platform, system, os_name = {
            "linux": ("linux", "Linux", "posix"),
            "macos": ("darwin", "Darwin", "posix"),
            "windows": ("win32", "Windows", "nt"),
        }[self.platform]
        machine = self.arch
        if self.platform == "windows":
            machine = {"x86_64": "AMD64", "aarch64": "ARM64"}[self.arch]
        elif self.platform == "macos":
            machine = {"x86_64": "x86_64", "aarch64": "arm64"}[self.arch]
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_full_version,
            "os_name": os_name,
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": self.python_full_version,
            "python_version": self.python_version,
            "sys_platform": sys_platform,
        }

    @cached_property
    def platform_tags(self) -> list[str]:
        """Platform tags, most specific first."""
        if self.platform == "windows":
            return [{"x86_64": "win_amd64", "aarch64": "win_arm64"}[self.arch]]
        if self.platform == "macos":
            return list(mac_platforms(_MACOS_VERSION, {"x86_64": "x86_64", "aarch64": "arm64"}[self.arch]))
        arch = self.arch
        tags = [f"manylinux_2_{minor}_{arch}" for minor in range(_GLIBC_MAX_MINOR, 4, -1)]
        legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
        for alias, minor in legacy.items():
            if arch == "x86_64" or (arch == "aarch64" and alias == "manylinux2014"):
                tags.insert(tags.index(f"manylinux_2_{minor}_{arch}") + 1, f"{alias}_{arch}")
        tags += [f"musllinux_1_{minor}_{arch}" for minor in range(_MUSL_MAX_MINOR, -1, -1)]
        tags.append(f"linux_{arch}")
        return tags

    @cached_property
    def tags(self) -> frozenset[Tag]:
        """Every wheel tag an interpreter of this environment installs."""
        version = self.python_version_info
        interpreter = f"cp{version[0]}{version[1]}"
        plats = self.platform_tags
        found = set(cpython_tags(version, abis=[interpreter], platforms=plats))
        found.update(compatible_tags(version, interpreter, plats))
        return frozenset(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python_version,
            "python_full_version": self.python_full_version,
            "platform": self.platform,
            "arch": self.arch,
            "markers": dict(self.markers),
        }

    def describe(self) -> str:
        return f"Python {self.python_full_version} on {self.platform} ({self.arch})"
