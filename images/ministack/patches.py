"""Three small fixes to MiniStack 1.5.33 where it differs from AWS in ways the
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
"""

import pathlib
import sys

import ministack.app as app
import ministack.services.alb as alb
import ministack.services.ecs as ecs


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
