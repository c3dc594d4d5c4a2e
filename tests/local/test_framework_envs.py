"""Local framework environments: built once with uv, reused, keyed by requirements, honest about differences."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from trainops_local.frameworks import envs, pythons
from trainops_local.frameworks.envs import EnvironmentBuildError, EnvSpec, ensure_environment


def tiny_spec(*packages: str, python: str = "3.11") -> EnvSpec:
    return EnvSpec(
        framework="sklearn",
        version="test",
        python=python,
        toolkit="sagemaker-training",
        framework_module="sagemaker_sklearn_container.training:main",
        packages=packages or ("six==1.16.0",),
        source="tests",
    )


def test_an_environment_is_built_once_then_reused(tmp_path: Path) -> None:
    # Given nothing is cached
    lines: list[str] = []
    # When the environment is asked for twice
    first = ensure_environment(tiny_spec(), root=tmp_path, log=lines.append)
    second = ensure_environment(tiny_spec(), root=tmp_path, log=lines.append)
    # Then it was built the first time only, in one place, with the image's pin and the build tools
    assert (first.built_now, second.built_now) == (True, False)
    assert first.path == second.path
    assert first.packages["six"] == "1.16.0"
    assert {"pip", "setuptools", "wheel"} <= set(first.packages)
    assert first.python_version.startswith("3.11.")
    assert (first.path / "pip.conf").is_file()
    assert any("building the local environment" in line for line in lines)
    assert first.notes() == []


def test_requirements_make_their_own_environment(tmp_path: Path) -> None:
    plain = ensure_environment(tiny_spec(), root=tmp_path)
    with_requirements = ensure_environment(tiny_spec(), b"idna==3.10\n", root=tmp_path)
    assert plain.path != with_requirements.path
    assert with_requirements.packages["idna"] == "3.10"
    assert "idna" not in plain.packages


def test_requirements_that_cannot_install_fail_with_the_installer_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError) as info:
        ensure_environment(tiny_spec(), b"this-package-does-not-exist-trainops==1.0\n", root=tmp_path)
    assert info.value.kind == "requirements"
    assert "this-package-does-not-exist-trainops" in info.value.output
    assert "requirements.txt" in info.value.command
    # nothing half-built is left to be mistaken for a finished environment
    assert not list((tmp_path / "framework-envs").glob("*/trainops-env.json"))


def test_a_pin_without_a_wheel_for_this_python_takes_the_nearest_version_and_says_so(tmp_path: Path) -> None:
    # numpy 1.19.2 has no wheel for Python 3.11 (its newest wheels are for 3.9)
    env = ensure_environment(tiny_spec("numpy==1.19.2"), root=tmp_path)
    installed = env.packages["numpy"]
    assert installed != "1.19.2"
    assert tuple(int(p) for p in installed.split(".")[:2]) >= (1, 23)
    assert env.notes() == [
        f"numpy {installed} instead of the image's 1.19.2 (no installable 1.19.2 for Python {env.python_version})"
    ]
    assert env.describe()["differences"] == env.notes()


def test_concurrent_jobs_build_an_environment_once(tmp_path: Path) -> None:
    results = []

    def build() -> None:
        results.append(ensure_environment(tiny_spec(), root=tmp_path))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(r.built_now for r in results) == [False, False, True]
    assert len({r.path for r in results}) == 1


def test_the_nearest_python_is_used_when_the_image_python_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    found = (pythons.Interpreter("/x/python3.8", "3.8.18"), pythons.Interpreter("/x/python3.11", "3.11.7"))
    monkeypatch.setattr(pythons, "interpreters", lambda: found)
    assert pythons.nearest("3.8") == found[0]
    assert pythons.nearest("3.10") == found[1]  # one minor from 3.11, two from 3.8
    assert pythons.nearest("3.6") == found[0]
    env = envs.FrameworkEnv(path=Path("/x"), spec=tiny_spec(python="3.10"), python_version="3.11.7", packages={})
    assert env.notes() == ["Python 3.11.7 instead of the image's Python 3.10 (no Python 3.10 on this machine)"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            ("sklearn", "1.2-1", None),
        ),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", ("xgboost", "1.7-1", None)),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-gpu-py311", ("pytorch", "2.5.1", "3.11")),
        ("111122223333.dkr.ecr.us-east-1.amazonaws.com/my-own:latest", None),
    ],
)
def test_framework_images_are_recognised_from_their_uri(uri: str, expected: tuple[str, str, str | None] | None) -> None:
    assert envs.framework_of_image(uri) == expected


def test_an_unknown_framework_version_lists_the_known_ones() -> None:
    with pytest.raises(envs.UnknownFramework) as info:
        envs.env_spec("sklearn", "0.1-0")
    assert "1.2-1" in info.value.versions
    assert "1.2-1" in str(info.value)


def test_every_local_recipe_is_a_version_the_image_table_knows() -> None:
    from trainops import image_uris

    for framework in ("sklearn", "xgboost"):
        assert set(envs.known_versions(framework)) <= set(image_uris.versions(framework)), framework


def test_pytorch_is_the_local_cpu_build_whatever_the_image_version_and_says_so() -> None:
    # Pinned local difference: the PyTorch images' torch is a CUDA build of the image's version; locally it is the
    # CPU wheel on this machine (pip's find-links), for Python 3.11, installed with pip (uv does not read it)
    spec = envs.env_spec("pytorch", "2.5.1", python="3.10")
    assert (spec.installer, spec.local_python, spec.python) == ("pip", "3.11", "3.10")
    assert "torch==2.13.0" in spec.packages
    assert {"sagemaker-training", "sagemaker-pytorch-training"} <= set(spec.packages)
    assert spec.note and "CPU build 2.13.0" in spec.note and "image's PyTorch 2.5.1" in spec.note
    env = envs.FrameworkEnv(path=Path("/x"), spec=spec, python_version="3.11.7", packages={"torch": "2.13.0+cpu"})
    assert env.notes()[0] == (
        "Python 3.11.7 instead of the image's Python 3.10 (the local pytorch build is for Python 3.11)"
    )
    assert envs._substitutions(spec, {"torch": "2.13.0+cpu"}, "3.11.7") == []  # +cpu is the 2.13.0 release
