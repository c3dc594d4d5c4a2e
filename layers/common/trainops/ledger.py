"""The runs table: run records (what happened to each run), task tokens (who waits for which job), project
locks (one registration at a time per project), and for coalescing: every upload of a project with the run that
covered it (``REQUESTS#``), the uploads waiting for a run (``PENDING#``) and the project's run slot (``SLOT#``).

Single table, string keys ``pk``/``sk``; a ``by-project`` index (``gsi1pk``/``gsi1sk``) lists a project's runs.
A sparse ``to-reconcile`` index (partition key ``reconcile_pk``) holds only what ReconcileJobs looks at: task
tokens while they wait (set by :meth:`Ledger.store_token`, removed by :meth:`Ledger.claim_token`) and the
projects' run slots (an item that exists only while held). ReconcileJobs queries it instead of scanning the table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from trainops.aws import error_code, translate
from trainops.errors import AwsThrottled, RegistryBusy

log = logging.getLogger(__name__)

# longer than the longest wait (MaxRuntimeInSeconds <= 28 days; the ASL waits 28 days + 1 h)
TOKEN_TTL_SECONDS = 35 * 86400
# a project lock outlives the RegisterModel function's timeout (60 s), so a holder that was killed frees it;
# the state machine's RegistryBusy retries wait well past it (20 attempts, about 4 minutes in all)
LOCK_LEASE_SECONDS = 90

# the sparse index ReconcileJobs queries: its partition key is set only on waiting tokens and held slots
RECONCILE_INDEX = "to-reconcile"
RECONCILE_KEY = "reconcile_pk"
RECONCILE_TOKENS = "RECONCILE#TOKEN"
RECONCILE_SLOTS = "RECONCILE#SLOT"

# BatchWriteItem: at most 25 put or delete requests per call
BATCH_WRITE_MAX = 25


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _clean(value: Any) -> Any:
    """DynamoDB takes no floats and no empty strings in keys: round-trip through JSON with Decimals."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


class Ledger:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self.table_name = table_name
        self.ddb = dynamodb

    # --- runs -----------------------------------------------------------------------------------
    def start_run(self, run_id: str, project: str, execution: str | None, fields: dict[str, Any]) -> bool:
        """Create the run record. False when another execution already owns this run id (a duplicate)."""
        started = now_iso()
        item = {
            "pk": f"RUN#{run_id}",
            "sk": "RUN",
            "gsi1pk": f"PROJECT#{project}",
            "gsi1sk": f"{started}#{run_id}",
            "run_id": run_id,
            "project": project,
            "status": "RUNNING",
            "execution": execution or "",
            "started_at": started,
            "updated_at": started,
            **fields,
        }
        try:
            self._put(
                item,
                condition="attribute_not_exists(pk) OR execution = :me",
                values={":me": execution or ""},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "PutItem run record") from exc
        return True

    def update_run(self, run_id: str, fields: dict[str, Any], *, project: str | None = None) -> None:
        """Set ``fields`` on the run record (created if missing: RecordFailure of a run that failed before it
        started). With ``project``, a record not yet in the project's history (the by-project index) joins it."""
        now = now_iso()
        fields = {**fields, "updated_at": now}
        if project:
            fields.setdefault("project", project)
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": v for i, v in enumerate(_clean(list(fields.values())))}
        expr = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        if project:
            expr += ", gsi1pk = if_not_exists(gsi1pk, :gpk), gsi1sk = if_not_exists(gsi1sk, :gsk)"
            values.update({":gpk": f"PROJECT#{project}", ":gsk": f"{now}#{run_id}"})
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
                UpdateExpression=expr,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_serialize_values(values),
            )
        except ClientError as exc:
            raise translate(exc, "UpdateItem run record") from exc

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        resp = self._call(
            "get_item",
            TableName=self.table_name,
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return deserialize_item(item) if item else None

    def project_runs(self, project: str) -> list[dict[str, Any]]:
        resp = self._call(
            "query",
            TableName=self.table_name,
            IndexName="by-project",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": f"PROJECT#{project}"}},
            ScanIndexForward=False,
        )
        return [deserialize_item(i) for i in resp.get("Items", [])]

    def record_config(
        self, project: str, key: str, fields: dict[str, Any], *, uploaded_at: str, sequencer: str
    ) -> None:
        """A config upload's outcome (accepted, or rejected with its error), on the project's history beside
        its runs (the ``by-project`` index), so that a rejected config is visible where runs are.

        Keyed by the upload (its event time and S3 sequencer): Lambda's retries of one upload write one record,
        and two uploads of one second sort by their sequencer, as S3 orders writes to a key."""
        order = f"{uploaded_at}#{sequencer.rjust(32, '0')}"
        self._put(
            {
                "pk": f"CONFIG#{project}",
                "sk": order,
                "gsi1pk": f"PROJECT#{project}",
                "gsi1sk": f"{uploaded_at}#config#{sequencer.rjust(32, '0')}",
                "kind": "config",
                "project": project,
                "config_key": key,
                "uploaded_at": uploaded_at,
                "recorded_at": now_iso(),
                **fields,
            }
        )

    # --- task tokens ----------------------------------------------------------------------------
    def store_token(self, job_name: str, kind: str, task_token: str, run_id: str) -> None:
        """Stored BEFORE the job is created, so even an instant state change finds its token."""
        item = {
            "pk": f"JOB#{job_name}",
            "sk": "TOKEN",
            "kind": kind,
            "task_token": task_token,
            "run_id": run_id,
            "status": "WAITING",
            "stored_at": now_iso(),
            "expires_at": int(time.time()) + TOKEN_TTL_SECONDS,
            RECONCILE_KEY: RECONCILE_TOKENS,
        }
        self._put(item)

    def get_token(self, job_name: str) -> dict[str, Any] | None:
        resp = self._call(
            "get_item",
            TableName=self.table_name,
            Key={"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": "TOKEN"}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return deserialize_item(item) if item else None

    def claim_token(self, job_name: str, status: str) -> bool:
        """Mark the token answered (and take it out of the reconciler's index). False when it already was (a
        duplicate SageMaker event)."""
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key={"pk": {"S": f"JOB#{job_name}"}, "sk": {"S": "TOKEN"}},
                UpdateExpression="SET #s = :done, job_status = :st, answered_at = :at REMOVE #r",
                ConditionExpression="#s = :waiting",
                ExpressionAttributeNames={"#s": "status", "#r": RECONCILE_KEY},
                ExpressionAttributeValues={
                    ":done": {"S": "ANSWERED"},
                    ":waiting": {"S": "WAITING"},
                    ":st": {"S": status},
                    ":at": {"S": now_iso()},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "UpdateItem task token") from exc
        return True

    # --- project locks --------------------------------------------------------------------------
    @contextlib.contextmanager
    def project_lock(self, project: str, owner: str) -> Iterator[None]:
        """Hold the project's lock for the block: reading the champion and registering are one step.

        Without it, two runs of one project could both beat the same champion and both be Approved. The lock
        is a leased item: a holder that crashes frees it after LOCK_LEASE_SECONDS, and the same owner (a
        retried task of the same run) may take it again. Raises RegistryBusy when another run holds it.
        """
        if not self.acquire_lock(project, owner):
            log.info("project %s is locked by another run", project, extra={"decision": "lock_busy", "lock": project})
            raise RegistryBusy(
                f"another run of project {project} is registering a model",
                field="project",
                fix="nothing: the state machine retries RegisterModel until the other run is done",
            )
        try:
            yield
        finally:
            try:
                self.release_lock(project, owner)
            except Exception:  # never hide the block's own outcome; the lease frees the lock anyway
                log.exception("could not release the lock of project %s held by %s", project, owner)

    def acquire_lock(self, project: str, owner: str, *, lease_seconds: int = LOCK_LEASE_SECONDS) -> bool:
        now = int(time.time())
        item = {
            "pk": f"LOCK#{project}",
            "sk": "LOCK",
            "owner": owner,
            "acquired_at": now_iso(),
            "expires_at": now + lease_seconds,
        }
        try:
            self._put(
                item,
                condition="attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
                values={":now": now, ":owner": owner},
                names={"#o": "owner"},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "PutItem project lock") from exc
        return True

    def release_lock(self, project: str, owner: str) -> None:
        """Delete the lock if ``owner`` still holds it (after a lease ran out, someone else may)."""
        try:
            self._call(
                "delete_item",
                TableName=self.table_name,
                Key={"pk": {"S": f"LOCK#{project}"}, "sk": {"S": "LOCK"}},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise translate(exc, "DeleteItem project lock") from exc

    # --- uploads and the project's run slot (coalescing; trainops.coalescing) ----------------------
    def record_request(
        self, project: str, run_id: str, execution: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Record an upload (or schedule, or manual start) of the project under its run id. None when it is new
        (or this execution's own retry of an upload no run covers yet); else the existing record, unchanged: another
        execution's, or this execution's once a run covers it (a retry never erases ``covered_by``)."""
        item = {
            "pk": f"REQUESTS#{project}",
            "sk": run_id,
            "run_id": run_id,
            "project": project,
            "execution": execution,
            "received_at": now_iso(),
            "status": "received",
            **fields,
        }
        try:
            self._put(
                item,
                condition="attribute_not_exists(pk) OR (execution = :me AND attribute_not_exists(covered_by))",
                values={":me": execution},
                return_old_on_failure=True,
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise translate(exc, "PutItem request record") from exc
            return _failed_on(exc) or self._get(f"REQUESTS#{project}", run_id) or {}
        return None

    def update_request(self, project: str, run_id: str, fields: dict[str, Any]) -> None:
        """Update an upload's record."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": v for i, v in enumerate(_clean(list(fields.values())))}
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key={"pk": {"S": f"REQUESTS#{project}"}, "sk": {"S": run_id}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_serialize_values(values),
            )
        except ClientError as exc:
            raise translate(exc, "UpdateItem request record") from exc

    def get_request(self, project: str, run_id: str) -> dict[str, Any] | None:
        return self._get(f"REQUESTS#{project}", run_id)

    def project_requests(self, project: str) -> list[dict[str, Any]]:
        """Every upload, schedule and manual start of the project, oldest first, with the run that covered it."""
        return self._query(f"REQUESTS#{project}")

    def put_pending(self, project: str, run_id: str, fields: dict[str, Any]) -> None:
        """Mark an upload as waiting for a run (written before the slot is tried, so no finishing run misses it)."""
        self._put({"pk": f"PENDING#{project}", "sk": run_id, "run_id": run_id, "project": project, **fields})

    def pending(self, project: str) -> list[dict[str, Any]]:
        return self._query(f"PENDING#{project}")

    def drop_pending(self, project: str, run_id: str) -> None:
        self._call(
            "delete_item",
            TableName=self.table_name,
            Key={"pk": {"S": f"PENDING#{project}"}, "sk": {"S": run_id}},
        )

    def drop_pending_many(self, project: str, run_ids: list[str], *, attempts: int = 6) -> None:
        """Uploads covered by a run leave the pending set: BatchWriteItem, 25 deletes a request (FinishRun covers
        every upload that waited, however many). Unprocessed deletes are sent again with backoff; still unprocessed
        after ``attempts``: AwsThrottled (the state machine retries FinishRun, whose retry deletes them again:
        ``coalescing.finish``)."""
        for start in range(0, len(run_ids), BATCH_WRITE_MAX):
            chunk = run_ids[start : start + BATCH_WRITE_MAX]
            requests: dict[str, Any] = {
                self.table_name: [
                    {"DeleteRequest": {"Key": {"pk": {"S": f"PENDING#{project}"}, "sk": {"S": run_id}}}}
                    for run_id in chunk
                ]
            }
            for attempt in range(attempts):
                requests = self._call("batch_write_item", RequestItems=requests).get("UnprocessedItems") or {}
                if not requests:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise AwsThrottled(
                    f"DynamoDB left {len(requests[self.table_name])} pending uploads of {project} unprocessed "
                    f"after {attempts} BatchWriteItem attempts",
                    fix="retried by the state machine; raise the table's capacity if this persists",
                )

    def get_slot(self, project: str) -> dict[str, Any] | None:
        return self._get(f"SLOT#{project}", "SLOT")

    def claim_slot(
        self, project: str, run_id: str, execution: str, *, replacing: str | None = None, policy: str = "coalesce"
    ) -> bool:
        """Take the project's run slot for ``run_id``: free, already ours, or (``replacing``) held by that run."""
        return self.try_claim_slot(project, run_id, execution, replacing=replacing, policy=policy)[0]

    def try_claim_slot(
        self, project: str, run_id: str, execution: str, *, replacing: str | None = None, policy: str = "coalesce"
    ) -> tuple[bool, dict[str, Any] | None]:
        """:meth:`claim_slot`, and when it fails the slot that stopped it, as the write found it (DynamoDB
        returns it with the failed condition: no second read, no read capacity)."""
        item = {
            "pk": f"SLOT#{project}",
            "sk": "SLOT",
            "project": project,
            "holder": run_id,
            "execution": execution,
            "since": now_iso(),
            "policy": policy,
            RECONCILE_KEY: RECONCILE_SLOTS,
        }
        condition = "attribute_not_exists(pk) OR holder = :me"
        values: dict[str, Any] = {":me": run_id}
        if replacing is not None:
            condition += " OR holder = :old"
            values[":old"] = replacing
        try:
            self._put(item, condition=condition, values=values, return_old_on_failure=True)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False, _failed_on(exc)
            raise translate(exc, "PutItem run slot") from exc
        return True, None

    def hand_over_slot(
        self,
        project: str,
        holder: str,
        successor: str,
        execution: str,
        follow_up: str,
        *,
        policy: str = "coalesce",
        follows_execution: str = "",
    ) -> bool:
        """Pass the slot from ``holder`` (run by ``follows_execution``) to its follow-up run in one step (no upload
        can slip in between)."""
        item = {
            "pk": f"SLOT#{project}",
            "sk": "SLOT",
            "project": project,
            "policy": policy,
            "holder": successor,
            "execution": execution,
            "since": now_iso(),
            "follows": holder,
            "follows_execution": follows_execution,
            "follow_up": follow_up,
            RECONCILE_KEY: RECONCILE_SLOTS,
        }
        return self._conditional_put(item, "holder = :old", {":old": holder}, "PutItem run slot")

    def release_slot(self, project: str, holder: str) -> bool:
        try:
            self._call(
                "delete_item",
                TableName=self.table_name,
                Key={"pk": {"S": f"SLOT#{project}"}, "sk": {"S": "SLOT"}},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "DeleteItem run slot") from exc
        return True

    # --- helpers --------------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        resp = self._call(
            "get_item", TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return deserialize_item(item) if item else None

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._call("query", **kwargs)
            items.extend(deserialize_item(i) for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def to_reconcile(self, kind: str) -> list[dict[str, Any]]:
        """The items of the sparse ``to-reconcile`` index under ``kind`` (RECONCILE_TOKENS or RECONCILE_SLOTS).

        An index is eventually consistent: a token answered a moment ago may still be listed (answering it
        again is harmless: the task is closed and the claim is conditional)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": RECONCILE_INDEX,
            "KeyConditionExpression": "#r = :k",
            "ExpressionAttributeNames": {"#r": RECONCILE_KEY},
            "ExpressionAttributeValues": {":k": {"S": kind}},
        }
        while True:
            resp = self._call("query", **kwargs)
            items.extend(deserialize_item(i) for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _conditional_put(self, item: dict[str, Any], condition: str, values: dict[str, Any], action: str) -> bool:
        try:
            self._put(item, condition=condition, values=values)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, action) from exc
        return True

    def _call(self, method: str, **kwargs: Any) -> Any:
        """Throttling becomes AwsThrottled (retried by the state machine); other errors stay ClientError."""
        try:
            return getattr(self.ddb, method)(**kwargs)
        except ClientError as exc:
            error = translate(exc, f"DynamoDB {method}")
            if error is exc:
                raise
            raise error from exc

    def _put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        return_old_on_failure: bool = False,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Item": _serialize(_clean(item))}
        if condition:
            kwargs["ConditionExpression"] = condition
            if return_old_on_failure:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if values:
            kwargs["ExpressionAttributeValues"] = _serialize(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        self._call("put_item", **kwargs)


def _failed_on(exc: ClientError) -> dict[str, Any] | None:
    """The item a conditional write failed on (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), if returned."""
    item = exc.response.get("Item")
    return deserialize_item(item) if isinstance(item, dict) and item else None


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in item.items() if v is not None}


def _serialize_values(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) if v is not None else {"NULL": True} for k, v in values.items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (attribute-value form) as plain JSON values."""
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    out = {k: de.deserialize(v) for k, v in item.items()}
    return json.loads(json.dumps(out, default=_decimal))


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)
