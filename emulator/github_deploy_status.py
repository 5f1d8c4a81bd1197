"""`POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`: GitHub's "Create a deployment status".

A deploy tool reports on a deployment whenever it likes, hours or weeks after creating it (a rollback marks an old
deployment `failure`, a slow pipeline reports `success` late). The status is dated at the emulator's clock and
served from then on by REST and GraphQL alike; as on GitHub (which documents no such thing), it moves neither
the deployment's `updated_at` nor its place in any list, so only a client that reads old deployments' statuses
again sees it (tests/unit/test_deployment_rechecks.py). Kept in memory for the emulator's lifetime.
"""

from __future__ import annotations

from typing import Any

from emulator.ids import node_id
from emulator.routing import Request, Response, json_response
from emulator.timefmt import iso_z

DOC = "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status"
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
FIRST_POSTED_ID = 9_000_000_000  # apart from the generated ids (deployment id * 10 + k)


def register(api: Any) -> None:
    """Add the route to a `GitHubApi` (its router and deployment lookup)."""
    posted = [FIRST_POSTED_ID]

    def create(req: Request) -> Response:
        repo, dep = api._find_deployment(req)
        if dep is None:
            return json_response(404, {"message": "Not Found", "documentation_url": DOC, "status": "404"})
        try:
            body = req.json_body()
        except (ValueError, UnicodeDecodeError):
            return json_response(400, {"message": "Problems parsing JSON", "documentation_url": DOC,
                                       "status": "400"})
        state = body.get("state") if isinstance(body, dict) else None
        if state not in STATES:
            return json_response(422, {"message": "Validation Failed", "errors": [
                {"resource": "DeploymentStatus", "code": "invalid", "field": "state"}],
                "documentation_url": DOC, "status": "422"})
        posted[0] += 1
        row = (posted[0], req.now_ms, state)
        # GhDeployment is frozen for the generator's sake; a posted status is the one thing that changes it, in
        # place, so that every index of the world (by id, by repository, GraphQL's node index) sees it.
        object.__setattr__(dep, "statuses", (*dep.statuses, row))
        api.graphql.forget_answers()
        api_url = f"{req.base}/repos/{repo.full_name}"
        return json_response(201, {
            "url": f"{api_url}/deployments/{dep.id}/statuses/{row[0]}", "id": row[0],
            "node_id": node_id("DES", row[0]), "state": state, "description": str(body.get("description", "")),
            "environment": body.get("environment") or dep.environment, "created_at": iso_z(row[1]),
            "updated_at": iso_z(row[1]), "deployment_url": f"{api_url}/deployments/{dep.id}",
            "repository_url": api_url})

    for prefix in ("/repos/{owner}/{repo}", "/repositories/{repo_id}"):
        api.router.add("POST", prefix + "/deployments/{deployment_id}/statuses", create)
