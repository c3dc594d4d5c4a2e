"""The vendored image-URI table: well formed, and (when the SageMaker Python SDK is installed, which it is not
in CI on purpose: it is ~1 GB) equal to the SDK's own ``image_uris.retrieve``."""

import pytest
from trainops.catalog import _image_table, image_uri
from trainops.errors import AlgorithmNotSupported

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]


@pytest.mark.parametrize("key", ["xgboost", "linear-learner", "sklearn", "pytorch", "tensorflow"])
@pytest.mark.parametrize("region", REGIONS)
def test_every_image_resolves_in_common_regions(key, region):
    uri = image_uri(key, region)
    account, rest = uri.split(".dkr.ecr.", 1)
    assert account.isdigit()
    assert len(account) == 12
    assert rest.startswith(f"{region}.amazonaws.com/")


def test_unknown_version_names_the_field_and_the_choices():
    with pytest.raises(AlgorithmNotSupported) as info:
        image_uri("xgboost", "us-east-1", "0.9")
    assert info.value.field == "algorithm.version"
    assert "1.7-1" in (info.value.fix or "")


def test_table_matches_the_sagemaker_sdk_when_installed():
    image_uris = pytest.importorskip("sagemaker.core.image_uris", reason="dev-time check: SageMaker SDK not installed")
    table = _image_table()
    for region in REGIONS:
        for version in table["images"]["xgboost"]["versions"]:
            assert image_uri("xgboost", region, version) == image_uris.retrieve("xgboost", region, version=version)
        assert image_uri("linear-learner", region) == image_uris.retrieve("linear-learner", region)
