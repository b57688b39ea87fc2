"""The pure resolver: environments, markers, extras, yanks, pre-releases, requires-python, backtracking."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from registry_index.resolve.environment import Environment, InvalidEnvironment
from registry_index.resolve.resolver import resolve
from registry_index.resolve.source import Artifact, BadRequirement, ReleaseInfo, StaticSource
from registry_index.resolve.tree import UnknownRelease, dependency_tree

LINUX = Environment.from_params("3.11", "linux")
WINDOWS = Environment.from_params("3.11", "windows")
MACOS_ARM = Environment.from_params("3.12", "macos", "arm64")
PY39 = Environment.from_params("3.9", "linux")


def rel(
    name: str,
    version: str,
    deps: Sequence[str] = (),
    *,
    tags: Sequence[str] = ("py3-none-any",),
    sdist: bool = False,
    requires_python: str | None = None,
    yanked: bool = False,
    extras: Sequence[str] = (),
) -> ReleaseInfo:
    base = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    files = [Artifact(f"{base}-{tag}.whl", requires_python) for tag in tags]
    if sdist:
        files.append(Artifact(f"{base}.tar.gz", requires_python))
    return ReleaseInfo(
        canonicalize_name(name),
        Version(version),
        tuple(files),
        tuple(deps),
        tuple(extras),
        yanked,
        "broken" if yanked else "",
    )


def pins(releases: Sequence[ReleaseInfo], *reqs: str, env: Environment = LINUX) -> dict[str, str]:
    result = resolve(StaticSource(releases), list(reqs), env)
    assert result.ok, result.message()
    return result.pins


# -- environments --------------------------------------------------------------------------


def test_environment_markers_per_platform() -> None:
    assert LINUX.markers["sys_platform"] == "linux" and LINUX.markers["python_version"] == "3.11"
    assert LINUX.python_full_version == "3.11.0"  # as pip --python-version 3.11
    assert WINDOWS.markers["sys_platform"] == "win32" and WINDOWS.markers["os_name"] == "nt"
    assert WINDOWS.markers["platform_machine"] == "AMD64"
    assert MACOS_ARM.markers["sys_platform"] == "darwin" and MACOS_ARM.markers["platform_machine"] == "arm64"
    assert Environment.from_params("3.10.4", "linux").markers["python_full_version"] == "3.10.4"


def test_environment_tags() -> None:
    linux = LINUX.tags
    for tag in (
        "py3-none-any",
        "cp311-cp311-manylinux_2_17_x86_64",
        "cp311-cp311-manylinux2014_x86_64",
        "cp311-cp311-manylinux1_x86_64",
        "cp311-cp311-musllinux_1_2_x86_64",
        "cp39-abi3-manylinux_2_28_x86_64",
        "py311-none-any",
        "cp311-none-any",
    ):
        assert Tag(*tag.split("-")) in linux, tag
    for tag in (
        "cp312-cp312-manylinux_2_17_x86_64",
        "cp311-cp311-win_amd64",
        "cp311-cp311-manylinux_2_17_aarch64",
    ):
        assert Tag(*tag.split("-")) not in linux, tag
    assert Tag("cp311", "cp311", "win_amd64") in WINDOWS.tags
    assert Tag("cp312", "cp312", "macosx_11_0_arm64") in MACOS_ARM.tags
    assert Tag("cp312", "cp312", "macosx_10_9_universal2") in MACOS_ARM.tags
    assert (
        Tag("cp311", "cp311", "manylinux_2_17_aarch64")
        in Environment.from_params("3.11", "linux", "aarch64").tags
    )


def test_environment_defaults_to_the_server() -> None:
    here = Environment.current()
    assert Environment.from_params() == here
    assert Environment.from_params(None, "", "") == here
    assert here.to_json()["python"] == here.python_version


@pytest.mark.parametrize(
    ("python", "platform", "arch", "parameter"),
    [
        ("2.7", None, None, "python"),
        ("3", None, None, "python"),
        ("3.11.x", None, None, "python"),
        ("banana", None, None, "python"),
        (None, "solaris", None, "platform"),
        (None, "linux", "sparc", "arch"),
    ],
)
def test_environment_refuses_bad_values(
    python: str | None, platform: str | None, arch: str | None, parameter: str
) -> None:
    with pytest.raises(InvalidEnvironment) as info:
        Environment.from_params(python, platform, arch)
    assert info.value.parameter == parameter and repr(parameter) in info.value.message


# -- candidates ----------------------------------------------------------------------------


def test_newest_version_that_installs() -> None:
    releases = [rel("a", "1.0"), rel("a", "1.2"), rel("a", "1.10")]
    assert pins(releases, "a") == {"a": "1.10"}
    assert pins(releases, "a<1.10") == {"a": "1.2"}
    assert pins(releases, "A ~= 1.0") == {"a": "1.10"}


def test_markers_select_dependencies_per_environment() -> None:
    releases = [
        rel("app", "1.0", ['winonly; sys_platform == "win32"', 'old; python_version < "3.10"', "common"]),
        rel("winonly", "1.0"),
        rel("old", "1.0"),
        rel("common", "1.0"),
    ]
    assert pins(releases, "app") == {"app": "1.0", "common": "1.0"}
    assert pins(releases, "app", env=WINDOWS) == {"app": "1.0", "common": "1.0", "winonly": "1.0"}
    assert pins(releases, "app", env=PY39) == {"app": "1.0", "common": "1.0", "old": "1.0"}
    # a requested requirement whose marker is false is ignored, as pip does
    assert pins(releases, "common", 'winonly; sys_platform == "win32"') == {"common": "1.0"}


def test_extras() -> None:
    releases = [
        rel(
            "lib",
            "2.0",
            [
                "core>=1",
                'feat-dep>=2; extra == "feat"',
                'win-dep; extra == "feat" and sys_platform == "win32"',
            ],
            extras=["feat"],
        ),
        rel("lib", "1.0", ["core>=1"], extras=["feat"]),
        rel("core", "1.0"),
        rel("feat-dep", "2.1"),
        rel("feat-dep", "1.0"),
        rel("win-dep", "1.0"),
    ]
    assert pins(releases, "lib") == {"lib": "2.0", "core": "1.0"}
    result = resolve(StaticSource(releases), ["lib[FEAT]"], LINUX)
    assert result.pins == {"lib": "2.0", "core": "1.0", "feat-dep": "2.1"}
    assert result.extras == {"lib": ["feat"]}
    assert pins(releases, "lib[feat]", env=WINDOWS)["win-dep"] == "1.0"
    # the extra and its base are one version: an old one when the extra forces it
    assert pins(releases, "lib[feat]", "feat-dep<2") == {"lib": "1.0", "core": "1.0", "feat-dep": "1.0"}
    # an extra the release does not provide is ignored with a warning, as pip does
    unknown = resolve(StaticSource(releases), ["lib[nope]"], LINUX)
    assert unknown.pins == {"lib": "2.0", "core": "1.0"}
    assert unknown.warnings == ["lib 2.0 does not provide the extra 'nope'"]


def test_extra_from_a_dependency() -> None:
    releases = [
        rel("app", "1.0", ["lib[feat]"]),
        rel("lib", "1.0", ['extra-dep; extra == "feat"'], extras=["feat"]),
        rel("extra-dep", "3.0"),
    ]
    assert pins(releases, "app") == {"app": "1.0", "lib": "1.0", "extra-dep": "3.0"}


def test_yanked_versions_need_an_exact_pin() -> None:
    releases = [rel("y", "1.0"), rel("y", "2.0", yanked=True)]
    assert pins(releases, "y") == {"y": "1.0"}
    assert pins(releases, "y>=1") == {"y": "1.0"}
    assert pins(releases, "y==2.0") == {"y": "2.0"}
    assert pins(releases, "y===2.0") == {"y": "2.0"}
    failed = resolve(StaticSource(releases), ["y>=2"], LINUX)
    assert not failed.ok and "2.0: yanked (broken)" in failed.unsatisfiable[0].reason
    failed = resolve(StaticSource(releases), ["y==2.*"], LINUX)  # a wildcard is no pin
    assert not failed.ok


def test_pre_releases_only_when_asked_or_alone() -> None:
    releases = [rel("p", "1.0"), rel("p", "2.0b1")]
    assert pins(releases, "p") == {"p": "1.0"}
    assert pins(releases, "p>=2.0b1") == {"p": "2.0b1"}
    assert pins(releases, "p==2.0b1") == {"p": "2.0b1"}
    assert pins(releases, "p>1.0") == {"p": "2.0b1"}  # nothing else matches
    assert pins([rel("only", "1.0rc1")], "only") == {"only": "1.0rc1"}


def test_requires_python_excludes_versions() -> None:
    releases = [
        rel("rp", "1.0"),
        rel("rp", "2.0", requires_python=">=3.12"),
        rel("rp", "1.5", requires_python="<3.10"),
    ]
    assert pins(releases, "rp") == {"rp": "1.0"}
    assert pins(releases, "rp", env=Environment.from_params("3.12", "linux")) == {"rp": "2.0"}
    assert pins(releases, "rp", env=PY39) == {"rp": "1.5"}
    failed = resolve(StaticSource(releases), ["rp>=2"], LINUX)
    assert "2.0: requires Python >=3.12" in failed.unsatisfiable[0].reason


def test_platform_wheels() -> None:
    releases = [
        rel("native", "1.0"),
        rel("native", "2.0", tags=["cp311-cp311-win_amd64"]),
        rel("native", "3.0", tags=["cp312-cp312-manylinux_2_17_x86_64"]),
        rel("both", "1.0", tags=["cp311-cp311-win_amd64"], sdist=True),
    ]
    assert pins(releases, "native") == {"native": "1.0"}
    assert pins(releases, "native", env=WINDOWS) == {"native": "2.0"}
    assert pins(releases, "native", env=Environment.from_params("3.12", "linux")) == {"native": "3.0"}
    assert pins(releases, "both") == {"both": "1.0"}  # the sdist builds anywhere
    failed = resolve(StaticSource(releases), ["native==2.0"], LINUX)
    assert "no wheel for the target platform" in failed.unsatisfiable[0].reason


# -- backtracking --------------------------------------------------------------------------


def test_backtracks_through_a_chain() -> None:
    releases = [
        rel("a", "2.0", ["b==2.0"]),
        rel("a", "1.0", ["b>=1,<2"]),
        rel("b", "2.0", ["c>=3"]),
        rel("b", "1.5", ["c>=1"]),
        rel("b", "1.0", ["c>=1"]),
        rel("c", "1.0"),
        rel("c", "1.1"),
    ]
    assert pins(releases, "a") == {"a": "1.0", "b": "1.5", "c": "1.1"}


def test_backtracks_on_a_shared_dependency() -> None:
    releases = [
        rel("x", "2.0", ["shared>=2"]),
        rel("x", "1.0", ["shared>=1"]),
        rel("y", "3.0", ["shared<2"]),
        rel("y", "2.0", ["shared<2"]),
        rel("shared", "2.5"),
        rel("shared", "1.5"),
    ]
    assert pins(releases, "x", "y") == {"x": "1.0", "y": "3.0", "shared": "1.5"}
    assert pins(releases, "y", "x") == {"x": "1.0", "y": "3.0", "shared": "1.5"}
    assert not resolve(StaticSource(releases), ["x>=2", "y"], LINUX).ok


def test_backtracks_over_many_versions() -> None:
    releases = [rel("top", f"1.{n}", [f"mid=={n}"]) for n in range(10)]
    releases += [rel("mid", str(n), ["leaf>=5" if n > 2 else "leaf<5"]) for n in range(10)]
    releases += [rel("leaf", "4.0"), rel("leaf", "5.0", requires_python="<3.11")]
    assert pins(releases, "top") == {"top": "1.2", "mid": "2", "leaf": "4.0"}


# -- unsatisfiable -------------------------------------------------------------------------


def test_unsatisfiable_explanations() -> None:
    releases = [
        rel("x", "2.0", ["shared>=2"]),
        rel("y", "1.0", ["shared<2"]),
        rel("shared", "2.5"),
        rel("shared", "1.5"),
        rel("needs-missing", "1.0", ["ghost>=1"]),
    ]
    source = StaticSource(releases)
    conflict = resolve(source, ["x", "y"], LINUX)
    assert not conflict.ok and conflict.pins == {}
    [item] = conflict.unsatisfiable
    assert item.project == "shared"
    assert set(item.requirements) == {("shared>=2", "x 2.0"), ("shared<2", "y 1.0")}
    assert "no single version" in item.reason
    assert "The requirements cannot be satisfied" in conflict.message()

    missing = resolve(source, ["needs-missing"], LINUX)
    assert [u.to_json() for u in missing.unsatisfiable] == [
        {
            "project": "ghost",
            "requirements": [{"requirement": "ghost>=1", "required_by": "needs-missing 1.0"}],
            "reason": "no project 'ghost' on this index",
        }
    ]
    too_new = resolve(source, ["shared>=3"], LINUX)
    assert "no version of shared matches >=3 (available: 2.5, 1.5)" in too_new.unsatisfiable[0].reason
    direct = resolve(source, ["shared @ https://example.com/shared-1.0.tar.gz"], LINUX)
    assert "direct references" in direct.unsatisfiable[0].reason
    with pytest.raises(BadRequirement):
        resolve(source, ["shared >>> 1"], LINUX)


# -- trees ---------------------------------------------------------------------------------


def test_dependency_tree() -> None:
    releases = [
        rel("app", "1.0", ["lib>=1", "util", 'winonly; sys_platform == "win32"']),
        rel("lib", "1.0", ["util<2"]),
        rel("util", "1.5"),
        rel("util", "2.0"),
        rel("winonly", "1.0"),
    ]
    tree = dependency_tree(StaticSource(releases), LINUX, "app", "1.0")
    doc = tree.to_json()
    assert doc["requires_dist"] == ["lib>=1", "util", 'winonly; sys_platform == "win32"']
    assert doc["unsatisfiable"] == [] and doc["pins"] == {"app": "1.0", "lib": "1.0", "util": "1.5"}
    lib, util = doc["tree"]
    assert (lib["name"], lib["version"]) == ("lib", "1.0")
    assert lib["dependencies"][0] == {
        "requirement": "util<2",
        "name": "util",
        "version": "1.5",
        "dependencies": [],
    }
    assert util == {
        "requirement": "util",
        "name": "util",
        "version": "1.5",
        "repeated": True,
        "dependencies": [],
    }
    win = dependency_tree(StaticSource(releases), WINDOWS, "app", "1.0").to_json()
    assert [n["name"] for n in win["tree"]] == ["lib", "util", "winonly"]
    with pytest.raises(UnknownRelease):
        dependency_tree(StaticSource(releases), LINUX, "app", "9.9")
    with pytest.raises(UnknownRelease):
        dependency_tree(StaticSource(releases), LINUX, "nope", "1.0")


def test_dependency_tree_marks_the_unsatisfiable_and_resolves_the_rest() -> None:
    releases = [
        rel("app", "1.0", ["ok-dep", "ghost>=1", "deep"]),
        rel("ok-dep", "1.0"),
        rel("deep", "1.0", ["ghost2"]),
    ]
    tree = dependency_tree(StaticSource(releases), LINUX, "app", "1.0")
    by_name = {n.name: n for n in tree.nodes}
    assert by_name["ok-dep"].version == "1.0" and by_name["ok-dep"].unsatisfiable is None
    assert by_name["ghost"].version is None and "no project 'ghost'" in (by_name["ghost"].unsatisfiable or "")
    assert "ghost2" in (by_name["deep"].unsatisfiable or "")
    assert tree.unsatisfiable and tree.pins == {"app": "1.0", "ok-dep": "1.0"}


def test_dependency_tree_of_a_release_that_does_not_install_here() -> None:
    releases = [rel("winapp", "1.0", ["dep"], tags=["cp311-cp311-win_amd64"]), rel("dep", "2.0")]
    tree = dependency_tree(StaticSource(releases), LINUX, "winapp", "1.0")
    assert tree.installable and "no wheel" in tree.installable
    assert [(n.name, n.version) for n in tree.nodes] == [("dep", "2.0")]
