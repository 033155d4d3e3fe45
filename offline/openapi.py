"""docs/openapi.json, generated from the routes (Powertools' OpenAPI support) and the JSON Schemas they validate with.

python -m offline.openapi          # print
python -m offline.openapi --write  # update docs/openapi.json (make docs)
"""

import argparse
import json
import sys

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server, ServerVariable

from offline.template import ROOT
from terra_connect.api import problems
from terra_connect.api.resolver import create_resolver
from terra_connect.api.routes import webhooks
from terra_connect.api.routes.api_routes import API_ROUTERS
from terra_connect.api.routes.connections import PATH_PARAMETERS
from terra_connect.domain import models

OPENAPI_FILE = ROOT / "docs" / "openapi.json"


def render() -> str:
    app = create_resolver(*API_ROUTERS, webhooks.router)
    document = app.get_openapi_json_schema(
        title="Terra Connect API",
        version="1.0.0",
        description=(
            "Connect a signed-in app user's wearables through Terra. Every route needs an access token from the "
            "stack's identity provider; errors are RFC 9457 problem+json with a stable `code`."
        ),
        servers=[
            Server(
                url="https://{api_id}.execute-api.{region}.amazonaws.com",
                description="The stack's HTTP API (output ApiBaseUrl)",
                variables={
                    "api_id": ServerVariable(default="abc123example", description="HTTP API id"),
                    "region": ServerVariable(default="us-east-1", description="AWS region"),
                },
            )
        ],
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
        security=[{"jwt": []}],
    )
    parsed = json.loads(document)
    # The request and answer schemas the routes validate with and serialise to, referenced by name.
    parsed.setdefault("components", {})["schemas"] = {**models.SCHEMAS, **problems.SCHEMAS}
    for operations in parsed["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":  # the schema the route validates the parameter with
                    parameter["schema"] = PATH_PARAMETERS[parameter["name"]]
                    parameter["description"] = parameter["schema"]["description"]
            for response in operation["responses"].values():
                if response.get("content") == {}:  # an answer without a body (204)
                    del response["content"]
    return json.dumps(parsed, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate the OpenAPI document from the code.")
    parser.add_argument("--write", action="store_true", help=f"write {OPENAPI_FILE.relative_to(ROOT)}")
    if parser.parse_args().write:
        OPENAPI_FILE.parent.mkdir(exist_ok=True)
        OPENAPI_FILE.write_text(render())
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
