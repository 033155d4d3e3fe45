"""Where one cold start of the API function goes: a fresh process imports the handler in stages and times each.

Each stage imports one layer on top of the previous ones, so a stage counts only what earlier stages did not
already import (the standard library modules a layer shares with an earlier one are charged to the earlier).
Runs with the runtime's Python and the artifact first on sys.path, like bench/worker.py. Prints JSON.
"""

import importlib
import json
import sys
import time

STAGES: list[tuple[str, list[str]]] = [
    ("botocore (session, client, config)", ["botocore.session", "botocore.client", "botocore.config"]),
    ("Powertools logging and metrics", ["aws_lambda_powertools.logging", "aws_lambda_powertools.metrics"]),
    ("requests (and urllib3)", ["requests"]),
    ("Powertools event handler (every resolver, data classes, OpenAPI)", ["aws_lambda_powertools.event_handler"]),
    (
        "the product's modules",
        ["terra_connect.api.container", "terra_connect.api.resolver", "terra_connect.api.routes.api_routes"],
    ),
]


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    timings: dict[str, float] = {}
    for name, modules in STAGES:
        started = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        timings[name] = time.perf_counter() - started
    container = importlib.import_module("terra_connect.api.container")
    started = time.perf_counter()
    container.get_container()
    timings["building the container (two botocore clients, settings)"] = time.perf_counter() - started
    started = time.perf_counter()
    importlib.import_module("terra_connect.api.handler")
    timings["the handler module (resolver and routes wired)"] = time.perf_counter() - started
    print(json.dumps(timings))  # noqa: T201


if __name__ == "__main__":
    main()
