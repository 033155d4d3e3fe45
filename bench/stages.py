"""Where one cold start of the API function goes: a fresh process imports the handler in stages and times each.

Each stage imports one layer on top of the previous ones, so a stage counts only what earlier stages did not
already import (the standard library modules a layer shares with an earlier one are charged to the earlier).
Runs with the runtime's Python and the artifact first on sys.path, like bench/worker.py. Prints JSON.
"""

import dataclasses
import importlib
import json
import sys
import time
from typing import Any

MODELS_STAGE = "the API's 9 pydantic models, built at import"
PRODUCT_STAGE = "the product's modules"
STAGES: list[tuple[str, list[str]]] = [
    ("botocore (session, client, config)", ["botocore.session", "botocore.client", "botocore.config"]),
    ("Powertools logging and metrics", ["aws_lambda_powertools.logging", "aws_lambda_powertools.metrics"]),
    ("requests (and urllib3)", ["requests"]),
    ("Powertools event handler (every resolver, data classes, OpenAPI)", ["aws_lambda_powertools.event_handler"]),
    ("pydantic and pydantic-core", ["pydantic.main", "pydantic.type_adapter"]),
    (
        "Powertools data validation (parameters, validation middleware)",
        [
            "aws_lambda_powertools.event_handler.openapi.params",
            "aws_lambda_powertools.event_handler.openapi.dependant",
            "aws_lambda_powertools.event_handler.middlewares.openapi_validation",
        ],
    ),
    (
        MODELS_STAGE,
        [
            "terra_connect.widget_sessions.models",
            "terra_connect.connections.models",
            "terra_connect.sdk.models",
            "terra_connect.providers.models",
        ],
    ),
    (
        PRODUCT_STAGE,
        ["terra_connect.entrypoints.api", "terra_connect.http.resolver", "terra_connect.entrypoints.api_routes"],
    ),
]


def time_dataclasses(spent: list[float]) -> None:
    """From now on, every `@dataclass` a module applies appends the seconds it took to build the class."""
    original = dataclasses.dataclass

    def timed(cls: Any = None, /, **options: Any) -> Any:
        def build(target: Any) -> Any:
            started = time.perf_counter()
            made = original(**options)(target)
            spent.append(time.perf_counter() - started)
            return made

        return build if cls is None else build(cls)

    dataclasses.dataclass = timed


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    timings: dict[str, float] = {}
    dataclass_seconds: list[float] = []
    for name, modules in STAGES:
        if name == MODELS_STAGE:
            time_dataclasses(dataclass_seconds)  # only the product's classes: the libraries are imported already
        started = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        timings[name] = time.perf_counter() - started
    container = importlib.import_module("terra_connect.entrypoints.api")
    started = time.perf_counter()
    container.get_container()
    timings["building the container (two botocore clients, settings)"] = time.perf_counter() - started
    started = time.perf_counter()
    importlib.import_module("terra_connect.entrypoints.api")
    timings["the handler module (resolver and routes wired)"] = time.perf_counter() - started
    print(json.dumps({"stages": timings, "dataclasses": len(dataclass_seconds), "dataclass_s": sum(dataclass_seconds)}))  # noqa: T201


if __name__ == "__main__":
    main()
