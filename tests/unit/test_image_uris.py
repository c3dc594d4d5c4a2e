"""The vendored image-URI table against the SageMaker Python SDK (a development dependency): it is what the
generator makes of the installed SDK's tables, and every URI it resolves is the one ``image_uris.retrieve``
gives, for every framework and version, CPU and GPU instances, training and inference, in a set of regions."""

from __future__ import annotations

import functools
import logging
from importlib import resources

import pytest
from sagemaker.core import image_uris as sdk
from trainops import image_uris
from trainops.catalog import image_uri
from trainops.errors import AlgorithmNotSupported
from trainops_local.image_table import render

# Partitions and registries differ: commercial (several account maps), China, GovCloud, a newer region.
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "il-central-1"]
INSTANCES = ["ml.m5.large", "ml.g5.xlarge", "ml.p4d.24xlarge"]
FRAMEWORKS = ["xgboost", "sklearn", "pytorch", "tensorflow", "linear-learner"]


@pytest.fixture(scope="module")
def retrieve():
    """The SDK's retrieve, with its per-call re-reads of the JSON files and endpoint data cached."""
    logging.getLogger("sagemaker").setLevel(logging.CRITICAL)
    sdk.config_for_framework = functools.lru_cache(maxsize=None)(sdk.config_for_framework)
    sdk.utils._botocore_resolver = functools.lru_cache(maxsize=None)(sdk.utils._botocore_resolver)
    return sdk.retrieve


def test_vendored_table_is_what_the_generator_makes_of_the_installed_sdk():
    committed = resources.files("trainops").joinpath("image_uris.json").read_text()
    assert committed == render(), "run `make image-uris` and commit layers/common/trainops/image_uris.json"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_version_resolves_as_the_sdk_does(framework, retrieve):
    checked = 0
    for scope in ("training", "inference"):
        for version in image_uris.versions(framework, scope):
            if version == "latest":
                continue
            python = image_uris.newest_python(framework, version, scope)
            for region in REGIONS:
                for instance in INSTANCES:
                    kwargs = {"instance_type": instance, "image_scope": scope, "py_version": python}
                    try:
                        expected = retrieve(framework, region, version=version, **kwargs)
                    except ValueError:
                        expected = None
                    try:
                        got = image_uris.retrieve(
                            framework, region, version, instance_type=instance, scope=scope, py_version=python
                        )
                    except image_uris.ImageNotFound:
                        got = None
                    assert got == expected, (framework, scope, version, region, instance)
                    checked += expected is not None
    assert checked > 0


def test_gpu_instances_get_gpu_images_and_cpu_only_images_refuse_them():
    assert image_uri("pytorch", "us-east-1", "2.5.1", instance_type="ml.p4d.24xlarge").endswith(":2.5.1-gpu-py311")
    assert image_uri("pytorch", "us-east-1", "2.5.1", instance_type="ml.m5.large").endswith(":2.5.1-cpu-py311")
    with pytest.raises(AlgorithmNotSupported) as info:
        image_uri("sklearn", "us-east-1", "1.2-1", instance_type="ml.g5.xlarge")
    assert info.value.field == "resources.instance_type"


def test_unknown_version_names_the_field_and_lists_the_versions():
    with pytest.raises(AlgorithmNotSupported) as info:
        image_uri("sklearn", "us-east-1", "0.9")
    assert info.value.field == "algorithm.framework_version"
    assert "1.2-1" in (info.value.fix or "")
    assert "1.9-0" in (info.value.fix or "")
    with pytest.raises(AlgorithmNotSupported) as info:
        image_uri("xgboost", "us-east-1", "0.9")
    assert info.value.field == "algorithm.version"


def test_a_region_without_the_image_names_the_region():
    with pytest.raises(AlgorithmNotSupported) as info:
        image_uri("sklearn", "mx-central-1", "1.2-1", instance_type="ml.m5.large")
    assert info.value.field == "region"


def test_tensorflow_patch_versions_are_served_by_their_minor_release():
    assert image_uris.serving_version("tensorflow", "2.16.2") == "2.16"
    assert image_uris.serving_version("sklearn", "1.2-1") == "1.2-1"
