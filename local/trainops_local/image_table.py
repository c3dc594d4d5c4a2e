"""Generate ``layers/common/trainops/image_uris.json`` from the SageMaker Python SDK's image tables.

    .venv/bin/python -m trainops_local.image_table          # make image-uris

Reads ``sagemaker/core/image_uri_config/<framework>.json`` of the installed ``sagemaker-core`` (a
development dependency) and writes a compact table that ``trainops.image_uris`` resolves without the SDK:
registries grouped by account, one entry per version, scopes that are identical stored once.
``tests/unit/test_image_uris.py`` checks that the vendored table is what this produces, and that every URI it
resolves is the SDK's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "layers" / "common" / "trainops" / "image_uris.json"

FRAMEWORKS = ["xgboost", "sklearn", "pytorch", "tensorflow", "linear-learner"]
SCOPES = ["training", "inference"]

# ---------------------------------------------------------------------------------------------- generation


def default_config_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("sagemaker.core")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("sagemaker-core not importable: pass --config-dir")
    return os.path.join(next(iter(spec.submodule_search_locations)), "image_uri_config")


def _sdk_default_version(scope_cfg: dict) -> str | None:
    """Mirror of image_uris._fetch_latest_version_from_config for a scope config (image_scope given)."""
    latest = scope_cfg.get("version_aliases", {}).get("latest")
    if latest:
        return latest
    keys = list(scope_cfg["versions"])
    if len(keys) == 1:
        return keys[0]
    top, bottom = keys[0], keys[-1]
    if "latest" in (top, bottom):
        return None
    try:
        from packaging.version import Version

        return top if Version(top) >= Version(bottom) else bottom
    except (ImportError, ValueError):  # packaging missing or invalid version: fall back to numeric tuples
        return max(top, bottom, key=_vtuple)


def _vtuple(v: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def generate(config_dir: str) -> dict:  # noqa: PLR0912, PLR0915  (one branch per image-table shape of the SDK's JSON)
    registries: dict[str, str] = {}  # canonical json of a grouped map -> id
    reg_out: dict[str, dict] = {}
    dns: dict[str, str | None] = {}

    def reg_id(regmap: dict) -> str:
        grouped: dict[str, list] = {}
        for region in sorted(regmap):
            grouped.setdefault(regmap[region], []).append(region)
        grouped = dict(sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])))
        key = json.dumps(grouped, sort_keys=True)
        if key not in registries:
            rid = f"r{len(registries)}"
            registries[key] = rid
            reg_out[rid] = grouped
        for region in regmap:
            dns.setdefault(region, None)
        return registries[key]

    def version_entry(vc: dict) -> dict:
        if "repository" not in vc:  # nested by py version (TF 1.13.1 training)
            return {"by_py": {py: version_entry(sub) for py, sub in vc.items()}}
        out = {"repo": vc["repository"], "reg": reg_id(vc["registries"])}
        if vc.get("py_versions"):
            out["py"] = vc["py_versions"]
        for k in ("processors", "tag_prefix", "container_version"):
            if vc.get(k):
                out[k] = vc[k]
        if vc.get("processor_in_tag") is False:
            out["processor_in_tag"] = False
        return out

    images: dict[str, dict] = {}
    for fw in FRAMEWORKS:
        with open(os.path.join(config_dir, f"{fw}.json")) as f:
            cfg = json.load(f)
        fw_out: dict[str, object] = {}
        if "versions" in cfg:  # single config shared by every scope (linear-learner)
            scope_cfgs = {s: cfg for s in cfg.get("scope", SCOPES) if s in SCOPES}
        else:
            scope_cfgs = {s: cfg[s] for s in SCOPES if s in cfg}
        seen: dict[str, str] = {}
        for scope, sc in scope_cfgs.items():
            canon = json.dumps(sc, sort_keys=True)
            if canon in seen:  # identical to an earlier scope: store a pointer
                fw_out[scope] = seen[canon]
                continue
            seen[canon] = scope
            versions = {v: version_entry(vc) for v, vc in sc["versions"].items()}
            repos = Counter(e["repo"] for e in versions.values() if "repo" in e)
            common_repo = repos.most_common(1)[0][0] if repos else None
            for e in versions.values():
                if e.get("repo") == common_repo:
                    del e["repo"]
            s_out: dict[str, object] = {}
            default = _sdk_default_version(sc)
            if default:
                s_out["default"] = default
            if sc.get("version_aliases"):
                s_out["aliases"] = sc["version_aliases"]
            if sc.get("processors"):
                s_out["processors"] = sc["processors"]
            if common_repo:
                s_out["repo"] = common_repo
            s_out["versions"] = versions
            fw_out[scope] = s_out
        images[fw] = fw_out

    # hostname: botocore's endpoint resolver ("ecr.<region>.<dnsSuffix>"); only exceptions are stored
    suffix = {}
    try:
        import botocore.session

        resolver = botocore.session.get_session()._get_internal_component("endpoint_resolver")
        for region in sorted(dns):
            ep = resolver.construct_endpoint("ecr", region)
            host = ep["hostname"] if ep else f"ecr.{region}.amazonaws.com"
            s = host[len(f"ecr.{region}.") :]
            if s != "amazonaws.com":
                suffix[region] = s
    except ImportError:  # fallback: partition knowledge as of botocore 1.44
        for region in sorted(dns):
            for prefix, s in _KNOWN_SUFFIXES:
                if region.startswith(prefix):
                    suffix[region] = s
                    break
    return {
        "_source": f"generated by gen.py from {config_dir}",
        "dns_suffix": {"*": "amazonaws.com", **suffix},
        "registries": reg_out,
        "images": images,
    }


_KNOWN_SUFFIXES = [
    ("cn-", "amazonaws.com.cn"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
]


def render(config_dir: str | None = None) -> str:
    """The table's text, as it is committed."""
    table = generate(config_dir or default_config_dir())
    table["_source"] = "generated by `python -m trainops_local.image_table` from sagemaker-core's image_uri_config"
    return json.dumps(table, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", help="image_uri_config folder (default: the installed sagemaker-core's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render(args.config_dir)
    args.out.write_text(text)
    print(f"wrote {args.out}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
