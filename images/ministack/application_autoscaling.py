"""mlflow-dev addition to MiniStack: the Application Auto Scaling control plane
for ECS services (patch 7 in patches.py installs it as a MiniStack service).

MiniStack 1.5.33 has no Application Auto Scaling, so a stack with an
AWS::ApplicationAutoScaling::ScalableTarget or ::ScalingPolicy could not be
created at all. This module keeps scalable targets and scaling policies as the
service does and checks what the service checks when they are registered:

- a target names an ECS service that exists (ResourceId service/<cluster>/<name>,
  ScalableDimension ecs:service:DesiredCount), and MinCapacity <= MaxCapacity;
- registering a target moves the service's desired count into [min, max];
- a policy needs a registered target; a target-tracking policy needs a target
  value and a predefined metric that exists for ECS services;
- deregistering a target deletes its policies.

No alarm ever fires here (MiniStack has no ECS service metrics), so nothing
scales after registration: control plane only.
"""

import json
import time

from ministack.core.responses import (
    AccountRegionScopedDict,
    error_response_json,
    get_account_id,
    get_region,
    new_uuid,
)

_targets = AccountRegionScopedDict()  # "namespace|resource id|dimension" -> target
_policies = AccountRegionScopedDict()  # policy ARN -> policy

ECS_DIMENSION = "ecs:service:DesiredCount"
ECS_METRICS = (
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
    "ALBRequestCountPerTarget",
)


class ServiceError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _key(namespace, resource_id, dimension):
    return f"{namespace}|{resource_id}|{dimension}"


def _ecs_service(resource_id):
    import ministack.services.ecs as ecs

    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service":
        raise ServiceError("ValidationException", f"Unsupported resource ID: {resource_id}")
    service = ecs._services.get(f"{parts[1]}/{parts[2]}")
    if service is None or service.get("status") != "ACTIVE":
        raise ServiceError("ValidationException", f"ECS service doesn't exist: {resource_id}")
    return service


def register_scalable_target(data):
    namespace = data.get("ServiceNamespace")
    resource_id = data.get("ResourceId", "")
    dimension = data.get("ScalableDimension")
    if namespace != "ecs" or dimension != ECS_DIMENSION:
        raise ServiceError(
            "ValidationException",
            f"Only ECS services are emulated (ServiceNamespace ecs, ScalableDimension {ECS_DIMENSION})",
        )
    service = _ecs_service(resource_id)
    key = _key(namespace, resource_id, dimension)
    existing = _targets.get(key)
    low = data.get("MinCapacity", existing and existing["MinCapacity"])
    high = data.get("MaxCapacity", existing and existing["MaxCapacity"])
    if low is None or high is None:
        raise ServiceError("ValidationException", "MinCapacity and MaxCapacity are required for a new scalable target")
    if int(low) > int(high):
        raise ServiceError("ValidationException", "Minimum capacity cannot be greater than maximum capacity")
    target = {
        "ServiceNamespace": namespace,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "MinCapacity": int(low),
        "MaxCapacity": int(high),
        "RoleARN": data.get("RoleARN")
        or f"arn:aws:iam::{get_account_id()}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        "CreationTime": existing["CreationTime"] if existing else time.time(),
        "SuspendedState": data.get("SuspendedState")
        or {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False},
        "ScalableTargetARN": existing["ScalableTargetARN"]
        if existing
        else f"arn:aws:application-autoscaling:{get_region()}:{get_account_id()}:scalable-target/{new_uuid().replace('-', '')[:28]}",
    }
    _targets[key] = target
    desired = int(service.get("desiredCount", 0))
    service["desiredCount"] = min(max(desired, target["MinCapacity"]), target["MaxCapacity"])
    return target


def deregister_scalable_target(data):
    key = _key(data.get("ServiceNamespace"), data.get("ResourceId"), data.get("ScalableDimension"))
    if _targets.pop(key, None) is None:
        raise ServiceError("ObjectNotFoundException", f"No scalable target registered for {key}")
    for arn, policy in list(_policies.items()):
        if _key(policy["ServiceNamespace"], policy["ResourceId"], policy["ScalableDimension"]) == key:
            _policies.pop(arn, None)


def put_scaling_policy(data):
    namespace, resource_id, dimension = (
        data.get("ServiceNamespace"),
        data.get("ResourceId", ""),
        data.get("ScalableDimension"),
    )
    if _key(namespace, resource_id, dimension) not in _targets:
        raise ServiceError(
            "ObjectNotFoundException",
            f"No scalable target registered for service namespace: {namespace}, resource ID: {resource_id}, "
            f"scalable dimension: {dimension}",
        )
    name = data.get("PolicyName")
    if not name:
        raise ServiceError("ValidationException", "PolicyName is required")
    policy_type = data.get("PolicyType", "StepScaling")
    config = data.get("TargetTrackingScalingPolicyConfiguration")
    if policy_type == "TargetTrackingScaling":
        if not config or config.get("TargetValue") is None:
            raise ServiceError("ValidationException", "A target tracking policy needs a TargetValue")
        metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if metric is None and not config.get("CustomizedMetricSpecification"):
            raise ServiceError("ValidationException", "A target tracking policy needs a metric")
        if metric is not None and metric not in ECS_METRICS:
            raise ServiceError("ValidationException", f"Unsupported metric type for ECS services: {metric}")
    arn = next(
        (a for a, p in _policies.items() if p["PolicyName"] == name and p["ResourceId"] == resource_id),
        f"arn:aws:autoscaling:{get_region()}:{get_account_id()}:scalingPolicy:{new_uuid()}:"
        f"resource/{namespace}/{resource_id}:policyName/{name}",
    )
    policy = {
        "PolicyARN": arn,
        "PolicyName": name,
        "ServiceNamespace": namespace,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "PolicyType": policy_type,
        "CreationTime": time.time(),
        "Alarms": [],
    }
    if config:
        policy["TargetTrackingScalingPolicyConfiguration"] = config
    if data.get("StepScalingPolicyConfiguration"):
        policy["StepScalingPolicyConfiguration"] = data["StepScalingPolicyConfiguration"]
    _policies[arn] = policy
    return policy


def delete_scaling_policy(data):
    for arn, policy in list(_policies.items()):
        if policy["PolicyName"] == data.get("PolicyName") and policy["ResourceId"] == data.get("ResourceId"):
            _policies.pop(arn, None)
            return
    raise ServiceError("ObjectNotFoundException", f"No scaling policy found for {data.get('PolicyName')}")


def _matches(item, data):
    ids = data.get("ResourceIds")
    return (
        item["ServiceNamespace"] == data.get("ServiceNamespace")
        and (not ids or item["ResourceId"] in ids)
        and (data.get("ResourceId") in (None, item["ResourceId"]))
        and (data.get("ScalableDimension") in (None, item["ScalableDimension"]))
        and (not data.get("PolicyNames") or item.get("PolicyName") in data["PolicyNames"])
    )


def _json(body):
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body).encode()


def _handle(action, data):
    if action == "RegisterScalableTarget":
        return _json({"ScalableTargetARN": register_scalable_target(data)["ScalableTargetARN"]})
    if action == "DescribeScalableTargets":
        return _json({"ScalableTargets": [t for t in _targets.values() if _matches(t, data)]})
    if action == "DeregisterScalableTarget":
        deregister_scalable_target(data)
        return _json({})
    if action == "PutScalingPolicy":
        policy = put_scaling_policy(data)
        return _json({"PolicyARN": policy["PolicyARN"], "Alarms": []})
    if action == "DescribeScalingPolicies":
        return _json({"ScalingPolicies": [p for p in _policies.values() if _matches(p, data)]})
    if action == "DeleteScalingPolicy":
        delete_scaling_policy(data)
        return _json({})
    raise ServiceError("InvalidAction", f"Application Auto Scaling action {action} is not emulated")


async def handle_request(method, path, headers, body, query_params):
    action = headers.get("x-amz-target", "").split(".")[-1]
    try:
        data = json.loads(body) if body else {}
    except json.JSONDecodeError:
        return error_response_json("SerializationException", "Invalid JSON", 400)
    try:
        return _handle(action, data)
    except ServiceError as e:
        return error_response_json(e.code, e.message, 400)


def reset():
    _targets.clear()
    _policies.clear()
