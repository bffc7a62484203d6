"""Fixes to MiniStack 1.5.33 where it differs from AWS in ways the
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
7. CloudFormation creates what `egress: nat`, autoscaling and HTTPS need.
   MiniStack had no provisioner for AWS::EC2::EIP, AWS::EC2::NatGateway or
   AWS::ApplicationAutoScaling::ScalableTarget/ScalingPolicy (the stack failed
   with "Unsupported resource type") and no Application Auto Scaling service.
   Now an Elastic IP is allocated as AllocateAddress does; a NAT gateway needs
   an existing subnet, an unassociated Elastic IP and an Internet gateway
   attached to the subnet's VPC (else it fails with AWS's error codes);
   application_autoscaling.py adds the Application Auto Scaling control plane
   for ECS services (register/describe/deregister scalable targets, put/
   describe/delete scaling policies, with the service's checks: the ECS service
   exists, min <= max, a target-tracking policy has a value and a known metric).
   No alarm fires in MiniStack, so nothing scales afterwards. An HTTPS listener
   needs an ISSUED certificate in ACM of its account and region
   (CertificateNotFound otherwise); the data plane finds a load balancer by
   a domain its HTTPS listener's certificate names, as if that domain's DNS
   record pointed at the load balancer (the emulator has no DNS of its own);
   and ImportCertificate reads the domain
   names and validity of the certificate it is given (MiniStack recorded an
   imported certificate for a made-up domain, valid for a year from import),
   and refuses one that is not a PEM X.509 certificate, as ACM does. TLS itself is not emulated: the load
   balancer's data plane is the emulator's plain-HTTP port and picks the
   listener from the Host header's port (443 for the HTTPS listener).
8. RDS snapshots hold the data. MiniStack's snapshots (CreateDBSnapshot, and
   the one a stack's `DeletionPolicy: Snapshot` takes) were records without
   data, and CloudFormation ignored DBSnapshotIdentifier, so nothing could be
   restored. Now a snapshot of a PostgreSQL instance keeps a pg_dump of its
   database, and an AWS::RDS::DBInstance with DBSnapshotIdentifier is a new
   instance with that data, the snapshot's master user and database name
   (MasterUsername or DBName beside it, or another engine or major version, is
   refused: the CloudFormation reference says not to set them), and the
   template's master password. Setting, changing or removing
   DBSnapshotIdentifier on a stack update replaces the instance (without it the
   new instance is empty, as on AWS); the old one is deleted in the update's
   cleanup, so DeletionProtection on it fails the cleanup as on AWS. Not
   emulated: automated backups and point-in-time restore, and the snapshot
   AWS takes of an instance replaced under `UpdateReplacePolicy: Snapshot`.
9. CloudFormation enforces the stack policy when a change set is executed.
   MiniStack stored SetStackPolicy's document and never read it, so a change
   set replacing a protected DB instance ran. Now an UPDATE change set is
   checked before it runs, change by change, as CloudFormation checks each
   resource update: a Modify with Replacement False is Update:Modify, True or
   Conditional is Update:Replace, a Remove is Update:Delete (an Add is not
   governed). Statements match by Action/NotAction and Resource/NotResource
   (`LogicalResourceId/<id>`, `*` wildcards) and a ResourceType condition
   (StringEquals, StringLike); an explicit Deny wins, and with a policy set an
   update no statement allows is denied. A denied change set changes no
   resource: the denied resource reports UPDATE_FAILED ("Action denied by
   stack policy ..."), the stack goes UPDATE_ROLLBACK_COMPLETE and the change
   set EXECUTE_FAILED. Not emulated: StackPolicyDuringUpdateBody of
   UpdateStack, and policies on nested stacks. Termination protection needs no
   patch: MiniStack 1.5.33 refuses DeleteStack while it is on.
10. CloudFormation waits for an ECS service's deployment, as on AWS. A stack
   update of an AWS::ECS::Service is UPDATE_COMPLETE only once the deployment
   UpdateService started is COMPLETED; when its circuit breaker trips (the
   failed task launches of the deployment reach AWS's threshold: half the
   desired count, at least 3, at most 200) the resource is UPDATE_FAILED
   ("Error occurred during operation 'ECS Deployment Circuit Breaker was
   triggered'.") and the stack rolls back, sending the service back to its
   previous properties (MiniStack left a failed update's own resource as it
   was) and waiting for that deployment too. MiniStack applied UpdateService
   and completed the resource at once. The provisioner runs on a worker
   thread while it waits. The wait on the service's creation is patch 17.
13. ALB data plane: the load balancer's idle timeout (idle_timeout.timeout_seconds) holds both
   ways. A target silent for longer before it answers gets the client a 504; a response that
   stalls that long is cut; a client that sends no byte of its request body for that long gets a
   408. MiniStack used one fixed timeout for every load balancer and none for clients.
14. RDS: a PostgreSQL instance runs with the max_connections RDS gives its instance class
   (rds_max_connections.py, mlflow-dev's table), not PostgreSQL's default 100.
15. EC2: a subnet's AvailableIpAddressCount is its CIDR block's size less AWS's 5 reserved
   addresses and its network interfaces (a /28 has 11); MiniStack said 251 for every subnet.
17. A service's first deployment is rolled out, and CloudFormation waits for it, as on AWS.
   MiniStack made a new service's PRIMARY deployment COMPLETED at once, so its circuit breaker
   never counted a failed launch (a server that could not start was relaunched forever) and a stack
   creating the service completed at once. Now CreateService's deployment is IN_PROGRESS until its
   tasks run (and, with patch 6, are HEALTHY) or FAILED when the circuit breaker trips (no earlier
   deployment to roll back to); the AWS::ECS::Service create handler waits for it like the update
   handler (patch 11) and, when it fails, deletes the service it created and fails the resource
   with AWS's reason, so the stack rolls back.
18. CloudFormation AWS::Scheduler::Schedule goes through the Scheduler API's own create and update,
   whose refusals fail the resource (MiniStack ignored them), with the Target in the API's shape
   (awsvpcConfiguration, which GetSchedule returns); an ECS target's cluster, task definition
   revision (and the containers its Input overrides) and role must exist. The schedule is stored
   and read back (GetSchedule, ListSchedules); an ECS target is never run (MiniStack's ticker
   dispatches Lambda, SQS, SNS, Step Functions and EventBridge targets only).
19. CloudFormation AWS::S3::Bucket applies LifecycleConfiguration through PutBucketLifecycleConfiguration
   (on create and update, deleted with the property): GetBucketLifecycleConfiguration returns the
   template's rules. MiniStack ignored the property. The rules are stored, not run: nothing expires.
"""

import pathlib
import sys

import ministack.app as app
import ministack.services.acm as acm
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

# 7. CloudFormation: NAT gateway, Elastic IP, Application Auto Scaling, HTTPS listener certificates
def append(module, code, marker):
    path = pathlib.Path(module.__file__)
    source = path.read_text()
    if marker in source:
        sys.exit(f"patches.py: {path} already holds {marker}; re-check this patch")
    path.write_text(source + code)
    print(f"patches.py: extended {path.name}: {marker.strip()}")


SERVICE_MODULE = "mlflow_dev_application_autoscaling"
service_path = pathlib.Path(ecs.__file__).with_name(f"{SERVICE_MODULE}.py")
service_path.write_text(pathlib.Path(__file__).with_name("application_autoscaling.py").read_text())
print(f"patches.py: added {service_path.name}")
patch(
    app,
    '    "autoscaling": {"module": "autoscaling"},\n',
    '    "autoscaling": {"module": "autoscaling"},\n'
    f'    "application-autoscaling": {{"module": "{SERVICE_MODULE}"}},  # mlflow-dev patch\n',
    f'"module": "{SERVICE_MODULE}"',
)
import ministack.core.router as router  # noqa: E402

patch(
    router,
    "SERVICE_PATTERNS = {\n",
    "SERVICE_PATTERNS = {\n"
    '    "application-autoscaling": {  # mlflow-dev patch\n'
    '        "target_prefixes": ["AnyScaleFrontendService"],\n'
    '        "host_patterns": [r"application-autoscaling\\."],\n'
    "    },\n",
    '"target_prefixes": ["AnyScaleFrontendService"]',
)
append(
    provisioners,
    f'''

# mlflow-dev patch: an Elastic IP, a NAT gateway and Application Auto Scaling
# through CloudFormation, checked as the services check them; an HTTPS listener
# needs an issued certificate of its account and region.
import ministack.services.{SERVICE_MODULE} as _mlflow_dev_aas


def _mlflow_dev_eip_create(logical_id, props, stack_name):
    if props.get("Domain", "vpc") != "vpc":
        raise ValueError("Only VPC Elastic IP addresses exist (Domain: vpc)")
    allocation_id = "eipalloc-" + new_uuid().replace("-", "")[:17]
    public_ip = _ec2._random_ip("52.")
    _ec2._addresses[allocation_id] = {{
        "AllocationId": allocation_id, "PublicIp": public_ip, "Domain": "vpc",
        "AssociationId": None, "InstanceId": None, "NetworkInterfaceId": None,
        "PrivateIpAddress": None,
    }}
    _ec2_apply_tags(allocation_id, props)
    return public_ip, {{"AllocationId": allocation_id, "PublicIp": public_ip}}


def _mlflow_dev_eip_delete(physical_id, props):
    for allocation_id, address in list(_ec2._addresses.items()):
        if address["PublicIp"] != physical_id:
            continue
        if address.get("AssociationId"):
            raise ValueError(f"InvalidIPAddress.InUse: Address {{physical_id}} is in use by {{address['AssociationId']}}")
        _ec2._addresses.pop(allocation_id, None)
        _ec2._tags.pop(allocation_id, None)


def _mlflow_dev_nat_create(logical_id, props, stack_name):
    subnet_id = props.get("SubnetId", "")
    subnet = _ec2._subnets.get(subnet_id)
    if subnet is None:
        raise ValueError(f"InvalidSubnetID.NotFound: The subnet ID '{{subnet_id}}' does not exist")
    vpc_id = subnet["VpcId"]
    connectivity = props.get("ConnectivityType", "public")
    addresses = []
    if connectivity == "public":
        allocation_id = props.get("AllocationId", "")
        address = _ec2._addresses.get(allocation_id)
        if address is None:
            raise ValueError(f"InvalidAllocationID.NotFound: The allocation ID '{{allocation_id}}' does not exist")
        if address.get("AssociationId"):
            raise ValueError(f"Resource.AlreadyAssociated: Elastic IP address [{{allocation_id}}] is already associated")
        attached = any(
            attachment.get("VpcId") == vpc_id and attachment.get("State") in ("attached", "available")
            for gateway in _ec2._internet_gateways.values()
            for attachment in gateway.get("Attachments", [])
        )
        if not attached:
            raise ValueError(f"Gateway.NotAttached: Network {{vpc_id}} has no Internet gateway attached")
        address["AssociationId"] = "eipassoc-" + new_uuid().replace("-", "")[:17]
        address["NetworkInterfaceId"] = "eni-" + new_uuid().replace("-", "")[:17]
        addresses.append({{"AllocationId": allocation_id, "PublicIp": address["PublicIp"],
                          "NetworkInterfaceId": address["NetworkInterfaceId"]}})
    nat_id = "nat-" + new_uuid().replace("-", "")[:17]
    _ec2._nat_gateways[nat_id] = {{
        "NatGatewayId": nat_id, "SubnetId": subnet_id, "VpcId": vpc_id,
        "AllocationId": props.get("AllocationId"), "ConnectivityType": connectivity,
        "State": "available", "CreateTime": _ec2._now_ts(), "Tags": props.get("Tags", []),
        "NatGatewayAddresses": addresses,
    }}
    _ec2_apply_tags(nat_id, props)
    return nat_id, {{"NatGatewayId": nat_id}}


def _mlflow_dev_nat_delete(physical_id, props):
    nat = _ec2._nat_gateways.get(physical_id)
    if nat is None:
        return
    nat["State"] = "deleted"
    for entry in nat.get("NatGatewayAddresses", []):
        address = _ec2._addresses.get(entry["AllocationId"])
        if address is not None:
            address["AssociationId"] = None
            address["NetworkInterfaceId"] = None


def _mlflow_dev_aas_call(fn, data):
    try:
        return fn(data)
    except _mlflow_dev_aas.ServiceError as e:
        raise ValueError(f"{{e.code}}: {{e.message}}") from None


def _mlflow_dev_scalable_target_create(logical_id, props, stack_name):
    data = {{k: props[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension", "RoleARN",
                                   "SuspendedState") if props.get(k) not in (None, "")}}
    data["MinCapacity"] = int(props.get("MinCapacity", 0))
    data["MaxCapacity"] = int(props.get("MaxCapacity", 0))
    target = _mlflow_dev_aas_call(_mlflow_dev_aas.register_scalable_target, data)
    physical_id = f"{{target['ResourceId']}}|{{target['ScalableDimension']}}|{{target['ServiceNamespace']}}"
    return physical_id, {{"ScalableTargetARN": target["ScalableTargetARN"]}}


def _mlflow_dev_scalable_target_update(physical_id, old_props, new_props, stack_name):
    return _mlflow_dev_scalable_target_create(physical_id, new_props, stack_name)


def _mlflow_dev_scalable_target_delete(physical_id, props):
    resource_id, dimension, namespace = physical_id.split("|")
    try:
        _mlflow_dev_aas.deregister_scalable_target(
            {{"ServiceNamespace": namespace, "ResourceId": resource_id, "ScalableDimension": dimension}})
    except _mlflow_dev_aas.ServiceError:
        pass


def _mlflow_dev_scaling_policy_create(logical_id, props, stack_name):
    data = {{k: props[k] for k in ("PolicyName", "PolicyType", "TargetTrackingScalingPolicyConfiguration",
                                   "StepScalingPolicyConfiguration", "ServiceNamespace", "ResourceId",
                                   "ScalableDimension") if props.get(k) not in (None, "")}}
    if props.get("ScalingTargetId"):
        data["ResourceId"], data["ScalableDimension"], data["ServiceNamespace"] = props["ScalingTargetId"].split("|")
    config = data.get("TargetTrackingScalingPolicyConfiguration")
    if config and config.get("TargetValue") is not None:
        config = dict(config, TargetValue=float(config["TargetValue"]))
        data["TargetTrackingScalingPolicyConfiguration"] = config
    policy = _mlflow_dev_aas_call(_mlflow_dev_aas.put_scaling_policy, data)
    return policy["PolicyARN"], {{"Arn": policy["PolicyARN"]}}


def _mlflow_dev_scaling_policy_update(physical_id, old_props, new_props, stack_name):
    return _mlflow_dev_scaling_policy_create(physical_id, new_props, stack_name)


def _mlflow_dev_scaling_policy_delete(physical_id, props):
    policy = _mlflow_dev_aas._policies.pop(physical_id, None)
    if policy is None:
        return


def _mlflow_dev_check_listener_certificates(props):
    if props.get("Protocol") not in ("HTTPS", "TLS"):
        return
    for entry in props.get("Certificates") or []:
        arn = entry.get("CertificateArn", "")
        certificate = _acm._certificates.get(arn)
        if certificate is None:
            raise ValueError(f"CertificateNotFound: Certificate '{{arn}}' not found")
        if certificate.get("Status") != "ISSUED":
            raise ValueError(f"UnsupportedCertificate: Certificate '{{arn}}' is {{certificate.get('Status')}}, not ISSUED")


def _mlflow_dev_listener_create(logical_id, props, stack_name):
    _mlflow_dev_check_listener_certificates(props)
    return _mlflow_dev_listener_create_unchecked(logical_id, props, stack_name)


def _mlflow_dev_listener_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    _mlflow_dev_check_listener_certificates(new_props)
    return _mlflow_dev_listener_update_unchecked(physical_id, old_props, new_props, stack_name, logical_id)


_mlflow_dev_listener_handlers = _RESOURCE_HANDLERS["AWS::ElasticLoadBalancingV2::Listener"]
_mlflow_dev_listener_create_unchecked = _mlflow_dev_listener_handlers["create"]
_mlflow_dev_listener_update_unchecked = _mlflow_dev_listener_handlers["update"]
_mlflow_dev_listener_handlers["create"] = _mlflow_dev_listener_create
_mlflow_dev_listener_handlers["update"] = _mlflow_dev_listener_update
_RESOURCE_HANDLERS.update({{
    "AWS::EC2::EIP": {{"create": _mlflow_dev_eip_create, "delete": _mlflow_dev_eip_delete}},
    "AWS::EC2::NatGateway": {{"create": _mlflow_dev_nat_create, "delete": _mlflow_dev_nat_delete}},
    "AWS::ApplicationAutoScaling::ScalableTarget": {{
        "create": _mlflow_dev_scalable_target_create,
        "update": _mlflow_dev_scalable_target_update,
        "delete": _mlflow_dev_scalable_target_delete,
    }},
    "AWS::ApplicationAutoScaling::ScalingPolicy": {{
        "create": _mlflow_dev_scaling_policy_create,
        "update": _mlflow_dev_scaling_policy_update,
        "delete": _mlflow_dev_scaling_policy_delete,
    }},
}})
''',
    "_mlflow_dev_eip_create",
)

patch(
    acm,
    '    return json_response({"CertificateArn": arn})\n\n\ndef _add_tags(data):\n',
    '    _mlflow_dev_read_imported(_certificates[arn])\n'
    '    return json_response({"CertificateArn": arn})\n\n\n'
    '''def _mlflow_dev_read_imported(record):
    """mlflow-dev patch: an imported certificate's names and validity, as ACM reads them."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(record["_pem_body"].encode())
    names = [a.value for a in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    try:
        names += certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    names = list(dict.fromkeys(names))
    record["DomainName"] = names[0] if names else ""
    record["SubjectAlternativeNames"] = names
    record["NotBefore"] = certificate.not_valid_before_utc.isoformat()
    record["NotAfter"] = certificate.not_valid_after_utc.isoformat()


def _add_tags(data):
''',
    "_mlflow_dev_read_imported",
)
patch(
    acm,
    "    cert_body = _decode_pem_field(data.get(\"Certificate\"))\n",
    "    cert_body = _decode_pem_field(data.get(\"Certificate\"))\n"
    "    if \"-----BEGIN CERTIFICATE-----\" not in cert_body:  # mlflow-dev patch\n"
    "        return error_response_json(\"ValidationException\", \"The certificate field contains more than one certificate or is not a PEM certificate.\", 400)\n",
    "if \"-----BEGIN CERTIFICATE-----\" not in cert_body:",
)

append(
    alb,
    '''

def _mlflow_dev_find_lb_by_certificate(host):
    """mlflow-dev patch: a load balancer by its DNS name, else by a domain that a certificate
    of one of its HTTPS listeners names (the DNS record a user points at the load balancer)."""
    lb = _mlflow_dev_find_lb_by_dns_name(host)
    return lb if lb is not None else _mlflow_dev_lb_by_certificate(host)


def _mlflow_dev_lb_by_certificate(host):
    import ministack.services.acm as acm
    from ministack.core.responses import set_request_account_id, set_request_region

    hostname = host.split(":")[0].lower()
    for (account, region, _arn), listener in list(_listeners._data.items()):
        if listener.get("Protocol") != "HTTPS":
            continue
        for arn in listener.get("Certificates", []):
            certificate = acm._certificates._data.get((account, region, arn)) or {}
            names = [certificate.get("DomainName", "")] + certificate.get("SubjectAlternativeNames", [])
            if any(_mlflow_dev_name_covers(name.lower(), hostname) for name in names if name):
                candidate = _lbs._data.get((account, region, listener["LoadBalancerArn"]))
                if candidate is not None:
                    set_request_account_id(account)
                    set_request_region(region)
                    return candidate
    return None


def _mlflow_dev_name_covers(name, hostname):
    if name.startswith("*."):
        return hostname.partition(".")[2] == name[2:] and hostname.partition(".")[0] != ""
    return name == hostname


_mlflow_dev_find_lb_by_dns_name = find_lb_for_host
find_lb_for_host = _mlflow_dev_find_lb_by_certificate
''',
    "_mlflow_dev_find_lb_by_certificate",
)

append(
    app,
    '''

def _mlflow_dev_is_alb_request(host, path):
    """mlflow-dev patch: also a request for a domain that an HTTPS listener's certificate names."""
    if _mlflow_dev_is_alb_request_by_name(host, path):
        return True
    alb_module = sys.modules.get("ministack.services.alb")
    finder = getattr(alb_module, "_mlflow_dev_lb_by_certificate", None)
    return finder is not None and finder(host) is not None


_mlflow_dev_is_alb_request_by_name = _is_potential_alb_request
_is_potential_alb_request = _mlflow_dev_is_alb_request
''',
    "_mlflow_dev_is_alb_request_by_name",
)

# 8. RDS snapshots hold the data; a DB instance restored from one gets it back
import ministack.services.rds as rds  # noqa: E402

append(
    rds,
    '''

# mlflow-dev patch: a snapshot of a PostgreSQL instance holds its database (a
# pg_dump in custom format, kept by snapshot ARN), and an instance restored from
# the snapshot gets it back. MiniStack's snapshots were records without data.
_MLFLOW_DEV_SNAPSHOT_DUMPS = {}


def _mlflow_dev_instance_container(instance):
    client = _get_docker()
    if client is None or not _instance_owns_container(instance):
        return None
    return client.containers.get(instance["_docker_container_id"])


def _mlflow_dev_create_snapshot(snap_id, instance):
    snap = _mlflow_dev_create_snapshot_record(snap_id, instance)
    container = _mlflow_dev_instance_container(instance)
    if container is None or "postgres" not in instance.get("Engine", ""):
        return snap
    code, (out, err) = container.exec_run(
        ["pg_dump", "--format=custom", "--username", instance.get("MasterUsername", "postgres"),
         "--dbname", instance.get("DBName") or "postgres"],
        demux=True,
    )
    if code != 0:
        _snapshots.pop(snap_id, None)
        raise RuntimeError(f"snapshot {snap_id}: pg_dump failed: {(err or b'').decode(errors='replace')}")
    _MLFLOW_DEV_SNAPSHOT_DUMPS[snap["DBSnapshotArn"]] = out or b""
    snap["_mlflow_dev_dump_bytes"] = len(out or b"")
    return snap


def _mlflow_dev_find_snapshot(identifier):
    """A snapshot by identifier or ARN, in the caller's account and region."""
    if identifier.startswith("arn:"):
        return next((s for s in _snapshots.values() if s.get("DBSnapshotArn") == identifier), None)
    return _snapshots.get(identifier)


def _mlflow_dev_restore_snapshot_data(snapshot, instance):
    """Loads the snapshot's database into a new instance (its container runs)."""
    dump = _MLFLOW_DEV_SNAPSHOT_DUMPS.get(snapshot.get("DBSnapshotArn", ""))
    if dump is None:
        raise ValueError(f"DB snapshot {snapshot['DBSnapshotIdentifier']} holds no data in this emulator")
    container = _mlflow_dev_instance_container(instance)
    if container is None:
        raise ValueError(f"DB instance {instance['DBInstanceIdentifier']} has no database container")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("mlflow-dev-restore.dump")
        info.size = len(dump)
        tar.addfile(info, io.BytesIO(dump))
    container.put_archive("/tmp", archive.getvalue())
    code, (_out, err) = container.exec_run(
        ["pg_restore", "--username", instance.get("MasterUsername", "postgres"),
         "--dbname", instance.get("DBName") or "postgres", "--clean", "--if-exists",
         "--no-owner", "--exit-on-error", "--single-transaction", "/tmp/mlflow-dev-restore.dump"],
        demux=True,
    )
    container.exec_run(["rm", "-f", "/tmp/mlflow-dev-restore.dump"])
    if code != 0:
        raise ValueError(f"restoring DB snapshot {snapshot['DBSnapshotIdentifier']} failed: "
                         f"{(err or b'').decode(errors='replace')}")


_mlflow_dev_create_snapshot_record = _create_snapshot_internal
_create_snapshot_internal = _mlflow_dev_create_snapshot
''',
    "_mlflow_dev_create_snapshot_record",
)
patch(
    provisioners,
    "# ---------------------------------------------------------------------------\n"
    "# RDS DBSubnetGroup / DBParameterGroup / DBClusterParameterGroup\n",
    '''# mlflow-dev patch: DBSnapshotIdentifier restores the snapshot's data into a new
# instance, which keeps the snapshot's master user and database name; changing
# DBSnapshotIdentifier (setting, changing or removing it) replaces the instance,
# and without it the replacement is empty, as on AWS.
def _mlflow_dev_rds_create_maybe_from_snapshot(logical_id, props, stack_name):
    identifier = props.get("DBSnapshotIdentifier")
    if not identifier or props.get("DBClusterIdentifier"):
        return _mlflow_dev_rds_create_empty(logical_id, props, stack_name)
    snapshot = _rds._mlflow_dev_find_snapshot(identifier)
    if snapshot is None:
        raise ValueError(f"DBSnapshot {identifier} not found.")
    for key in ("MasterUsername", "DBName"):
        if props.get(key) not in (None, ""):
            raise ValueError(f"{key} must not be set with DBSnapshotIdentifier: "
                             "the restored DB instance keeps the snapshot's")
    if props.get("Engine") and props["Engine"] != snapshot.get("Engine"):
        raise ValueError(f"DB snapshot {identifier} is of engine {snapshot.get('Engine')}, not {props['Engine']}")
    wanted = str(props.get("EngineVersion") or "").split(".")[0]
    if wanted and wanted != str(snapshot.get("EngineVersion", "")).split(".")[0]:
        raise ValueError(f"DB snapshot {identifier} is of {snapshot.get('Engine')} "
                         f"{snapshot.get('EngineVersion')}: restore it with that major version, then upgrade")
    seeded = dict(props)
    seeded["MasterUsername"] = snapshot.get("MasterUsername")
    seeded["DBName"] = snapshot.get("DBName")
    seeded.pop("DBSnapshotIdentifier", None)
    db_id, attrs = _mlflow_dev_rds_create_empty(logical_id, seeded, stack_name)
    instance = _rds._instances[db_id]
    try:
        _rds._mlflow_dev_restore_snapshot_data(snapshot, instance)
    except Exception:
        _mlflow_dev_rds_db_instance_delete(db_id, props)
        raise
    instance["DBSnapshotIdentifier"] = identifier
    return db_id, attrs


def _mlflow_dev_rds_update_maybe_replace(physical_id, old_props, new_props, stack_name, logical_id=None):
    if (old_props.get("DBSnapshotIdentifier") or "") != (new_props.get("DBSnapshotIdentifier") or "") \\
            and not new_props.get("DBClusterIdentifier"):
        created = _seeded_create(_rds_db_instance_create, logical_id or physical_id, new_props, stack_name)
        _delete_predecessor(_rds_db_instance_delete, physical_id, old_props)
        return created
    return _mlflow_dev_rds_update_in_place(physical_id, old_props, new_props, stack_name, logical_id)


_mlflow_dev_rds_create_empty = _rds_db_instance_create
_mlflow_dev_rds_update_in_place = _rds_db_instance_update
_rds_db_instance_create = _mlflow_dev_rds_create_maybe_from_snapshot
_rds_db_instance_update = _mlflow_dev_rds_update_maybe_replace


# ---------------------------------------------------------------------------
# RDS DBSubnetGroup / DBParameterGroup / DBClusterParameterGroup
''',
    "_mlflow_dev_rds_create_maybe_from_snapshot",
)


# ---------------------------------------------------------------------------
# 9. CloudFormation enforces the stack policy on ExecuteChangeSet
import ministack.services.cloudformation.changesets as changesets  # noqa: E402

patch(
    changesets,
    "    if is_update:\n        previous_stack = {\n",
    "    if is_update:  # mlflow-dev patch: the stack policy\n"
    "        _mlflow_dev_denied = _mlflow_dev_policy_denial(stack, cs)\n"
    "        if _mlflow_dev_denied:\n"
    "            return _mlflow_dev_fail_denied(cs, stack, _executed_cs_id, _mlflow_dev_denied)\n"
    "    if is_update:\n        previous_stack = {\n",
    "_mlflow_dev_policy_denial(stack, cs)",
)
append(
    changesets,
    '''

# mlflow-dev patch: the stack policy, checked per change before an update runs.
import fnmatch as _mlflow_dev_fnmatch


def _mlflow_dev_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _mlflow_dev_policy_applies(statement, action, resource, rtype):
    def matches(patterns, value):
        return any(_mlflow_dev_fnmatch.fnmatchcase(value, str(p)) for p in _mlflow_dev_list(patterns))

    if "Action" in statement and not matches(statement["Action"], action):
        return False
    if "NotAction" in statement and matches(statement["NotAction"], action):
        return False
    if "Resource" in statement and not matches(statement["Resource"], resource):
        return False
    if "NotResource" in statement and matches(statement["NotResource"], resource):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        wanted = _mlflow_dev_list((conditions or {}).get("ResourceType"))
        if not wanted:
            continue
        if operator == "StringEquals" and rtype not in wanted:
            return False
        if operator == "StringLike" and not matches(wanted, rtype):
            return False
    return True


def _mlflow_dev_change_action(rc):
    if rc.get("Action") == "Remove":
        return "Update:Delete"
    if rc.get("Action") != "Modify":
        return None
    return "Update:Replace" if rc.get("Replacement") in ("True", "Conditional") else "Update:Modify"


def _mlflow_dev_policy_denial(stack, cs):
    """(logical id, type, reason) of the first change the stack policy does not allow, else None."""
    policy = stack.get("_stack_policy")
    if not policy:
        return None
    try:
        statements = _mlflow_dev_list(json.loads(policy).get("Statement"))
    except (ValueError, AttributeError):
        return None
    for ch in cs.get("Changes", []):
        rc = ch.get("ResourceChange", {})
        action = _mlflow_dev_change_action(rc)
        if not action:
            continue
        logical_id = rc.get("LogicalResourceId", "")
        rtype = rc.get("ResourceType", "")
        resource = f"LogicalResourceId/{logical_id}"
        allowed = False
        for index, statement in enumerate(statements, 1):
            if not _mlflow_dev_policy_applies(statement, action, resource, rtype):
                continue
            if statement.get("Effect") == "Deny":
                return (logical_id, rtype, rc.get("PhysicalResourceId", ""),
                        f"Action denied by stack policy: Statement [#{index}] does not allow [{action}] "
                        f"for resource [{resource}].")
            if statement.get("Effect") == "Allow":
                allowed = True
        if not allowed:
            return (logical_id, rtype, rc.get("PhysicalResourceId", ""),
                    f"Action not allowed by stack policy: no statement allows [{action}] "
                    f"for resource [{resource}].")
    return None


def _mlflow_dev_fail_denied(cs, stack, executed_cs_id, denied):
    logical_id, rtype, physical_id, reason = denied
    stack_id = stack["StackId"]
    name = stack.get("StackName", cs["StackName"])
    with _stack_region_context(stack, stack_id):
        stack["StackStatus"] = "UPDATE_IN_PROGRESS"
        stack["LastUpdatedTime"] = now_iso()
        _add_event(stack_id, name, name, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS",
                   physical_id=stack_id)
        _add_event(stack_id, name, logical_id, rtype, "UPDATE_FAILED", reason=reason,
                   physical_id=physical_id)
        _add_event(stack_id, name, name, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS",
                   reason=f"The following resource(s) failed to update: [{logical_id}]. ",
                   physical_id=stack_id)
        _add_event(stack_id, name, name, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE",
                   physical_id=stack_id)
        stack["StackStatus"] = "UPDATE_ROLLBACK_COMPLETE"
    cs["ExecutionStatus"] = "EXECUTE_FAILED"
    _drop_other_change_sets(stack_id, executed_cs_id)
    return _xml(200, "ExecuteChangeSetResponse",
                "<ExecuteChangeSetResult></ExecuteChangeSetResult>")
''',
    "_mlflow_dev_policy_denial(stack, cs):",
)

# 10. S3 buckets through CloudFormation: the bucket's Tags are applied (MiniStack ignored them, so
# GetBucketTagging of a stack's bucket answered NoSuchTagSet), and a change set replaces a bucket
# or a VPC only for the properties AWS documents as "Update requires: Replacement"; every other
# property updates in place (RequiresRecreation Never), where MiniStack reported any change of an
# unlisted type as Conditionally.
append(
    provisioners,
    '''

# mlflow-dev patch: a bucket's Tags are its tag set, set on create and on update (removed with
# the property), as CloudFormation does on AWS.
_mlflow_dev_s3_apply_configurations_unpatched = _s3_apply_configurations


def _s3_apply_configurations(name, props, old_props=None):
    _mlflow_dev_s3_apply_configurations_unpatched(name, props, old_props)
    tags = {t["Key"]: t["Value"] for t in props.get("Tags") or []}
    if tags:
        _s3._bucket_tags[name] = tags
    elif old_props is not None and old_props.get("Tags"):
        _s3._bucket_tags.pop(name, None)


# mlflow-dev patch: an S3 bucket is replaced by a new BucketName or ObjectLockEnabled, a VPC by
# a new CidrBlock, Ipv4IpamPoolId or Ipv4NetmaskLength (AWS's "Update requires: Replacement");
# their other properties update in place.
_REPLACING_PROPERTIES["AWS::S3::Bucket"] = ("BucketName", "ObjectLockEnabled")
_REPLACING_PROPERTIES["AWS::EC2::VPC"] = ("CidrBlock", "Ipv4IpamPoolId", "Ipv4NetmaskLength")
''',
    '_mlflow_dev_s3_apply_configurations_unpatched',
)

# ---------------------------------------------------------------------------
# 11. CloudFormation waits for an ECS service's deployment; a tripped circuit breaker rolls it back
patch(
    stacks,
    '                                 "AWS::ElastiCache::ReplicationGroup",\n',
    '                                 "AWS::ElastiCache::ReplicationGroup",\n'
    '                                 "AWS::ECS::Service",  # mlflow-dev patch: waits for its deployment\n',
    "mlflow-dev patch: waits for its deployment",
)
patch(
    stacks,
    '                                 "AWS::CloudFormation::Stack"))\n\n\ndef _mark_rolled_back(record):\n',
    '                                 "AWS::CloudFormation::Stack",\n'
    '                                 "AWS::ECS::Service"))  # mlflow-dev patch: UpdateService ran\n\n\n'
    "def _mark_rolled_back(record):\n",
    "mlflow-dev patch: UpdateService ran",
)
patch(
    provisioners,
    '''        raise ValueError(f"AWS::ECS::Service update failed: {response[2]!r}")
    return physical_id, {"ServiceArn": physical_id, "Name": name}
''',
    '''        raise ValueError(f"AWS::ECS::Service update failed: {response[2]!r}")
    _mlflow_dev_wait_for_deployment(cluster, name)
    return physical_id, {"ServiceArn": physical_id, "Name": name}
''',
    "_mlflow_dev_wait_for_deployment(cluster, name)",
)
append(
    provisioners,
    '''

# mlflow-dev patch: an update of an AWS::ECS::Service ends when its deployment does, as on AWS.
_MLFLOW_DEV_DEPLOYMENT_TIMEOUT = 1800  # seconds; the emulator's bound, AWS waits longer


def _mlflow_dev_wait_for_deployment(cluster, name):
    """Wait until the service's PRIMARY deployment is COMPLETED; its circuit breaker's FAILED fails the update."""
    cluster_name = _ecs._resolve_cluster_name(cluster) or cluster
    key = f"{cluster_name}/{name}"
    svc = _ecs._services.get(key)
    primary = _ecs._primary_deployment(svc) if svc else None
    if not primary:
        return
    deployment_id = primary.get("id")
    deadline = time.monotonic() + _MLFLOW_DEV_DEPLOYMENT_TIMEOUT
    while True:
        svc = _ecs._services.get(key)
        if not svc or svc.get("status") != "ACTIVE":
            raise ValueError(f"Service {name} is not ACTIVE while waiting for its deployment.")
        deployment = next((d for d in svc.get("deployments", []) if d.get("id") == deployment_id), None)
        state = (deployment or {}).get("rolloutState")
        if state == "COMPLETED":
            return
        if deployment is None or state == "FAILED":
            raise ValueError(
                "Resource handler returned message: \\"Error occurred during operation "
                "'ECS Deployment Circuit Breaker was triggered'.\\" "
                f"(RequestToken: {new_uuid()}, HandlerErrorCode: GeneralServiceException)"
            )
        if time.monotonic() > deadline:
            raise ValueError(
                f"Service {name} did not stabilize within {_MLFLOW_DEV_DEPLOYMENT_TIMEOUT} seconds."
            )
        time.sleep(1)
''',
    "def _mlflow_dev_wait_for_deployment(cluster, name):",
)

# ---------------------------------------------------------------------------
# 12. ECS runs a container as its definition says: user, read-only root, capabilities, init and
# Fargate's task-level bind-mount volumes
patch(
    ecs,
    "    kwargs.update(_mlflow_dev_limits_and_health(cdef, td))\n    return kwargs\n",
    "    kwargs.update(_mlflow_dev_limits_and_health(cdef, td))\n"
    "    kwargs.update(_mlflow_dev_container_security(cdef, td))  # mlflow-dev patch: user, root, caps, init\n"
    "    return kwargs\n",
    "mlflow-dev patch: user, root, caps, init",
)
append(
    ecs,
    '''

# mlflow-dev patch: the container definition's user, readonlyRootFilesystem,
# linuxParameters.capabilities.drop and initProcessEnabled are applied (MiniStack ignored them), and
# a task volume without a host path (Fargate's bind mount of the task's ephemeral storage) is a
# fresh volume per container, removed with it. As on Fargate, the volume starts with the image's
# content and permissions at the mount path only when the image declares a VOLUME there; otherwise
# it is empty, owned by root, mode 0755.
def _mlflow_dev_image_volumes(image):
    try:
        return set(((_get_docker().images.get(image).attrs.get("Config") or {}).get("Volumes") or {}).keys())
    except Exception:
        return set()


def _mlflow_dev_container_security(cdef, td):
    from docker.types import Mount
    out = {}
    if cdef.get("user"):
        out["user"] = str(cdef["user"])
    if cdef.get("readonlyRootFilesystem"):
        out["read_only"] = True
    lp = cdef.get("linuxParameters") or {}
    drop = (lp.get("capabilities") or {}).get("drop") or []
    if drop:
        out["cap_drop"] = list(drop)
    if lp.get("initProcessEnabled"):
        out["init"] = True
    task_volumes = {
        v.get("name"): v for v in td.get("volumes", [])
        if v.get("name") and not (v.get("host") or {}).get("sourcePath")
        and not v.get("dockerVolumeConfiguration") and not v.get("efsVolumeConfiguration")
    }
    mounts = []
    declared = None
    for mp in cdef.get("mountPoints", []):
        if mp.get("sourceVolume") not in task_volumes or not mp.get("containerPath"):
            continue
        if declared is None:
            declared = _mlflow_dev_image_volumes(cdef.get("image", ""))
        path = mp["containerPath"]
        mounts.append(Mount(target=path, source=None, type="volume",
                            read_only=bool(mp.get("readOnly", False)), no_copy=path not in declared))
    if mounts:
        out["mounts"] = mounts
    return out
''',
    "def _mlflow_dev_container_security(cdef, td):",
)

# ---------------------------------------------------------------------------
# 13. The load balancer enforces its idle timeout (idle_timeout.timeout_seconds)
patch(
    alb,
    '    lb_arn = lb["LoadBalancerArn"]\n\n    candidates = [l for l in _listeners.values() if l["LoadBalancerArn"] == lb_arn]\n',
    '    lb_arn = lb["LoadBalancerArn"]\n'
    '    _MLFLOW_DEV_IDLE_TIMEOUT.set(_mlflow_dev_idle_seconds(lb_arn))  # mlflow-dev patch: idle timeout\n\n'
    '    candidates = [l for l in _listeners.values() if l["LoadBalancerArn"] == lb_arn]\n',
    "mlflow-dev patch: idle timeout",
)
patch(
    alb,
    '''    def _open():
        try:
            conn.connect()
            sock = conn.sock
            sock.settimeout(TARGET_IDLE_TIMEOUT)
''',
    '''    _mlflow_dev_idle = _MLFLOW_DEV_IDLE_TIMEOUT.get()  # mlflow-dev patch: the load balancer's
    _mlflow_dev_connected = []

    def _open():
        try:
            conn.connect()
            _mlflow_dev_connected.append(True)
            sock = conn.sock
            sock.settimeout(_mlflow_dev_idle)
''',
    "_mlflow_dev_idle = _MLFLOW_DEV_IDLE_TIMEOUT.get()",
)
patch(
    alb,
    '''    if resp is None:
        return (502, {"Content-Type": "application/json"},
''',
    '''    if resp is None and _mlflow_dev_connected and isinstance(err, TimeoutError):
        return _mlflow_dev_gateway_timeout()  # mlflow-dev patch: the target was silent too long
    if resp is None:
        return (502, {"Content-Type": "application/json"},
''',
    "return _mlflow_dev_gateway_timeout()",
)
append(
    alb,
    '''

# mlflow-dev patch: the load balancer's idle timeout (the attribute idle_timeout.timeout_seconds,
# 60 s unless set) is the longest a target may stay silent, before its response and between two
# reads of it: a target that has not answered by then gets the client a 504, a response that
# stalls that long is cut. MiniStack used one fixed ALB_TARGET_IDLE_TIMEOUT_SECONDS for all.
import contextvars as _mlflow_dev_contextvars

_MLFLOW_DEV_IDLE_TIMEOUT = _mlflow_dev_contextvars.ContextVar(
    "mlflow_dev_alb_idle_timeout", default=TARGET_IDLE_TIMEOUT)


def _mlflow_dev_idle_seconds(lb_arn):
    try:
        return float(_lb_attr(lb_arn, "idle_timeout.timeout_seconds", TARGET_IDLE_TIMEOUT))
    except (TypeError, ValueError):
        return TARGET_IDLE_TIMEOUT


def _mlflow_dev_gateway_timeout():
    body = b"<html>\\r\\n<head><title>504 Gateway Time-out</title></head>\\r\\n" \\
           b"<body>\\r\\n<center><h1>504 Gateway Time-out</h1></center>\\r\\n</body>\\r\\n</html>\\r\\n"
    return 504, {"Content-Type": "text/html", "Connection": "close"}, body
''',
    "def _mlflow_dev_idle_seconds(lb_arn):",
)
patch(
    app,
    '''        chunks = []
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                raise _RequestBodyDisconnected
''',
    '''        chunks = []
        _mlflow_dev_idle = _mlflow_dev_alb_idle_seconds(headers)  # mlflow-dev patch: client idle
        while True:
            message = await _mlflow_dev_receive(receive, _mlflow_dev_idle)
            if message.get("type") == "http.disconnect":
                raise _RequestBodyDisconnected
''',
    "mlflow-dev patch: client idle",
)
patch(
    app,
    '''    except _RequestBodyDisconnected:
        return
    except _IncompleteRequestBody as exc:
''',
    '''    except _RequestBodyDisconnected:
        return
    except _MlflowDevClientIdle:  # mlflow-dev patch: the load balancer's 408
        await _send_if_handled(send, _mlflow_dev_request_timeout(), receive)
        return
    except _IncompleteRequestBody as exc:
''',
    "except _MlflowDevClientIdle:",
)
append(
    app,
    '''

# mlflow-dev patch: a client sending a request body to a load balancer must send a byte at least
# every idle timeout, else the load balancer answers 408 and closes the connection (ALB's
# "HTTP 408: Request timeout"). MiniStack waited for the body however long it took.
class _MlflowDevClientIdle(Exception):
    """The client sent no byte of its request body to a load balancer within its idle timeout."""


def _mlflow_dev_alb_idle_seconds(headers):
    """The idle timeout of the load balancer the request is for, or None for any other request."""
    host = headers.get("host", "")
    alb_module = sys.modules.get("ministack.services.alb")
    if alb_module is None or not _is_potential_alb_request(host, "/"):
        return None
    try:
        lb = alb_module.find_lb_for_host(host)
    except Exception:
        return None
    return None if lb is None else alb_module._mlflow_dev_idle_seconds(lb["LoadBalancerArn"])


async def _mlflow_dev_receive(receive, idle):
    if idle is None:
        return await receive()
    try:
        return await asyncio.wait_for(receive(), idle)
    except asyncio.TimeoutError:
        raise _MlflowDevClientIdle() from None


def _mlflow_dev_request_timeout():
    body = b"<html>\\r\\n<head><title>408 Request Time-out</title></head>\\r\\n" \\
           b"<body>\\r\\n<center><h1>408 Request Time-out</h1></center>\\r\\n</body>\\r\\n</html>\\r\\n"
    return 408, {"Content-Type": "text/html", "Connection": "close"}, body
''',
    "class _MlflowDevClientIdle(Exception):",
)

# ---------------------------------------------------------------------------
# 14. RDS PostgreSQL runs with the instance class's max_connections
RDS_MODULE = "mlflow_dev_rds_max_connections"
rds_helper_path = pathlib.Path(ecs.__file__).with_name(f"{RDS_MODULE}.py")
rds_helper_path.write_text(pathlib.Path(__file__).with_name("rds_max_connections.py").read_text())
print(f"patches.py: added {rds_helper_path.name}")
patch(
    rds,
    '''                container = _run_rds_container(
                    docker_client, engine, container_kwargs,
                    tls_names=[endpoint_host or "",
''',
    '''                _mlflow_dev_pg_max_connections(container_kwargs, engine, db_class)  # mlflow-dev patch
                container = _run_rds_container(
                    docker_client, engine, container_kwargs,
                    tls_names=[endpoint_host or "",
''',
    "_mlflow_dev_pg_max_connections(container_kwargs, engine, db_class)",
)
patch(
    rds,
    '''        container = _run_rds_container(
            docker_client, engine, container_kwargs,
            tls_names=[(instance.get("Endpoint") or {}).get("Address") or "",
''',
    '''        _mlflow_dev_pg_max_connections(  # mlflow-dev patch
            container_kwargs, engine, instance.get("DBInstanceClass", ""))
        container = _run_rds_container(
            docker_client, engine, container_kwargs,
            tls_names=[(instance.get("Endpoint") or {}).get("Address") or "",
''',
    "_mlflow_dev_pg_max_connections(  # mlflow-dev patch",
)
append(
    rds,
    f'''

# mlflow-dev patch: a PostgreSQL instance runs with the max_connections RDS derives from its
# class's memory (LEAST(DBInstanceClassMemory / 9531392, 5000)), not PostgreSQL's default 100.
def _mlflow_dev_pg_max_connections(container_kwargs, engine, instance_class):
    if engine != "postgres":
        return
    from ministack.services.{RDS_MODULE} import max_connections

    value = max_connections(instance_class)
    if value is None:
        return
    command = list(container_kwargs.get("command") or ["postgres"])
    container_kwargs["command"] = command + ["-c", f"max_connections={{value}}"]
''',
    "def _mlflow_dev_pg_max_connections(container_kwargs, engine, instance_class):",
)

# ---------------------------------------------------------------------------
# 15. RDS PostgreSQL TLS as on AWS: rds.force_ssl=1 refuses plain connections, the certificate names
# the endpoint (a DNS name, as on AWS), and ECS tasks get the emulator's RDS CA at PGSSLROOTCERT.
# MiniStack already starts PostgreSQL with ssl=on and a certificate from its own CA, but it accepted
# plain connections whatever the parameter group said, reported the container's address as the
# endpoint (its certificate named neither), and no task could trust its CA: sslmode=verify-full
# failed. Only the CA differs from AWS: the emulator's instead of the RDS bundle.
import ministack.services.rds as rds_service  # noqa: E402


def check_imports(module):
    """The patched module imports (a fresh interpreter: this one holds the unpatched module)."""
    import subprocess

    subprocess.run([sys.executable, "-c", f"import {module.__name__}"], check=True)
    print(f"patches.py: {module.__name__} imports")


append(
    rds_service,
    '''

# mlflow-dev patch 15: an instance whose parameter group sets rds.force_ssl=1 accepts TLS
# connections only (pg_hba.conf of hostssl lines; the unix socket stays for the emulator's own
# pg_dump), as RDS does ("no pg_hba.conf entry for host ..., no encryption"); its endpoint is a DNS
# name, <id>.<hash>.<region>.rds.amazonaws.com, registered as the container's alias on MiniStack's
# network and named by its server certificate, so sslmode=verify-full with the emulator's CA
# (GET /_ministack/rds/ca.pem) connects.
_mlflow_dev_rds_start = threading.local()

_MLFLOW_DEV_FORCE_SSL_HBA = (
    "# mlflow-dev patch 15: rds.force_ssl=1, TLS only\\n"
    "local all all trust\\n"
    "hostssl all all all md5\\n"
)


def _mlflow_dev_forces_ssl(group_name):
    group = _param_groups.get(group_name) if group_name else None
    param = ((group or {}).get("Parameters") or {}).get("rds.force_ssl") or {}
    return str(param.get("ParameterValue", "")).strip() == "1"


def _mlflow_dev_endpoint_name(db_id, account_id, region):
    scope = hashlib.sha256(f"{account_id}/{region}".encode()).hexdigest()[:12]
    return f"{db_id}.{scope}.{region}.rds.amazonaws.com".lower()


def _mlflow_dev_pg_tls_archive(cert_pem, key_pem):
    """The TLS archive, plus pg_hba.conf when the instance forces TLS."""
    data = _mlflow_dev_pg_tls_archive_unpatched(cert_pem, key_pem)
    if not getattr(_mlflow_dev_rds_start, "force_ssl", False):
        return data
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        hba = _MLFLOW_DEV_FORCE_SSL_HBA.encode()
        entry = tarfile.TarInfo(f"{_PG_TLS_DIR.lstrip('/')}/pg_hba.conf")
        entry.mode = 0o600
        entry.size = len(hba)
        dst.addfile(entry, io.BytesIO(hba))
    return out.getvalue()


def _mlflow_dev_run_rds_container(docker_client, engine, container_kwargs, tls_names=(), tls_ips=()):
    labels = container_kwargs.get("labels") or {}
    db_id = labels.get("db_id")
    network = container_kwargs.get("network")
    _mlflow_dev_rds_start.endpoint = None
    if engine != "postgres" or not db_id or labels.get("cluster_id"):
        return _mlflow_dev_run_rds_container_unpatched(docker_client, engine, container_kwargs, tls_names, tls_ips)
    kwargs = dict(container_kwargs)
    names = list(tls_names)
    if _network_supports_aliases(network):
        endpoint = _mlflow_dev_endpoint_name(db_id, labels.get("account_id"), labels.get("region"))
        kwargs["networking_config"] = {network: {"Aliases": [endpoint]}}
        names.insert(0, endpoint)
        _mlflow_dev_rds_start.endpoint = endpoint
    force_ssl = _mlflow_dev_forces_ssl(getattr(_mlflow_dev_rds_start, "group", None))
    if force_ssl:
        kwargs["command"] = list(kwargs.get("command") or ["postgres"]) + ["-c", f"hba_file={_PG_TLS_DIR}/pg_hba.conf"]
    _mlflow_dev_rds_start.force_ssl = force_ssl
    try:
        return _mlflow_dev_run_rds_container_unpatched(docker_client, engine, kwargs, names, tls_ips)
    finally:
        _mlflow_dev_rds_start.force_ssl = False


def _mlflow_dev_publish_endpoint(instance):
    endpoint = getattr(_mlflow_dev_rds_start, "endpoint", None)
    if instance is not None and endpoint and instance.get("_docker_container_id"):
        instance.setdefault("Endpoint", {})["Address"] = endpoint
        instance["_mlflow_dev_endpoint"] = endpoint


def _mlflow_dev_create_db_instance(p):
    _mlflow_dev_rds_start.group = _p(p, "DBParameterGroupName") or None
    _mlflow_dev_rds_start.endpoint = None
    try:
        result = _mlflow_dev_create_db_instance_unpatched(p)
        if result[0] < 300:
            _mlflow_dev_publish_endpoint(_instances.get(_p(p, "DBInstanceIdentifier")))
        return result
    finally:
        _mlflow_dev_rds_start.group = None
        _mlflow_dev_rds_start.endpoint = None


def _mlflow_dev_start_rds_container_for_instance(db_id, instance):
    groups = instance.get("DBParameterGroups") or [{}]
    _mlflow_dev_rds_start.group = groups[0].get("DBParameterGroupName")
    _mlflow_dev_rds_start.endpoint = None
    try:
        result = _mlflow_dev_start_rds_container_for_instance_unpatched(db_id, instance)
        _mlflow_dev_publish_endpoint(instance)
        return result
    finally:
        _mlflow_dev_rds_start.group = None
        _mlflow_dev_rds_start.endpoint = None


_mlflow_dev_pg_tls_archive_unpatched = _pg_tls_archive
_pg_tls_archive = _mlflow_dev_pg_tls_archive
_mlflow_dev_run_rds_container_unpatched = _run_rds_container
_run_rds_container = _mlflow_dev_run_rds_container
_mlflow_dev_create_db_instance_unpatched = _create_db_instance
_create_db_instance = _mlflow_dev_create_db_instance
_ACTION_MAP["CreateDBInstance"] = _mlflow_dev_create_db_instance
_mlflow_dev_start_rds_container_for_instance_unpatched = _start_rds_container_for_instance
_start_rds_container_for_instance = _mlflow_dev_start_rds_container_for_instance
''',
    "def _mlflow_dev_run_rds_container(",
)
check_imports(rds_service)

append(
    ecs,
    '''

# mlflow-dev patch 15: a task container whose environment sets PGSSLROOTCERT gets the emulator's RDS
# CA at that path: a Docker volume holding the CA under that file name, mounted read-only over the
# path's directory (which hides what the image has there, RDS's bundle in mlflow-dev's image). The
# volume is filled once per emulator run (its CA is minted per run) through a container that is
# created, never started.
_MLFLOW_DEV_RDS_CA_VOLUME = "mlflow-dev-ministack-rds-ca"
_MLFLOW_DEV_RDS_CA_FILES = set()
_mlflow_dev_rds_ca_lock = threading.Lock()


def _mlflow_dev_env_value(env, name):
    if isinstance(env, dict):
        return env.get(name)
    for item in env or []:
        key, _, value = str(item).partition("=")
        if key == name:
            return value
    return None


def _mlflow_dev_helper_images(cdef):
    import socket
    client = _get_docker()
    try:  # MiniStack's own image, when it runs in a container (always present)
        yield client.containers.get(socket.gethostname()).image.id
    except Exception:
        pass
    yield cdef.get("image")


def _mlflow_dev_fill_rds_ca_volume(filename, cdef):
    import io
    import tarfile
    from docker.types import Mount
    from ministack.services import rds as rds_service
    with _mlflow_dev_rds_ca_lock:
        if filename in _MLFLOW_DEV_RDS_CA_FILES:
            return
        pem = rds_service.pg_ca_cert_pem().encode()
        client = _get_docker()
        client.volumes.create(name=_MLFLOW_DEV_RDS_CA_VOLUME, labels={"mlflow-dev.emulator": "ministack-rds-ca"})
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as bundle:
            entry = tarfile.TarInfo(filename)
            entry.mode = 0o444
            entry.size = len(pem)
            bundle.addfile(entry, io.BytesIO(pem))
        last = None
        for image in _mlflow_dev_helper_images(cdef):
            if not image:
                continue
            try:
                helper = client.containers.create(
                    image, command=["true"], entrypoint=["true"], user="0:0", network_mode="none",
                    mounts=[Mount(target="/mlflow-dev-rds-ca", source=_MLFLOW_DEV_RDS_CA_VOLUME, type="volume")],
                    labels={"mlflow-dev.emulator": "ministack-rds-ca"},
                )
            except Exception as exc:
                last = exc
                continue
            try:
                if not helper.put_archive("/mlflow-dev-rds-ca", archive.getvalue()):
                    raise RuntimeError("Docker refused the RDS CA archive")
            finally:
                helper.remove(force=True, v=False)
            _MLFLOW_DEV_RDS_CA_FILES.add(filename)
            return
        raise RuntimeError(f"no image to fill the RDS CA volume with: {last}")


def _mlflow_dev_build_run_kwargs(cdef, td, env, *args, **kwargs):
    from docker.types import Mount
    run_kwargs = _mlflow_dev_build_run_kwargs_unpatched(cdef, td, env, *args, **kwargs)
    path = _mlflow_dev_env_value(env, "PGSSLROOTCERT") or ""
    directory, _, filename = path.rpartition("/")
    if not path.startswith("/") or not directory or not filename:
        return run_kwargs
    _mlflow_dev_fill_rds_ca_volume(filename, cdef)
    mounts = list(run_kwargs.get("mounts") or [])
    mounts.append(Mount(target=directory, source=_MLFLOW_DEV_RDS_CA_VOLUME, type="volume", read_only=True))
    run_kwargs["mounts"] = mounts
    return run_kwargs


_mlflow_dev_build_run_kwargs_unpatched = _build_run_kwargs
_build_run_kwargs = _mlflow_dev_build_run_kwargs
''',
    "def _mlflow_dev_build_run_kwargs(",
)
check_imports(ecs)

# ---------------------------------------------------------------------------
# 16. EC2 reports a subnet's free addresses from its CIDR block
import ministack.services.ec2 as ec2  # noqa: E402

patch(
    ec2,
    "        <availableIpAddressCount>{subnet['AvailableIpAddressCount']}</availableIpAddressCount>\n",
    "        <availableIpAddressCount>{_mlflow_dev_available_ips(subnet)}</availableIpAddressCount>\n",
    "{_mlflow_dev_available_ips(subnet)}",
)
append(
    ec2,
    '''

# mlflow-dev patch: a subnet's free IPv4 addresses are its block's addresses less the five AWS
# keeps (network, VPC router, DNS, future use, broadcast) and one per network interface in it: a
# /28 has 11. MiniStack reported 251 for every subnet, whatever its size.
def _mlflow_dev_available_ips(subnet):
    import ipaddress

    try:
        size = ipaddress.ip_network(subnet.get("CidrBlock", ""), strict=False).num_addresses
    except ValueError:
        return subnet.get("AvailableIpAddressCount", 0)
    used = sum(1 for eni in list(_network_interfaces.values()) if eni.get("SubnetId") == subnet.get("SubnetId"))
    return max(0, size - 5 - used)
''',
    "def _mlflow_dev_available_ips(subnet):",
)

# ---------------------------------------------------------------------------
# 17. A service's first deployment is IN_PROGRESS until its tasks are stable, and CloudFormation's
# create of an AWS::ECS::Service waits for it (a tripped circuit breaker fails the resource)
patch(
    ecs,
    '''    deployment = _make_deployment(td_arn, desired)
    deployment["launchType"] = launch_type
    deployment["capacityProviderStrategy"] = strategy
''',
    '''    deployment = _make_deployment(td_arn, desired)
    deployment["launchType"] = launch_type
    deployment["capacityProviderStrategy"] = strategy
    # mlflow-dev patch 17: the first deployment completes once its tasks are stable, as on AWS
    deployment["rolloutState"] = "IN_PROGRESS"
    deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} in progress."
''',
    "mlflow-dev patch 17: the first deployment completes once its tasks are stable",
)
patch(
    provisioners,
    '''        raise ValueError(f"AWS::ECS::Service create failed: {response[2]!r}")
    arn = f"arn:aws:ecs:{get_region()}:{get_account_id()}:service/{cluster}/{name}"
    return arn, {"ServiceArn": arn, "Name": name}
''',
    '''        raise ValueError(f"AWS::ECS::Service create failed: {response[2]!r}")
    arn = f"arn:aws:ecs:{get_region()}:{get_account_id()}:service/{cluster}/{name}"
    _mlflow_dev_wait_for_first_deployment(cluster, name)
    return arn, {"ServiceArn": arn, "Name": name}
''',
    "_mlflow_dev_wait_for_first_deployment(cluster, name)",
)
append(
    provisioners,
    '''

# mlflow-dev patch 17: the create of an AWS::ECS::Service ends when the service's first deployment
# does, as on AWS. A failed create leaves no service behind: CloudFormation's rollback deletes a
# resource whose create failed, and MiniStack's rollback only deletes the resources it recorded.
def _mlflow_dev_wait_for_first_deployment(cluster, name):
    try:
        _mlflow_dev_wait_for_deployment(cluster, name)
    except Exception:
        _ecs._delete_service({"cluster": cluster, "service": name, "force": True})
        raise
''',
    "def _mlflow_dev_wait_for_first_deployment(cluster, name):",
)
check_imports(provisioners)

# ---------------------------------------------------------------------------
# 18. CloudFormation EventBridge Scheduler schedules: stored as the Scheduler API stores them, checked
append(
    provisioners,
    '''

# mlflow-dev patch 18: an AWS::Scheduler::Schedule is created and updated through the Scheduler API's
# own functions, whose refusals fail the resource (MiniStack ignored them and reported success); its
# Target is stored in the API's shape (CloudFormation's AwsvpcConfiguration is the API's
# awsvpcConfiguration, so GetSchedule returned a network configuration no SDK reads); and an ECS
# target must exist as a run would need it: an ACTIVE cluster, an ACTIVE task definition revision
# holding the containers its Input overrides, and an IAM role of the account. Updates replace the
# schedule's properties (a dropped one is gone); a new Name or GroupName replaces the schedule, and
# change sets say so (any other change is in place, where MiniStack reported Conditionally).
import re as _mlflow_dev_re

_MLFLOW_DEV_SCHEDULE_EXPRESSION = _mlflow_dev_re.compile(
    r"^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)"
    r"|cron\\([^ ()]+( [^ ()]+){5}\\)"
    r"|at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\))$"
)
_MLFLOW_DEV_ROLE_ARN = _mlflow_dev_re.compile(r"^arn:aws(-[a-z]+)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")


def _mlflow_dev_lower_keys(items, keys):
    return [{(k[0].lower() + k[1:] if k in keys else k): v for k, v in (item or {}).items()} for item in items or []]


def _mlflow_dev_schedule_target(target):
    """CloudFormation's Target in the Scheduler API's shape."""
    target = copy.deepcopy(target or {})
    ecs_parameters = target.get("EcsParameters")
    if isinstance(ecs_parameters, dict):
        network = ecs_parameters.get("NetworkConfiguration")
        if isinstance(network, dict) and "AwsvpcConfiguration" in network:
            network["awsvpcConfiguration"] = network.pop("AwsvpcConfiguration")
        for prop in ("PlacementConstraints", "PlacementStrategy"):
            if prop in ecs_parameters:
                ecs_parameters[prop] = _mlflow_dev_lower_keys(ecs_parameters[prop], ("Type", "Expression", "Field"))
        if "TaskCount" in ecs_parameters:
            ecs_parameters["TaskCount"] = int(ecs_parameters["TaskCount"])
    return target


def _mlflow_dev_schedule_problem(props, target):
    expression = props.get("ScheduleExpression") or ""
    if not _MLFLOW_DEV_SCHEDULE_EXPRESSION.match(expression):
        return f"Invalid Schedule Expression {expression}."
    role = target.get("RoleArn") or ""
    if not _MLFLOW_DEV_ROLE_ARN.match(role):
        return f"Provided RoleArn {role} is not a valid IAM role ARN."
    if role.split(":")[4] != get_account_id() or role.rsplit("/", 1)[-1] not in _iam._roles:
        return f"The execution role {role} does not exist."
    arn = target.get("Arn") or ""
    if ":ecs:" not in arn:
        return None
    if not arn.startswith("arn:") or ":cluster/" not in arn:
        return f"Target Arn {arn} is not an ECS cluster ARN."
    cluster = _ecs._clusters.get(_ecs._resolve_cluster_name(arn))
    if not cluster or cluster.get("status") != "ACTIVE":
        return f"The ECS cluster {arn} of the target does not exist."
    ecs_parameters = target.get("EcsParameters") or {}
    definition = ecs_parameters.get("TaskDefinitionArn") or ""
    key = _ecs._resolve_td_key(definition)
    registered = _ecs._task_defs.get(key) if key else None
    if not registered or registered.get("status") != "ACTIVE":
        return f"The task definition {definition} of the target is not registered (or not ACTIVE)."
    if target.get("Input"):
        try:
            overrides = json.loads(target["Input"])
        except ValueError:
            return "The target's Input is not JSON: an ECS target takes RunTask overrides."
        containers = {c.get("name") for c in registered.get("containerDefinitions") or []}
        for override in (overrides or {}).get("containerOverrides") or []:
            if override.get("name") not in containers:
                return f"The container override {override.get('name')} names no container of {definition}."
    return None


def _mlflow_dev_schedule_body(props, group):
    target = _mlflow_dev_schedule_target(props.get("Target"))
    problem = _mlflow_dev_schedule_problem(props, target)
    if problem:
        raise ValueError(f"Resource handler returned message: \\"{problem}\\" (HandlerErrorCode: InvalidRequest)")
    body = {
        "ScheduleExpression": props.get("ScheduleExpression"),
        "ScheduleExpressionTimezone": props.get("ScheduleExpressionTimezone", "UTC"),
        "FlexibleTimeWindow": props.get("FlexibleTimeWindow"),
        "Target": target,
        "GroupName": group,
        "State": props.get("State", "ENABLED"),
        "Description": props.get("Description", ""),
    }
    for prop in ("StartDate", "EndDate", "KmsKeyArn"):
        if props.get(prop) is not None:
            body[prop] = props[prop]
    return body


def _mlflow_dev_scheduler_call(result):
    status, _headers, payload = result
    if status >= 300:
        message = json.loads(payload or b"{}").get("Message", "")
        raise ValueError(f"Resource handler returned message: \\"{message}\\" (HandlerErrorCode: InvalidRequest)")


def _mlflow_dev_scheduler_schedule_create(logical_id, props, stack_name):
    import ministack.services.scheduler as _sched
    name = props.get("Name") or _physical_name(stack_name, logical_id, max_len=64)
    group = props.get("GroupName", "default")
    _sched._ensure_default_group()
    _mlflow_dev_scheduler_call(_sched._create_schedule(name, _mlflow_dev_schedule_body(props, group)))
    return name, {"Arn": _sched._schedule_arn(group, name)}


def _mlflow_dev_scheduler_schedule_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    import ministack.services.scheduler as _sched
    group = new_props.get("GroupName", "default")
    if (new_props.get("Name") or physical_id) != physical_id or group != old_props.get("GroupName", "default"):
        return _mlflow_dev_scheduler_schedule_create(logical_id or physical_id, new_props, stack_name)
    if f"{group}/{physical_id}" not in _sched._schedules:
        return _mlflow_dev_scheduler_schedule_create(logical_id or physical_id, new_props, stack_name)
    _mlflow_dev_scheduler_call(_sched._update_schedule(physical_id, _mlflow_dev_schedule_body(new_props, group)))
    return physical_id, {"Arn": _sched._schedule_arn(group, physical_id)}


_scheduler_schedule_create = _mlflow_dev_scheduler_schedule_create
_scheduler_schedule_update = _mlflow_dev_scheduler_schedule_update
# AWS's "Update requires: Replacement" of a schedule: its Name and GroupName; the rest updates in place.
_REPLACING_PROPERTIES["AWS::Scheduler::Schedule"] = ("GroupName", "Name")
_RESOURCE_HANDLERS["AWS::Scheduler::Schedule"] = {
    "create": _mlflow_dev_scheduler_schedule_create,
    "update": _mlflow_dev_scheduler_schedule_update,
    "delete": _scheduler_schedule_delete,
}
''',
    "def _mlflow_dev_scheduler_schedule_create(",
)

# ---------------------------------------------------------------------------
# 19. CloudFormation S3 buckets keep their LifecycleConfiguration
append(
    provisioners,
    '''

# mlflow-dev patch 19: an AWS::S3::Bucket's LifecycleConfiguration is the bucket's lifecycle
# configuration, put on create and on update through PutBucketLifecycleConfiguration (whose
# refusals fail the resource) and deleted with the property, so GetBucketLifecycleConfiguration
# returns the template's rules. MiniStack ignored the property.
def _mlflow_dev_s3_lifecycle_xml(configuration):
    from xml.etree.ElementTree import Element, SubElement, tostring

    def days(parent, tag, value):
        if value is not None:
            SubElement(parent, tag).text = str(int(value))

    root = Element("LifecycleConfiguration", xmlns=_s3.S3_NS)
    for rule in configuration.get("Rules") or []:
        rule_el = SubElement(root, "Rule")
        if rule.get("Id"):
            SubElement(rule_el, "ID").text = str(rule["Id"])
        filter_el = SubElement(rule_el, "Filter")
        tags = rule.get("TagFilters") or []
        sizes = [(k, rule[k]) for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan") if rule.get(k) is not None]
        if tags or sizes:
            and_el = SubElement(filter_el, "And")
            SubElement(and_el, "Prefix").text = str(rule.get("Prefix") or "")
            for tag in tags:
                tag_el = SubElement(and_el, "Tag")
                SubElement(tag_el, "Key").text = str(tag.get("Key", ""))
                SubElement(tag_el, "Value").text = str(tag.get("Value", ""))
            for key, value in sizes:
                SubElement(and_el, key).text = str(int(value))
        else:
            SubElement(filter_el, "Prefix").text = str(rule.get("Prefix") or "")
        SubElement(rule_el, "Status").text = str(rule.get("Status", ""))
        if rule.get("ExpirationInDays") is not None or rule.get("ExpirationDate") or rule.get("ExpiredObjectDeleteMarker") is not None:
            expiration = SubElement(rule_el, "Expiration")
            days(expiration, "Days", rule.get("ExpirationInDays"))
            if rule.get("ExpirationDate"):
                SubElement(expiration, "Date").text = str(rule["ExpirationDate"])
            if rule.get("ExpiredObjectDeleteMarker") is not None:
                SubElement(expiration, "ExpiredObjectDeleteMarker").text = str(bool(rule["ExpiredObjectDeleteMarker"])).lower()
        for transition in rule.get("Transitions") or ([rule["Transition"]] if rule.get("Transition") else []):
            transition_el = SubElement(rule_el, "Transition")
            days(transition_el, "Days", transition.get("TransitionInDays"))
            if transition.get("TransitionDate"):
                SubElement(transition_el, "Date").text = str(transition["TransitionDate"])
            SubElement(transition_el, "StorageClass").text = str(transition.get("StorageClass", ""))
        noncurrent = rule.get("NoncurrentVersionExpiration")
        if noncurrent is None and rule.get("NoncurrentVersionExpirationInDays") is not None:
            noncurrent = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
        if noncurrent is not None:
            noncurrent_el = SubElement(rule_el, "NoncurrentVersionExpiration")
            days(noncurrent_el, "NoncurrentDays", noncurrent.get("NoncurrentDays"))
            days(noncurrent_el, "NewerNoncurrentVersions", noncurrent.get("NewerNoncurrentVersions"))
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort is not None:
            days(SubElement(rule_el, "AbortIncompleteMultipartUpload"), "DaysAfterInitiation", abort.get("DaysAfterInitiation"))
    return tostring(root)


def _mlflow_dev_put_bucket_lifecycle(name, body):
    status, _headers, payload = _s3._put_bucket_lifecycle(name, body)
    if status >= 300:
        raise ValueError(f"PutBucketLifecycleConfiguration of {name} was refused: {payload.decode(errors='replace')}")


_S3_BUCKET_CONFIGURATIONS = _S3_BUCKET_CONFIGURATIONS + (
    ("LifecycleConfiguration", _mlflow_dev_s3_lifecycle_xml, _mlflow_dev_put_bucket_lifecycle,
     _s3._delete_bucket_lifecycle),
)
''',
    "def _mlflow_dev_s3_lifecycle_xml(",
)
check_imports(provisioners)
