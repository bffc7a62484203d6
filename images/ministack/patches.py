"""Five small fixes to MiniStack 1.5.33 where it differs from AWS in ways the
mlflow-dev deployment depends on. Each patch checks that the source still
looks as expected and fails the image build otherwise (another MiniStack
version: re-check each one, then update or drop it).

1. ECS: task containers get containerDefinitions[].entryPoint. MiniStack
   passed only `command`, so the image's own ENTRYPOINT ran with the command
   as its arguments; ECS runs entryPoint + command.
2. ALB data plane: a request whose Host is a load balancer's DNS name reaches
   that load balancer whatever account and region it lives in. MiniStack only
   looked in the caller's account and region, which for an unsigned HTTP
   request (a browser, curl, the MLflow client) are the defaults
   (MINISTACK_ACCOUNT_ID / MINISTACK_REGION), so load balancers in any other
   account or region were unreachable. DNS names are unique, as on AWS.
3. ALB data plane: GET /health on a load balancer host goes to the load
   balancer. MiniStack answered /health on every host with its own health
   document, so the service's /health could not be reached through the ALB.
   MiniStack's own health stays at /_ministack/health (and /health on its
   own address).
4. ECS task-role credentials belong to the task's account and role.
   MiniStack's credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)
   handed out random keys that no account knew, so the task's AWS calls ran
   in the default account: its S3 bucket, in the account that deployed the
   stack, answered AccessDenied. The endpoint now registers the keys as an STS
   session of the task definition's taskRoleArn, in the task's account.
5. CloudFormation: an AWS::RDS::DBInstance (outside an Aurora cluster) runs a
   real database container, as CreateDBInstance does, and the stack waits
   until it is available. MiniStack's provisioner only wrote a record whose
   endpoint (<id>.<hash>.<region>.rds.amazonaws.com) resolved nowhere, so
   nothing could connect to a stack's database. Deleting the resource deletes
   the instance and its container through DeleteDBInstance, so
   DeletionProtection blocks it as on AWS (the stack goes to DELETE_FAILED).
"""

import pathlib
import sys

import ministack.app as app
import ministack.services.alb as alb
import ministack.services.cloudformation.provisioners as provisioners
import ministack.services.cloudformation.stacks as stacks
import ministack.services.ecs as ecs
import ministack.services.imds as imds


def patch(module, old, new, marker):
    path = pathlib.Path(module.__file__)
    source = path.read_text()
    if source.count(old) != 1 or marker in source:
        sys.exit(f"patches.py: unexpected source in {path}; MiniStack changed, re-check this patch")
    path.write_text(source.replace(old, new))
    print(f"patches.py: patched {path.name}: {marker.strip()}")


# 1. ECS entryPoint
patch(
    ecs,
    '        command=cdef.get("command"),\n',
    '        command=cdef.get("command"),\n'
    '        entrypoint=cdef.get("entryPoint") or None,\n',
    'entrypoint=cdef.get("entryPoint")',
)

# 2. ALB lookup by DNS name across accounts and regions
patch(
    alb,
    "def _find_lb_by_name(name):\n",
    '''def _mlflow_dev_find_lb_any_scope(host):
    """mlflow-dev patch: find a load balancer by DNS name in every account and
    region, and serve the request in that load balancer's account and region."""
    lb = _mlflow_dev_find_lb_in_scope(host)
    if lb is not None:
        return lb
    from ministack.core.responses import set_request_account_id, set_request_region

    hostname = host.split(":")[0].lower()
    for (account, region, _arn), candidate in list(_lbs._data.items()):
        if candidate["DNSName"].lower() == hostname:
            set_request_account_id(account)
            set_request_region(region)
            return candidate
    return None


_mlflow_dev_find_lb_in_scope = find_lb_for_host
find_lb_for_host = _mlflow_dev_find_lb_any_scope


def _find_lb_by_name(name):
''',
    "_mlflow_dev_find_lb_any_scope",
)

# 3. /health on a load balancer host reaches the load balancer
patch(
    app,
    "        _handle_health_request(path, request_id),\n        _handle_ready_request(path, request_id),\n",
    "        None if _is_potential_alb_request(host, path) else _handle_health_request(path, request_id),\n"
    "        _handle_ready_request(path, request_id),\n",
    "None if _is_potential_alb_request(host, path) else _handle_health_request",
)

# 4. ECS task-role credentials in the task's account
patch(
    ecs,
    '    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{host}:{port}/v2/credentials/{new_uuid()}"\n',
    "    _mlflow_dev_credentials_id = new_uuid()\n"
    "    from ministack.services import imds as _mlflow_dev_imds\n"
    "    _mlflow_dev_imds.TASK_ROLE_CREDENTIALS[_mlflow_dev_credentials_id] = (\n"
    '        get_account_id(), td.get("taskRoleArn") or "", task_arn)\n'
    '    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = (\n'
    '        f"http://{host}:{port}/v2/credentials/{_mlflow_dev_credentials_id}")\n',
    "_mlflow_dev_credentials_id",
)
patch(
    imds,
    "        return _json_resp(_ecs_task_credentials_doc())\n",
    "        return _json_resp(_mlflow_dev_task_role_credentials(path[len(\"/v2/credentials/\"):]))\n",
    "_mlflow_dev_task_role_credentials(path",
)
patch(
    imds,
    "def _identity_document() -> dict:\n",
    '''# mlflow-dev patch: credentials id -> (account, taskRoleArn, taskArn), filled by ECS.
TASK_ROLE_CREDENTIALS: dict = {}


def _mlflow_dev_task_role_credentials(credentials_id):
    """Credentials of the task's role, registered as an STS session in the task's account."""
    doc = _ecs_task_credentials_doc()
    found = TASK_ROLE_CREDENTIALS.get(credentials_id)
    if not found:
        return doc
    account, role_arn, task_arn = found
    role_name = role_arn.rsplit("/", 1)[-1] if role_arn else "ministack-ecs-task-role"
    doc["RoleArn"] = role_arn or f"arn:aws:iam::{account}:role/{role_name}"
    session_name = task_arn.rsplit("/", 1)[-1]
    from ministack.services import sts as sts_svc

    sts_svc.register_session(doc["AccessKeyId"], {
        "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
        "UserId": f"AROA{credentials_id.replace('-', '')[:17].upper()}:{session_name}",
        "SecretAccessKey": doc["SecretAccessKey"],
        "SessionToken": doc["Token"],
        "Expiration": time.time() + 3600,
        "AccountId": account,
        "PrincipalType": "AssumedRole",
    })
    return doc


def _identity_document() -> dict:
''',
    "TASK_ROLE_CREDENTIALS: dict = {}",
)

# 5. CloudFormation DB instances run a real database
patch(
    stacks,
    '                                 "AWS::ElastiCache::CacheCluster",\n',
    '                                 "AWS::ElastiCache::CacheCluster",\n'
    '                                 "AWS::RDS::DBInstance",  # mlflow-dev patch: starts a container\n',
    "mlflow-dev patch: starts a container",
)
patch(
    provisioners,
    "# ---------------------------------------------------------------------------\n"
    "# RDS DBSubnetGroup / DBParameterGroup / DBClusterParameterGroup\n",
    '''# mlflow-dev patch: a stack's DB instance runs a real database container.
_MLFLOW_DEV_RDS_CREATE_PARAMS = (
    "Engine", "EngineVersion", "DBInstanceClass", "MasterUsername", "MasterUserPassword",
    "DBName", "Port", "AllocatedStorage", "StorageType", "DBSubnetGroupName",
    "BackupRetentionPeriod", "AvailabilityZone", "DBParameterGroupName",
)


def _mlflow_dev_rds_db_instance_create(logical_id, props, stack_name):
    if props.get("DBClusterIdentifier"):
        return _mlflow_dev_rds_db_instance_create_record(logical_id, props, stack_name)
    db_id = props.get("DBInstanceIdentifier") or _physical_name(
        stack_name, logical_id, lowercase=True, max_len=63
    )
    params = {"DBInstanceIdentifier": db_id}
    for key in _MLFLOW_DEV_RDS_CREATE_PARAMS:
        if props.get(key) not in (None, ""):
            params[key] = str(props[key])
    status, _headers, body = _rds._create_db_instance(params)
    if status >= 300:
        raise ValueError(f"CreateDBInstance {db_id} failed: {_mlflow_dev_rds_error_message(body)}")
    instance = _rds._instances[db_id]
    instance.update(_rds_db_instance_fields(props))
    instance["StorageEncrypted"] = _cfn_bool(props.get("StorageEncrypted", False))
    instance["TagList"] = props.get("Tags", [])
    deadline = time.time() + 300
    while instance.get("DBInstanceStatus") == "creating" and time.time() < deadline:
        time.sleep(0.5)
    if instance.get("DBInstanceStatus") != "available":
        raise ValueError(f"DB instance {db_id} is {instance.get('DBInstanceStatus')}, not available")
    return db_id, _rds_db_instance_attrs(instance)


def _mlflow_dev_rds_db_instance_delete(physical_id, props):
    instance = _rds._instances.get(physical_id)
    if instance is None or instance.get("DBClusterIdentifier"):
        return _mlflow_dev_rds_db_instance_delete_record(physical_id, props)
    status, _headers, body = _rds._delete_db_instance(
        {"DBInstanceIdentifier": physical_id, "SkipFinalSnapshot": "true"})
    if status >= 300:
        raise ValueError(_mlflow_dev_rds_error_message(body))


def _mlflow_dev_rds_error_message(body):
    """The <Message> of an RDS error response, as CloudFormation reports it."""
    text = body.decode("utf-8", "replace")
    start, end = text.find("<Message>"), text.find("</Message>")
    return text[start + len("<Message>"):end] if 0 <= start < end else text


_mlflow_dev_rds_db_instance_create_record = _rds_db_instance_create
_mlflow_dev_rds_db_instance_delete_record = _rds_db_instance_delete
_rds_db_instance_create = _mlflow_dev_rds_db_instance_create
_rds_db_instance_delete = _mlflow_dev_rds_db_instance_delete


# ---------------------------------------------------------------------------
# RDS DBSubnetGroup / DBParameterGroup / DBClusterParameterGroup
''',
    "_mlflow_dev_rds_db_instance_create",
)
