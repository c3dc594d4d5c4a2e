"""Local framework environments: what a SageMaker framework training image ships, as cached virtualenvs.

A script-mode job locally runs its entry point with the Python and packages of its framework image (read from
the container repositories into ``containers.json``), plus the job's ``requirements.txt``, through the same
training toolkit the image runs. Environments are built once with uv and reused.
"""

from trainops_local.frameworks.envs import (
    EnvironmentBuildError,
    EnvSpec,
    FrameworkEnv,
    UnknownFramework,
    cache_dir,
    ensure_environment,
    env_spec,
    framework_of_image,
    known_versions,
)

__all__ = [
    "EnvSpec",
    "EnvironmentBuildError",
    "FrameworkEnv",
    "UnknownFramework",
    "cache_dir",
    "ensure_environment",
    "env_spec",
    "framework_of_image",
    "known_versions",
]
