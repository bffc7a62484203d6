"""Six fixes to MiniStack 1.5.33 where it differs from AWS in ways the
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
6. ECS enforces the task size and the container health check, as Fargate
   does. MiniStack started task containers with no limits and never ran
   healthCheck (healthStatus stayed UNKNOWN), so a task too small for its
   server, or a server that never answers its health check, looked healthy.
   Now each container gets the task's CPU as a CFS quota (1024 units = 1 CPU)
   and its memory (the container's `memory`, else the task's) as a hard limit
   with no swap; an out-of-memory kill is reported as ECS reports it (container
   reason `OutOfMemoryError: Container killed due to memory usage`, exit code
   137); `healthCheck` runs as the container's Docker health check and its
   state is the container's and the task's `healthStatus`; a service task
   whose essential container turns UNHEALTHY is stopped ("Task failed
   container health checks") and counts as a failed task of its deployment
   (circuit breaker), so the service replaces it; and a service deployment
   completes only once its tasks with a health check are HEALTHY.
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

# 6. ECS enforces the task size and the container health check
patch(
    ecs,
    '    if docker_platform:\n        kwargs["platform"] = docker_platform\n\n    return kwargs\n',
    '    if docker_platform:\n        kwargs["platform"] = docker_platform\n\n'
    '    kwargs.update(_mlflow_dev_limits_and_health(cdef, td))\n    return kwargs\n',
    "_mlflow_dev_limits_and_health(cdef, td))",
)
patch(
    ecs,
    "def _build_run_kwargs(cdef, td, env, port_bindings, ecs_network,\n",
    '''def _mlflow_dev_limits_and_health(cdef, td):
    """mlflow-dev patch: the task size as Docker limits, healthCheck as a Docker health check."""
    out = {}
    memory = cdef.get("memory") or td.get("memory")
    if memory:
        out["mem_limit"] = f"{int(memory)}m"
        out["memswap_limit"] = f"{int(memory)}m"  # Fargate has no swap
    cpu = td.get("cpu") or cdef.get("cpu")
    if cpu and int(cpu) > 0:
        out["nano_cpus"] = int(int(cpu) * 1_000_000_000 // 1024)
    hc = cdef.get("healthCheck") or {}
    if hc.get("command"):
        second = 1_000_000_000
        out["healthcheck"] = {
            "test": list(hc["command"]),
            "interval": int(hc.get("interval", 30)) * second,
            "timeout": int(hc.get("timeout", 5)) * second,
            "retries": int(hc.get("retries", 3)),
            "start_period": int(hc.get("startPeriod", 0)) * second,
        }
    return out


_MLFLOW_DEV_OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def _mlflow_dev_track_health(task, index, container, essentials):
    """mlflow-dev patch: Docker's health state as ECS healthStatus; True when an essential container is UNHEALTHY."""
    health = ((container.attrs.get("State") or {}).get("Health") or {}).get("Status")
    if not health:
        return False
    status = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}.get(health, "UNKNOWN")
    essential = index >= len(essentials) or essentials[index]
    became_healthy = False
    with resource_lock("ecs-task", task.get("taskArn", "")):
        containers = task.get("containers", [])
        if index < len(containers):
            became_healthy = status == "HEALTHY" and containers[index].get("healthStatus") != "HEALTHY"
            containers[index]["healthStatus"] = status
        checked = task.setdefault("_mlflow_dev_checked", {})
        if essential:
            checked[index] = status
        states = list(checked.values())
        task["healthStatus"] = (
            "UNHEALTHY" if "UNHEALTHY" in states
            else "HEALTHY" if states and all(s == "HEALTHY" for s in states)
            else "UNKNOWN"
        )
    group = task.get("group", "")
    cluster_name = _cluster_name_from_arn(task.get("clusterArn", ""))
    if became_healthy and task.get("healthStatus") == "HEALTHY" and cluster_name and group.startswith("service:"):
        _schedule_service_deployment_completion(
            cluster_name, f"{cluster_name}/{group.split(':', 1)[1]}",
            get_account_id(), get_region(), healthy_task=task,
        )
    return essential and status == "UNHEALTHY"


def _mlflow_dev_note_oom(task, index, container):
    """mlflow-dev patch: an out-of-memory kill gets the reason ECS gives it."""
    if not (container.attrs.get("State") or {}).get("OOMKilled"):
        return
    with resource_lock("ecs-task", task.get("taskArn", "")):
        containers = task.get("containers", [])
        if index < len(containers):
            containers[index]["reason"] = _MLFLOW_DEV_OOM_REASON


def _mlflow_dev_stop_unhealthy(task, docker_client):
    """mlflow-dev patch: the service scheduler replaces a task that failed its container health checks."""
    if not task.get("group", "").startswith("service:"):
        return  # ECS leaves a standalone task running
    stopped = _mark_task_stopped(
        task.get("taskArn", ""), task, "Task failed container health checks", "ServiceSchedulerInitiated",
    )
    if stopped:
        _cleanup_task_resources(task, docker_client)  # stops the still-running container
        _record_service_task_failure(task)


def _build_run_kwargs(cdef, td, env, port_bindings, ecs_network,
''',
    "def _mlflow_dev_limits_and_health(cdef, td):",
)
patch(
    ecs,
    "    all_stopped = True\n    exit_code = 0\n    essential_exited = False\n",
    "    all_stopped = True\n    exit_code = 0\n    essential_exited = False\n    unhealthy_essential = False\n",
    "    unhealthy_essential = False\n",
)
patch(
    ecs,
    '''            if getattr(container, "status", None) != "exited":
                all_stopped = False
                continue
            result = container.wait()
            container_exit_code = result.get("StatusCode", 0)
''',
    '''            if getattr(container, "status", None) != "exited":
                all_stopped = False
                if _mlflow_dev_track_health(task, index, container, essentials):
                    unhealthy_essential = True
                continue
            result = container.wait()
            container_exit_code = result.get("StatusCode", 0)
            _mlflow_dev_note_oom(task, index, container)
''',
    "if _mlflow_dev_track_health(task, index, container, essentials):",
)
patch(
    ecs,
    "    if not essential_exited and not all_stopped:\n        return\n",
    "    if unhealthy_essential and not essential_exited:\n"
    "        _mlflow_dev_stop_unhealthy(task, docker_client)\n"
    "        return\n"
    "    if not essential_exited and not all_stopped:\n        return\n",
    "_mlflow_dev_stop_unhealthy(task, docker_client)\n        return",
)
patch(
    ecs,
    '''        run_kwargs = _build_run_kwargs(
            effective_cdef, td, env, port_bindings, ecs_network,
            host_mode, task_id, task_arn, ministack_net_ip, cluster_arn,
        )
''',
    '''        run_kwargs = _build_run_kwargs(
            effective_cdef, td, env, port_bindings, ecs_network,
            host_mode, task_id, task_arn, ministack_net_ip, cluster_arn,
        )
        if run_kwargs.get("healthcheck"):
            task["_mlflow_dev_needs_health"] = True  # mlflow-dev patch
''',
    'task["_mlflow_dev_needs_health"] = True',
)
patch(
    ecs,
    '''        deployment = _deployment_for_task(svc, task)
        task["_startup_stable"] = True
''',
    '''        deployment = _deployment_for_task(svc, task)
        if task.get("_mlflow_dev_needs_health") and task.get("healthStatus") != "HEALTHY":
            return  # mlflow-dev patch: a task with a health check is stable once HEALTHY
        task["_startup_stable"] = True
''',
    'if task.get("_mlflow_dev_needs_health") and task.get("healthStatus") != "HEALTHY":',
)
