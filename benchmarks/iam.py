"""What IAM enforcement costs the local cloud (issue 10, item 5).

    .venv/bin/python benchmarks/iam.py [--uploads 200 --projects 20 --rounds 2] [--requests-only]

Method, per request (first, in this process): one local cloud with enforcement on; the same DynamoDB GetItem
(a table statement with ``dynamodb:LeadingKeys``, as the template's) sent in interleaved batches of 200 by the
account's administrator (not judged: the in-run baseline) and by a role session (authenticated and judged), 5
rounds; reported: the median time per call of each and their ratio.

Method, whole pipeline: the burst benchmark (``benchmarks/burst.py``: uploads through the real event path, the
real state machine, handlers, table and the local SageMaker, with a stub training script) runs in fresh processes,
alternately without and with ``TRAINOPS_LOCAL_IAM=1`` (off, on, on, off, ... so drift of a shared machine falls on
both), ``--rounds`` times each. With enforcement every handler's, the interpreter's and each job's request is
authenticated and judged (signature recomputed, the role's policies and boundary evaluated at resource level).
Reported: each run's burst wall time and the one-upload time the burst measures in the same process (its in-run
baseline), then the ratio of the medians (on / off) for both.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALL = re.compile(r"wall time: ([0-9.]+) s")
ONE = re.compile(r"one upload -> its run ended ([0-9.]+) s")


def run(iam: bool, uploads: int, projects: int) -> tuple[float, float]:
    env = dict(os.environ, TRAINOPS_LOCAL_IAM="1" if iam else "0")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "burst.py"), "--uploads", str(uploads), "--projects", str(projects)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    wall, one = WALL.search(done.stdout), ONE.search(done.stdout)
    if done.returncode != 0 or wall is None or one is None:
        sys.exit(f"burst.py failed (iam={iam}, exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    lost = re.search(r"uploads lost: (\d+)", done.stdout)
    if lost is None or lost.group(1) != "0":
        sys.exit(f"burst.py lost uploads with iam={iam}:\n{done.stdout[-3000:]}")
    return float(wall.group(1)), float(one.group(1))


def per_request(rounds: int = 5, batch: int = 200) -> None:
    import json
    import tempfile
    import time

    import boto3

    sys.path.insert(0, str(ROOT / "local"))
    sys.path.insert(0, str(ROOT / "layers" / "common"))
    from trainops_local.cloud import LocalCloud, iam_enforcement

    with LocalCloud(Path(tempfile.mkdtemp(prefix="trainops-bench-iam-")), iam=True) as cloud:
        admin, iam = cloud.client("dynamodb"), cloud.client("iam")
        admin.create_table(
            TableName="runs",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        role = iam.create_role(
            RoleName="bench", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
        )["Role"]["Arn"]
        table = f"arn:aws:dynamodb:{cloud.region}:{cloud.account_id}:table/runs"
        statement = {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": table,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RUN#*"]}},
        }
        iam.put_role_policy(
            RoleName="bench",
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        creds = iam_enforcement.role_credentials(role, "bench", cloud.region)
        judged = boto3.client(
            "dynamodb",
            region_name=cloud.region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        times: dict[str, list[float]] = {"administrator": [], "role": []}
        for _ in range(rounds):
            for name, client in (("administrator", admin), ("role", judged)):
                began = time.perf_counter()
                for _ in range(batch):
                    client.get_item(TableName="runs", Key={"pk": {"S": "RUN#1"}})
                times[name].append((time.perf_counter() - began) / batch * 1000)
    off, on = statistics.median(times["administrator"]), statistics.median(times["role"])
    print(f"per request (GetItem, median of {rounds} x {batch}): administrator {off:.2f} ms, role {on:.2f} ms: ")
    print(f"  on/off {on / off:.2f}x, +{on - off:.2f} ms per judged request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests-only", action="store_true", help="only the per-request measure")
    args = parser.parse_args()
    per_request()
    if args.requests_only:
        return
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    order = [False, True, True, False] * (args.rounds // 2) + [False, True] * (args.rounds % 2)
    for iam in order:
        wall, one = run(iam, args.uploads, args.projects)
        results[iam].append((wall, one))
        print(f"iam={'on ' if iam else 'off'}: burst of {args.uploads} uploads {wall:.1f} s; one upload {one:.2f} s")
    off_wall = statistics.median(w for w, _ in results[False])
    on_wall = statistics.median(w for w, _ in results[True])
    off_one = statistics.median(o for _, o in results[False])
    on_one = statistics.median(o for _, o in results[True])
    print(f"median burst wall: off {off_wall:.1f} s, on {on_wall:.1f} s: on/off {on_wall / off_wall:.2f}x")
    print(f"median one upload: off {off_one:.2f} s, on {on_one:.2f} s: on/off {on_one / off_one:.2f}x")


if __name__ == "__main__":
    main()
