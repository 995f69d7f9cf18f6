"""Runs the scim2-tester compliance checks against a SCIM endpoint.

Usage: check.py BASE_URL TOKEN
Prints one line per check that did not succeed and a summary; exits 1 when any did not.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(Client(base_url=base, headers={"Authorization": f"Bearer {token}"}))
    client.discover()
    results = check_server(client)
    failed = [r for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    for r in failed:
        print(f"{r.status.name} {r.title}: {(r.reason or '')[:2000]}")
    print(f"scim2-tester: {len(results)} checks, {len(failed)} not successful")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
