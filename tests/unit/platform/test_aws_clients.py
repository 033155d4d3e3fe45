"""The product's botocore session resolves every endpoint exactly as a stock botocore session does.

platform/aws_clients.py has botocore's loader search a folder linking only the services the product uses (and botocore's
shared data files), so a cold start does not list the ~450 services botocore ships. Endpoint resolution must not
change: compared here, client by client, for every region of every partition botocore knows, with and without FIPS
and dual-stack.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, UnknownServiceError
from botocore.loaders import Loader

from terra_connect.platform import aws_clients

VARIANTS = {
    "standard": {},
    "fips": {"use_fips_endpoint": True},
    "dual-stack": {"use_dualstack_endpoint": True},
    "fips+dual-stack": {"use_fips_endpoint": True, "use_dualstack_endpoint": True},
}


def partitions() -> dict[str, list[str]]:
    endpoints = Loader().load_data("endpoints")
    return {partition["partition"]: sorted(partition["regions"]) for partition in endpoints["partitions"]}


def resolved(session: botocore.session.Session, service: str, region: str, variant: dict[str, bool]) -> str:
    config = Config(
        use_fips_endpoint=variant.get("use_fips_endpoint", False),
        use_dualstack_endpoint=variant.get("use_dualstack_endpoint", False),
    )
    try:
        client = session.create_client(
            service, region_name=region, config=config, aws_access_key_id="x", aws_secret_access_key="y"
        )
    except BotoCoreError as exc:  # the same refusal from both sessions counts as the same answer
        return f"refused: {type(exc).__name__}"
    return str(client.meta.endpoint_url)


@pytest.fixture
def fresh_product_session() -> Iterator[botocore.session.Session]:
    aws_clients._session.cache_clear()
    yield aws_clients._session()
    aws_clients._session.cache_clear()


def test_every_partition_region_fips_and_dual_stack_resolve_as_a_stock_session(
    fresh_product_session: botocore.session.Session,
) -> None:
    stock = botocore.session.get_session()
    known = partitions()
    assert {"aws", "aws-cn", "aws-us-gov"} <= set(known)  # the loader really read botocore's endpoint data
    compared = 0
    for regions in known.values():
        for region in regions:
            for service in aws_clients.SERVICES:
                for name, variant in VARIANTS.items():
                    ours = resolved(fresh_product_session, service, region, variant)
                    assert ours == resolved(stock, service, region, variant), (service, region, name)
                    compared += 1
    assert compared >= 4 * len(aws_clients.SERVICES) * 30


def test_the_known_services_are_listed_as_botocore_lists_them(fresh_product_session: botocore.session.Session) -> None:
    ours = fresh_product_session.get_component("data_loader")
    stock = Loader()
    for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1"):
        expected = [service for service in stock.list_available_services(type_name) if service in aws_clients.SERVICES]
        assert ours.list_available_services(type_name) == expected
    assert ours.list_available_services("service-2") == sorted(aws_clients.SERVICES)


def test_the_data_folder_links_botocores_own_shared_files_and_only_the_products_services() -> None:
    folder = Path(aws_clients.product_data_path())
    builtin = Path(Loader.BUILTIN_DATA_PATH)
    shared = {path.name for path in builtin.iterdir() if path.is_file()}

    assert {"endpoints.json", "partitions.json"} <= shared
    assert {path.name for path in folder.iterdir()} == shared | set(aws_clients.SERVICES)
    assert all(path.is_symlink() and path.resolve() == (builtin / path.name).resolve() for path in folder.iterdir())


def test_a_service_the_product_does_not_use_is_unknown(fresh_product_session: botocore.session.Session) -> None:
    with pytest.raises(UnknownServiceError):
        fresh_product_session.create_client("ec2", region_name="us-east-1")


def test_aws_data_path_is_still_searched_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A customer model under AWS_DATA_PATH wins over botocore's own, as with a stock session."""
    model = json.loads(json.dumps(Loader().load_service_model("secretsmanager", "service-2")))
    model["documentation"] = "customer copy"
    version = model["metadata"]["apiVersion"]
    folder = tmp_path / "secretsmanager" / version
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    aws_clients._session.cache_clear()
    try:
        loader = aws_clients._session().get_component("data_loader")
        assert loader.search_paths[0] == str(tmp_path)
        assert loader.load_service_model("secretsmanager", "service-2")["documentation"] == "customer copy"
    finally:
        aws_clients._session.cache_clear()


def test_every_client_the_product_creates_is_for_a_listed_service() -> None:
    sources = Path(aws_clients.__file__).resolve().parents[1]
    calls = [
        line.split("aws_client(", 1)[1].split(",", 1)[0].strip("\"' ")
        for path in sources.rglob("*.py")
        for line in path.read_text().splitlines()
        if "aws_client(" in line and "def aws_client" not in line
    ]
    assert calls  # the scan found the call sites
    assert set(calls) <= set(aws_clients.SERVICES), calls
