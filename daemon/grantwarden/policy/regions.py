"""Genesys Cloud regions and their official hosts (platform.md §1.1).

An org lives in exactly one region and a client or token from one region is unknown to the
others, so a tenant's region decides which login and API hosts it talks to. The login host is
the API host with ``api.`` replaced by ``login.`` (platform.md §1.1, SDK ``get_conf_url``).
A tenant may instead name ``api_base_url``/``login_base_url`` (the simulator, a proxy).
"""

from __future__ import annotations

# region key -> API base URL (platform.md §1.1, SDK purecloud_region_hosts.py)
API_HOSTS: dict[str, str] = {
    "us-east-1": "https://api.mypurecloud.com",
    "eu-west-1": "https://api.mypurecloud.ie",
    "ap-southeast-2": "https://api.mypurecloud.com.au",
    "ap-northeast-1": "https://api.mypurecloud.jp",
    "eu-central-1": "https://api.mypurecloud.de",
    "us-west-2": "https://api.usw2.pure.cloud",
    "ca-central-1": "https://api.cac1.pure.cloud",
    "ap-northeast-2": "https://api.apne2.pure.cloud",
    "eu-west-2": "https://api.euw2.pure.cloud",
    "ap-south-1": "https://api.aps1.pure.cloud",
    "us-east-2": "https://api.use2.us-gov-pure.cloud",
    "sa-east-1": "https://api.sae1.pure.cloud",
    "me-central-1": "https://api.mec1.pure.cloud",
    "ap-northeast-3": "https://api.apne3.pure.cloud",
    "eu-central-2": "https://api.euc2.pure.cloud",
    "mx-central-1": "https://api.mxc1.pure.cloud",
    "ap-southeast-1": "https://api.apse1.pure.cloud",
    "eusc-de-east-1": "https://api.edee1.eusc-pure.cloud",
}


def api_base_url(region: str) -> str:
    """The API base URL of ``region``; KeyError for an unknown region."""
    return API_HOSTS[region]


def login_base_url(region: str) -> str:
    """The login host of ``region``: the API host with ``api.`` replaced by ``login.``."""
    return API_HOSTS[region].replace("://api.", "://login.", 1)
