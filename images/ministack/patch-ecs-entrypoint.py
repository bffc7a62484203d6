"""Make MiniStack's ECS honour containerDefinitions[].entryPoint.

MiniStack 1.5.33 starts ECS task containers with the task definition's
`command` but drops `entryPoint`, so the image's own ENTRYPOINT runs with the
command as its arguments. ECS runs `entryPoint` + `command`. This adds the one
missing argument to the Docker run call; the build fails if the source no
longer matches (i.e. on another MiniStack version: re-check, then drop or
update this patch).
"""

import pathlib
import sys

import ministack.services.ecs as ecs

path = pathlib.Path(ecs.__file__)
source = path.read_text()
old = '        command=cdef.get("command"),\n'
new = old + '        entrypoint=cdef.get("entryPoint") or None,\n'
if source.count(old) != 1 or "entrypoint=cdef.get(" in source:
    sys.exit(f"patch-ecs-entrypoint: unexpected source in {path}; MiniStack changed")
path.write_text(source.replace(old, new))
print(f"patch-ecs-entrypoint: patched {path}")
