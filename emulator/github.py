"""GitHub REST route handlers: pull requests, repositories, the organisation and `/rate_limit`.

Reproduced on purpose: `Link` pagination whose URLs use `/repositories/{id}/...` (and are served), `per_page`
clamped to 100, the real `sort`/`direction` defaults, private repositories that answer 404 to anonymous
callers, primary rate-limit headers on every response, and token-specific weak ETags with free 304s.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from emulator.auth import Credentials, GitHubIdentity, github_identify
from emulator.gen_github import (
    DEPENDABOT,
    LABELS,
    ORG_LOGIN,
    PULL_COMMITS_CAP,
    REPO_SERVICES,
    REPO_TEAMS,
    GhCommit,
    GhDeployment,
    GhPull,
    GhPullState,
    GhRelease,
    GhRepo,
    GhRun,
    GhRunState,
    deployment_statuses,
    head_sha,
    merge_commit_sha,
    pull_state,
    repo_kind,
    run_state,
    visible_commits,
)
from emulator.generator import World
from emulator.github_deploy_status import register as register_deployment_status
from emulator.github_graphql import PATHS as GRAPHQL_PATHS
from emulator.github_graphql import GraphQLEndpoint
from emulator.github_security import register as register_security_routes
from emulator.ids import node_id, sha, small_int
from emulator.ratelimit import RateLimiter, SecondaryLimit
from emulator.routing import Request, Response, Router, json_response
from emulator.strict import FILTERED_RESULTS_CAP
from emulator.timefmt import DAY, SECOND, TimeFormatError, iso_z, parse_iso
from emulator.timeline import Person, ViewCache

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
_PULLS_DOC = f"{DOCS}/pulls/pulls#list-pull-requests"
_REPO_DOC = f"{DOCS}/repos/repos#get-a-repository"
_USER_URLS = (
    ("followers_url", "followers"),
    ("following_url", "following{/other_user}"),
    ("gists_url", "gists{/gist_id}"),
    ("starred_url", "starred{/owner}{/repo}"),
    ("subscriptions_url", "subscriptions"),
    ("organizations_url", "orgs"),
    ("repos_url", "repos"),
    ("events_url", "events{/privacy}"),
    ("received_events_url", "received_events"),
)
_REPO_URLS = (
    ("forks_url", "forks"),
    ("keys_url", "keys{/key_id}"),
    ("collaborators_url", "collaborators{/collaborator}"),
    ("teams_url", "teams"),
    ("hooks_url", "hooks"),
    ("issue_events_url", "issues/events{/number}"),
    ("events_url", "events"),
    ("assignees_url", "assignees{/user}"),
    ("branches_url", "branches{/branch}"),
    ("tags_url", "tags"),
    ("blobs_url", "git/blobs{/sha}"),
    ("git_tags_url", "git/tags{/sha}"),
    ("git_refs_url", "git/refs{/sha}"),
    ("trees_url", "git/trees{/sha}"),
    ("statuses_url", "statuses/{sha}"),
    ("languages_url", "languages"),
    ("stargazers_url", "stargazers"),
    ("contributors_url", "contributors"),
    ("subscribers_url", "subscribers"),
    ("subscription_url", "subscription"),
    ("commits_url", "commits{/sha}"),
    ("git_commits_url", "git/commits{/sha}"),
    ("comments_url", "comments{/number}"),
    ("issue_comment_url", "issues/comments{/number}"),
    ("contents_url", "contents/{+path}"),
    ("compare_url", "compare/{base}...{head}"),
    ("merges_url", "merges"),
    ("archive_url", "{archive_format}{/ref}"),
    ("downloads_url", "downloads"),
    ("issues_url", "issues{/number}"),
    ("pulls_url", "pulls{/number}"),
    ("milestones_url", "milestones{/number}"),
    ("notifications_url", "notifications{?since,all,participating}"),
    ("labels_url", "labels{/name}"),
    ("releases_url", "releases{/id}"),
    ("deployments_url", "deployments"),
)


def _not_found(doc: str = DOCS) -> Response:
    return json_response(404, {"message": "Not Found", "documentation_url": doc, "status": "404"})


def _invalid(field: str, value: str, doc: str) -> Response:
    return json_response(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Search", "field": field, "code": "invalid", "value": value}],
            "documentation_url": doc,
            "status": "422",
        },
    )


class GitHubApi:
    name = "github"

    def __init__(self, world: World, creds: Credentials) -> None:
        self.world = world
        self.data = world.github
        self.creds = creds
        self.strict = True  # set by the server from EmulatorConfig (emulator/strict.py)
        self.limits = RateLimiter({"token": 5000, "anonymous": 60})
        self.secondary = SecondaryLimit()  # off until told (admin `/__emulator/settings`, `--github-secondary`)
        self._activity_view = ViewCache(self._activity)
        self._etag_salt = hashlib.sha256(("etag:" + creds.github_token).encode()).hexdigest()
        r = self.router = Router()
        r.add("GET", "/repos/{owner}/{repo}/pulls", self.list_pulls)
        r.add("GET", "/repositories/{repo_id}/pulls", self.list_pulls)
        r.add("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", self.get_pull)
        r.add("GET", "/repositories/{repo_id}/pulls/{pull_number}", self.get_pull)
        r.add("GET", "/repos/{owner}/{repo}", self.get_repo)
        r.add("GET", "/repositories/{repo_id}", self.get_repo)
        r.add("GET", "/orgs/{org}", self.get_org)
        r.add("GET", "/orgs/{org}/repos", self.list_org_repos)
        r.add("GET", "/organizations/{org_id}/repos", self.list_org_repos)
        for prefix in ("/repos/{owner}/{repo}", "/repositories/{repo_id}"):
            r.add("GET", prefix + "/pulls/{pull_number}/commits", self.list_pull_commits)
            r.add("GET", prefix + "/deployments", self.list_deployments)
            r.add("GET", prefix + "/deployments/{deployment_id}", self.get_deployment)
            r.add("GET", prefix + "/deployments/{deployment_id}/statuses", self.list_deployment_statuses)
            r.add("GET", prefix + "/releases", self.list_releases)
            r.add("GET", prefix + "/actions/runs", self.list_workflow_runs)
        r.add("GET", "/user", self.get_user)
        r.add("GET", "/rate_limit", self.rate_limit)
        register_security_routes(self)  # emulator/github_security.py: Dependabot, code and secret scanning alerts
        register_deployment_status(self)  # emulator/github_deploy_status.py: a deploy tool posting a status
        self.graphql = GraphQLEndpoint(self)  # emulator/github_graphql/: POST /graphql, its own points bucket

    # --- plumbing used by the server -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        found = github_identify(req, self.creds)
        if isinstance(found, Response):
            req.auth = GitHubIdentity(False, "anonymous")
            return found
        req.auth = found
        return None

    def not_found(self, req: Request) -> Response:
        return _not_found()

    def internal_error(self, req: Request) -> Response:
        return json_response(500, {"message": "Server Error", "documentation_url": DOCS, "status": "500"})

    def finalize(self, req: Request, resp: Response) -> Response:
        """Rate-limit accounting, ETag / If-None-Match, and the headers GitHub puts on every response."""
        ident: GitHubIdentity = req.auth or GitHubIdentity(False, "anonymous")
        common = [
            ("x-github-api-version-selected", API_VERSION),
            ("x-github-media-type", "github.v3; format=json"),
            ("access-control-allow-origin", "*"),
        ]
        if req.path == "/rate_limit":
            resp.headers += self.limits.peek(ident.bucket, req.now_ms).headers() + common
            return resp
        if req.path in GRAPHQL_PATHS:  # charged in points by the endpoint itself, never cached
            resp.headers += common
            return resp
        quota = self.limits.peek(ident.bucket, req.now_ms)
        if self.secondary.check():  # emulator/ratelimit.py: 403 or 429 with retry-after, quota left
            headers = [("retry-after", str(self.secondary.retry_after_s))] + quota.headers() + common
            return json_response(self.secondary.status, self.secondary.body(), headers=headers)
        if quota.remaining == 0:
            who = "user ID 1" if ident.authenticated else "127.0.0.1"
            resp = json_response(
                403,
                {
                    "message": f"API rate limit exceeded for {who}.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                    "status": "403",
                },
            )
            resp.headers += quota.headers() + common
            return resp
        if resp.status == 200:
            etag = 'W/"' + hashlib.sha256(self._etag_salt.encode() + resp.body).hexdigest() + '"'
            resp.headers += [
                ("etag", etag),
                ("cache-control", "private, max-age=60, s-maxage=60"),
                ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
            ]
            if _etag_matches(req.header("if-none-match"), etag):
                headers = [h for h in resp.headers if h[0].lower() not in ("content-type", "link")]
                return Response(304, b"", headers + quota.headers() + common)
        resp.headers += self.limits.consume(ident.bucket, req.now_ms).headers() + common
        return resp

    # --- object renderers ----------------------------------------------------------------------------------

    def _user(self, req: Request, person: Person, kind: str = "User") -> dict[str, Any]:
        url = f"{req.base}/users/{person.login}"
        out: dict[str, Any] = {
            "login": person.login,
            "id": person.github_id,
            "node_id": node_id("U", person.github_id),
            "avatar_url": f"{req.base}/web/avatars/u/{person.github_id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{req.base}/web/{person.login}",
        }
        out |= {key: f"{url}/{suffix}" for key, suffix in _USER_URLS}
        out |= {
            "type": "Bot" if person is DEPENDABOT else kind,
            "user_view_type": "public",
            "site_admin": False,
        }
        return out

    def _org_user(self, req: Request) -> dict[str, Any]:
        org = Person(-2, "Acme", "", ORG_LOGIN, self.data.org_id, "", "", "UTC")
        return self._user(req, org, "Organization")

    def _activity(self, now_ms: int) -> dict[int, tuple[int, int, int]]:
        """Per repo at the clock: (pushed_at, open PR count, size); each repo computed when first asked for, so
        rendering one repository does not build every other one at bulk scales (emulator/scale.py)."""
        data = self.data

        class PerRepo(dict):
            def __missing__(self, index: int) -> tuple[int, int, int]:
                repo = data.repos[index]
                pushed, open_count, rows = repo.created_ms, 0, data.views(now_ms, repo)
                for _, st in rows:
                    if st.merged_ms is not None:
                        pushed = max(pushed, st.merged_ms)
                    open_count += st.state == "open"
                self[index] = (pushed, open_count, 4000 + 37 * len(rows))
                return self[index]

        return PerRepo()

    def _repo(self, req: Request, repo: GhRepo, full: bool = False) -> dict[str, Any]:
        api = f"{req.base}/repos/{repo.full_name}"
        web = f"{req.base}/web/{repo.full_name}"
        pushed, open_count, size = self._activity_view.get(req.now_ms)[repo.index]
        out: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": True,
            "owner": self._org_user(req),
            "html_url": web,
            "description": repo.description,
            "fork": False,
            "url": api,
        }
        out |= {key: f"{api}/{suffix}" for key, suffix in _REPO_URLS}
        out |= {
            "created_at": iso_z(repo.created_ms),
            "updated_at": iso_z(pushed),
            "pushed_at": iso_z(pushed),
            "git_url": f"git://{req.origin.split('://', 1)[1]}/{repo.full_name}.git",
            "ssh_url": f"git@emulator:{repo.full_name}.git",
            "clone_url": f"{web}.git",
            "svn_url": web,
            "homepage": None,
            "size": size,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": repo.language,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_count,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [repo.language.lower(), "acme"],
            "visibility": "private",
            "forks": 0,
            "open_issues": open_count,
            "watchers": 0,
            "default_branch": repo.default_branch,
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            # Organisation custom properties: who owns the repository and which PagerDuty services it can break.
            "custom_properties": {
                "team": REPO_TEAMS.get(repo_kind(repo)),
                "pagerduty-services": list(REPO_SERVICES.get(repo_kind(repo), ())),
            },
        }
        if full:
            out |= {"organization": self._org_user(req), "network_count": 0, "subscribers_count": 3}
        return out

    def _label(self, req: Request, repo: GhRepo, name: str) -> dict[str, Any]:
        color, description, default = LABELS[name]
        ident = small_int(100_000_000, 999_999_999, self.world.seed, "label", repo.id, name)
        return {
            "id": ident,
            "node_id": node_id("LA", ident),
            "url": f"{req.base}/repos/{repo.full_name}/labels/{name}",
            "name": name,
            "color": color,
            "default": default,
            "description": description,
            "archived_by": None,  # required (null unless archived) in GitHub's current OpenAPI description
        }

    def _pull(
        self,
        req: Request,
        repo: GhRepo,
        pull: GhPull,
        st: GhPullState,
        full: bool = False,
        repo_json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        api = f"{req.base}/repos/{repo.full_name}"
        web = f"{req.base}/web/{repo.full_name}"
        n = pull.number
        head = head_sha(self.world.seed, pull, st)
        reviewers = [self._user(req, p) for p in pull.reviewers] if st.state == "open" else []
        owner = self._org_user(req)
        author = self._user(req, pull.author)
        repo_json = repo_json or self._repo(req, repo)
        out: dict[str, Any] = {
            "url": f"{api}/pulls/{n}",
            "id": pull.id,
            "node_id": pull.node_id,
            "html_url": f"{web}/pull/{n}",
            "diff_url": f"{web}/pull/{n}.diff",
            "patch_url": f"{web}/pull/{n}.patch",
            "issue_url": f"{api}/issues/{n}",
            "number": n,
            "state": st.state,
            "locked": False,
            "title": pull.title,
            "user": author,
            "body": pull.body,
            "created_at": iso_z(pull.created_ms),
            "updated_at": iso_z(st.updated_ms),
            "closed_at": None if st.closed_ms is None else iso_z(st.closed_ms),
            "merged_at": None if st.merged_ms is None else iso_z(st.merged_ms),
            "merge_commit_sha": merge_commit_sha(self.world.seed, pull, st),
            "assignee": author if pull.author is not DEPENDABOT else None,
            "assignees": [author] if pull.author is not DEPENDABOT else [],
            "requested_reviewers": reviewers,
            "requested_teams": [],
            "labels": [self._label(req, repo, name) for name in pull.labels],
            "milestone": None,
            "draft": st.draft,
            "commits_url": f"{api}/pulls/{n}/commits",
            "review_comments_url": f"{api}/pulls/{n}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{n}/comments",
            "statuses_url": f"{api}/statuses/{head}",
            "head": {
                "label": f"{ORG_LOGIN}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": head,
                "user": author,
                "repo": None if pull.head_repo_deleted else repo_json,
            },
            "base": {
                "label": f"{ORG_LOGIN}:{pull.base_ref}",
                "ref": pull.base_ref,
                "sha": self._base_sha(pull, st),
                "user": owner,
                "repo": repo_json,
            },
            "_links": {
                "self": {"href": f"{api}/pulls/{n}"},
                "html": {"href": f"{web}/pull/{n}"},
                "issue": {"href": f"{api}/issues/{n}"},
                "comments": {"href": f"{api}/issues/{n}/comments"},
                "review_comments": {"href": f"{api}/pulls/{n}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/pulls/{n}/commits"},
                "statuses": {"href": f"{api}/statuses/{head}"},
            },
            "author_association": "NONE" if pull.author is DEPENDABOT else "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            closed = st.state == "closed"
            out |= {
                "merged": st.merged,
                "mergeable": None if closed else True,
                "rebaseable": None if closed else True,
                "mergeable_state": "unknown" if closed else ("draft" if st.draft else "clean"),
                "merged_by": None
                if not st.merged or pull.merged_by is None
                else self._user(req, pull.merged_by),
                "comments": pull.comments if closed else min(pull.comments, st.comments + 1),
                "review_comments": pull.review_comments,
                "maintainer_can_modify": False,
                "commits": len(visible_commits(self.data.commits(pull), req.now_ms)),
                "additions": pull.additions,
                "deletions": pull.deletions,
                "changed_files": pull.changed_files,
            }
        return out

    def _base_sha(self, pull: GhPull, st: GhPullState) -> str:
        return sha(self.world.seed, "base", pull.repo_index, pull.created_ms // DAY)

    # --- lookups -------------------------------------------------------------------------------------------

    def _find_repo(self, req: Request) -> GhRepo | None:
        ident: GitHubIdentity = req.auth
        if not ident.authenticated:
            return None  # private repositories do not exist for anonymous callers
        params = req.path_params
        if "repo_id" in params:
            return self.data.repo_by_id.get(int(params["repo_id"])) if params["repo_id"].isdigit() else None
        if params["owner"].lower() != ORG_LOGIN:
            return None
        return self.data.repo_by_name.get(params["repo"].lower())

    @staticmethod
    def _page_params(req: Request) -> tuple[int, int]:
        try:
            per_page = int(req.param("per_page") or 30)
        except ValueError:
            per_page = 30
        per_page = 30 if per_page < 1 else min(per_page, 100)
        try:
            page = max(1, int(req.param("page") or 1))
        except ValueError:
            page = 1
        return per_page, page

    def _paginate(
        self, req: Request, rows: list[Any], link_path: str, render: Callable[[Any], Any]
    ) -> Response:
        items, headers = self._page(req, rows, link_path)
        return json_response(200, [render(item) for item in items], headers=headers)

    def _page(self, req: Request, rows: list[Any], link_path: str) -> tuple[list[Any], list[tuple[str, str]]]:
        """The requested page of `rows` and its `Link` header (URLs over /repositories/{id}/…)."""
        per_page, page = self._page_params(req)
        last = max(1, math.ceil(len(rows) / per_page))
        items = rows[(page - 1) * per_page : page * per_page]
        keep = [(k, v) for k, v in req.query if k != "page"]

        def url(n: int) -> str:
            return f"{req.base}{link_path}?{urlencode([*keep, ('page', n)])}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        headers = [("Link", ", ".join(links))] if links else []
        return items, headers

    # --- handlers ------------------------------------------------------------------------------------------

    def list_pulls(self, req: Request) -> Response:
        repo = self._find_repo(req)
        if repo is None:
            return _not_found(_PULLS_DOC)
        state = req.param("state") or "open"
        sort = req.param("sort") or "created"
        direction = req.param("direction") or ("desc" if sort == "created" else "asc")
        for name, value, allowed in (
            ("state", state, ("open", "closed", "all")),
            ("sort", sort, ("created", "updated", "popularity", "long-running")),
            ("direction", direction, ("asc", "desc")),
        ):
            if value not in allowed:
                return _invalid(name, value, _PULLS_DOC)
        base, head = req.param("base"), req.param("head")
        rows = []
        for pull, st in self.data.views(req.now_ms, repo):
            if state != "all" and st.state != state:
                continue
            if base and pull.base_ref != base:
                continue
            if head and head not in (f"{ORG_LOGIN}:{pull.head_ref}", pull.head_ref):
                continue
            if sort == "long-running" and not (
                pull.created_ms < req.now_ms - 30 * DAY and st.updated_ms >= req.now_ms - 30 * DAY
            ):
                continue
            rows.append((pull, st))
        key = {
            "created": lambda row: (row[0].created_ms, row[0].number),
            "long-running": lambda row: (row[0].created_ms, row[0].number),
            "updated": lambda row: (row[1].updated_ms, row[0].number),
            "popularity": lambda row: (row[0].comments, row[0].number),
        }[sort]
        rows.sort(key=key, reverse=direction == "desc")
        repo_json = self._repo(req, repo)
        return self._paginate(
            req,
            rows,
            f"/repositories/{repo.id}/pulls",
            lambda row: self._pull(req, repo, row[0], row[1], repo_json=repo_json),
        )

    def get_pull(self, req: Request) -> Response:
        repo = self._find_repo(req)
        doc = f"{DOCS}/pulls/pulls#get-a-pull-request"
        number = req.path_params["pull_number"]
        pull = self.data.pull_by_number.get((repo.index, int(number))) if repo and number.isdigit() else None
        if repo is None or pull is None or pull.created_ms > req.now_ms:
            return _not_found(doc)
        st = pull_state(pull, req.now_ms)
        assert st is not None
        return json_response(200, self._pull(req, repo, pull, st, full=True))

    def get_repo(self, req: Request) -> Response:
        repo = self._find_repo(req)
        return _not_found(_REPO_DOC) if repo is None else json_response(200, self._repo(req, repo, full=True))

    def _org_visible(self, req: Request, key: str) -> bool:
        value = req.path_params[key]
        return value.lower() == ORG_LOGIN if key == "org" else value == str(self.data.org_id)

    def get_org(self, req: Request) -> Response:
        if not self._org_visible(req, "org"):
            return _not_found(f"{DOCS}/orgs/orgs#get-an-organization")
        org = self._org_user(req)
        return json_response(
            200,
            {
                "login": org["login"],
                "id": org["id"],
                "node_id": org["node_id"],
                "url": f"{req.base}/orgs/{ORG_LOGIN}",
                "repos_url": f"{req.base}/orgs/{ORG_LOGIN}/repos",
                "avatar_url": org["avatar_url"],
                "description": "Acme Corp engineering",
                "name": "Acme",
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "is_verified": False,
                "has_organization_projects": True,
                "public_repos": 0,
                "followers": 0,
                "following": 0,
                "html_url": f"{req.base}/web/{ORG_LOGIN}",
                "created_at": iso_z(self.data.org_created_ms),
                "updated_at": iso_z(self.data.org_created_ms),
                "type": "Organization",
            },
        )

    def list_org_repos(self, req: Request) -> Response:
        key = "org" if "org" in req.path_params else "org_id"
        if not self._org_visible(req, key):
            return _not_found(f"{DOCS}/repos/repos#list-organization-repositories")
        sort = req.param("sort") or "created"
        direction = req.param("direction") or ("asc" if sort == "full_name" else "desc")
        if sort not in ("created", "updated", "pushed", "full_name") or direction not in ("asc", "desc"):
            return _invalid("sort", sort, f"{DOCS}/repos/repos#list-organization-repositories")
        repos = list(self.data.repos) if req.auth and req.auth.authenticated else []
        if req.param("type") in ("public", "forks"):
            repos = []
        activity = {r.index: self._activity_view.get(req.now_ms)[r.index][0] for r in repos}
        order = {
            "created": lambda r: r.created_ms,
            "full_name": lambda r: r.full_name,
            "updated": lambda r: activity[r.index],
            "pushed": lambda r: activity[r.index],
        }[sort]
        repos.sort(key=order, reverse=direction == "desc")
        return self._paginate(
            req, repos, f"/organizations/{self.data.org_id}/repos", lambda r: self._repo(req, r)
        )

    # --- DORA sources: PR commits, deployments, statuses, releases, workflow runs ----------------------------

    def _commit(self, req: Request, repo: GhRepo, commit: GhCommit, parent: str) -> dict[str, Any]:
        api = f"{req.base}/repos/{repo.full_name}"
        person = commit.author
        email = f"{person.login.split('[')[0]}@users.noreply.github.com" if person is DEPENDABOT else person.email
        signature = {"name": person.name, "email": email, "date": iso_z(commit.authored_ms)}
        committer = {"name": person.name, "email": email, "date": iso_z(commit.committed_ms)}
        user = self._user(req, person) if commit.author_linked else None
        return {
            "sha": commit.sha,
            "node_id": node_id("C", commit.sha),
            "commit": {
                "author": signature,
                "committer": committer,
                "message": commit.message,
                "tree": {"sha": sha(commit.sha, "tree"), "url": f"{api}/git/trees/{sha(commit.sha, 'tree')}"},
                "url": f"{api}/git/commits/{commit.sha}",
                "comment_count": 0,
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None},
            },
            "url": f"{api}/commits/{commit.sha}",
            "html_url": f"{req.base}/web/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{api}/commits/{commit.sha}/comments",
            "author": user,
            "committer": user,
            "parents": [{"sha": parent, "url": f"{api}/commits/{parent}", "html_url":
                         f"{req.base}/web/{repo.full_name}/commit/{parent}"}],
        }

    def list_pull_commits(self, req: Request) -> Response:
        """Oldest first, and never more than the first 250 commits however many the branch has (the real cap:
        the pull request's `commits` count says how many there are)."""
        repo = self._find_repo(req)
        doc = f"{DOCS}/pulls/pulls#list-commits-on-a-pull-request"
        number = req.path_params["pull_number"]
        pull = self.data.pull_by_number.get((repo.index, int(number))) if repo and number.isdigit() else None
        if repo is None or pull is None or pull.created_ms > req.now_ms:
            return _not_found(doc)
        commits = visible_commits(self.data.commits(pull), req.now_ms)[:PULL_COMMITS_CAP]
        parents = [self._base_sha(pull, pull_state(pull, req.now_ms))] + [c.sha for c in commits]
        rows = list(zip(commits, parents, strict=False))
        return self._paginate(req, rows, f"/repositories/{repo.id}/pulls/{pull.number}/commits",
                              lambda row: self._commit(req, repo, row[0], row[1]))

    def _deployment_updated_ms(self, dep: GhDeployment, now_ms: int) -> int:
        """GitHub does not document that a new status moves `updated_at`: the emulator does not move it, so a
        client relying on it (e.g. skipping statuses on a 304) is caught by the tests."""
        return dep.created_ms

    def _deployment(self, req: Request, repo: GhRepo, dep: GhDeployment) -> dict[str, Any]:
        api = f"{req.base}/repos/{repo.full_name}"
        return {
            "url": f"{api}/deployments/{dep.id}",
            "id": dep.id,
            "node_id": dep.node_id,
            "task": "deploy",
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description,
            "created_at": iso_z(dep.created_ms),
            "updated_at": iso_z(self._deployment_updated_ms(dep, req.now_ms)),
            "statuses_url": f"{api}/deployments/{dep.id}/statuses",
            "repository_url": api,
            "creator": self._user(req, dep.creator),
            "sha": dep.sha,
            "ref": dep.ref,
            "payload": {},
            "transient_environment": False,
            "production_environment": dep.production,
            "performed_via_github_app": None,
        }

    def list_deployments(self, req: Request) -> Response:
        """Newest first; `sha`, `ref`, `task` and `environment` filter by exact value."""
        repo = self._find_repo(req)
        if repo is None:
            return _not_found(f"{DOCS}/deployments/deployments#list-deployments")
        rows = [d for d in self.data.deployments_by_repo[repo.index] if d.created_ms <= req.now_ms]
        for name, value_of in (("sha", lambda d: d.sha), ("ref", lambda d: d.ref), ("task", lambda d: "deploy"),
                               ("environment", lambda d: d.environment)):
            wanted = req.param(name)
            if wanted:
                rows = [d for d in rows if value_of(d) == wanted]
        rows.sort(key=lambda d: (d.created_ms, d.id), reverse=True)
        return self._paginate(req, rows, f"/repositories/{repo.id}/deployments",
                              lambda d: self._deployment(req, repo, d))

    def _find_deployment(self, req: Request) -> tuple[GhRepo | None, GhDeployment | None]:
        repo = self._find_repo(req)
        raw = req.path_params["deployment_id"]
        dep = self.data.deployment_by_id.get(int(raw)) if raw.isdigit() else None
        if repo is None or dep is None or dep.repo_index != repo.index or dep.created_ms > req.now_ms:
            return repo, None
        return repo, dep

    def get_deployment(self, req: Request) -> Response:
        repo, dep = self._find_deployment(req)
        if dep is None:
            return _not_found(f"{DOCS}/deployments/deployments#get-a-deployment")
        return json_response(200, self._deployment(req, repo, dep))

    def list_deployment_statuses(self, req: Request) -> Response:
        """Newest first. Statuses keep arriving after the deployment was created (and `updated_at` moves)."""
        repo, dep = self._find_deployment(req)
        if dep is None:
            return _not_found(f"{DOCS}/deployments/statuses#list-deployment-statuses")
        api = f"{req.base}/repos/{repo.full_name}"
        rows = sorted(deployment_statuses(dep, req.now_ms), key=lambda s: (s[1], s[0]), reverse=True)

        def render(row: tuple[int, int, str]) -> dict[str, Any]:
            status_id, at, state = row
            return {
                "url": f"{api}/deployments/{dep.id}/statuses/{status_id}",
                "id": status_id,
                "node_id": node_id("DES", status_id),
                "state": state,
                "creator": self._user(req, dep.creator),
                "description": {"in_progress": "Deploying", "success": "Deployment finished successfully.",
                                "failure": "Deployment failed: health checks did not pass",
                                "error": "Deployment errored: could not reach the cluster",
                                "inactive": "Superseded by a newer deployment"}.get(state, ""),
                "environment": dep.environment,
                "target_url": f"https://deploy.acme.example/{repo.name}/{dep.id}",
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
                "deployment_url": f"{api}/deployments/{dep.id}",
                "repository_url": api,
                "environment_url": f"https://{repo.name}.acme.example" if dep.production else "",
                "log_url": f"https://deploy.acme.example/{repo.name}/{dep.id}/log",
                "performed_via_github_app": None,
            }

        return self._paginate(req, rows, f"/repositories/{repo.id}/deployments/{dep.id}/statuses", render)

    def _release(self, req: Request, repo: GhRepo, rel: GhRelease) -> dict[str, Any]:
        api = f"{req.base}/repos/{repo.full_name}"
        web = f"{req.base}/web/{repo.full_name}"
        draft = req.now_ms < rel.published_ms
        return {
            "url": f"{api}/releases/{rel.id}",
            "assets_url": f"{api}/releases/{rel.id}/assets",
            "upload_url": f"{api}/releases/{rel.id}/assets{{?name,label}}",
            "html_url": f"{web}/releases/{'untagged-' + str(rel.id) if draft else 'tag/' + rel.tag}",
            "id": rel.id,
            "author": self._user(req, rel.author),
            "node_id": node_id("RE", rel.id),
            "tag_name": rel.tag,
            "target_commitish": rel.target,
            "name": rel.name,
            "draft": draft,
            "immutable": False,
            "prerelease": rel.prerelease,
            "created_at": iso_z(rel.created_ms),
            "updated_at": iso_z(rel.created_ms if draft else rel.published_ms),
            "published_at": None if draft else iso_z(rel.published_ms),
            "assets": [],
            "tarball_url": None if draft else f"{api}/tarball/{rel.tag}",
            "zipball_url": None if draft else f"{api}/zipball/{rel.tag}",
            "body": f"Release {rel.tag}",
        }

    def list_releases(self, req: Request) -> Response:
        """Newest first, drafts included (the token can push). Only the first 1,000 results can be paged to: a
        page starting past them is refused, although `Link` still offers it."""
        repo = self._find_repo(req)
        doc = f"{DOCS}/releases/releases#list-releases"
        if repo is None:
            return _not_found(doc)
        per_page, page = self._page_params(req)
        if (page - 1) * per_page >= 1000:
            return json_response(422, {"message": "Only the first 1000 results are available.",
                                       "documentation_url": doc, "status": "422"})
        rows = [x for x in self.data.releases_by_repo[repo.index] if x.created_ms <= req.now_ms]
        rows.sort(key=lambda x: (x.created_ms, x.id), reverse=True)
        return self._paginate(req, rows, f"/repositories/{repo.id}/releases", lambda x: self._release(req, repo, x))

    def _run(self, req: Request, repo: GhRepo, run: GhRun, st: GhRunState, repo_json: dict[str, Any]) -> dict:
        api = f"{req.base}/repos/{repo.full_name}"
        web = f"{req.base}/web/{repo.full_name}"
        actor = self._user(req, run.actor)
        return {
            "id": run.id,
            "name": run.workflow.name,
            "node_id": node_id("WFR", run.id),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": f"{run.workflow.path}@{run.head_branch}" if run.event != "pull_request"
            else f"{run.workflow.path}@refs/pull/{run.pull_number}/merge",
            "display_title": run.title,
            "run_number": run.run_number,
            "event": run.event,
            "status": st.status,
            "conclusion": st.conclusion,
            "workflow_id": run.workflow.id,
            "check_suite_id": run.id * 3 + 1,
            "check_suite_node_id": node_id("CS", run.id),
            "url": f"{api}/actions/runs/{run.id}",
            "html_url": f"{web}/actions/runs/{run.id}",
            "pull_requests": self._run_pulls(req, repo, run),
            "created_at": iso_z(run.created_ms),
            "updated_at": iso_z(st.updated_ms),
            "actor": actor,
            "run_attempt": st.attempt,
            "referenced_workflows": [],
            "run_started_at": iso_z(st.started_ms),
            "triggering_actor": actor,
            "jobs_url": f"{api}/actions/runs/{run.id}/jobs",
            "logs_url": f"{api}/actions/runs/{run.id}/logs",
            "check_suite_url": f"{api}/check-suites/{run.id * 3 + 1}",
            "artifacts_url": f"{api}/actions/runs/{run.id}/artifacts",
            "cancel_url": f"{api}/actions/runs/{run.id}/cancel",
            "rerun_url": f"{api}/actions/runs/{run.id}/rerun",
            "previous_attempt_url": None if st.attempt == 1
            else f"{api}/actions/runs/{run.id}/attempts/{st.attempt - 1}",
            "workflow_url": f"{api}/actions/workflows/{run.workflow.id}",
            "head_commit": {
                "id": run.head_sha,
                "tree_id": sha(run.head_sha, "tree"),
                "message": run.title,
                "timestamp": iso_z(run.created_ms - 30 * SECOND),
                "author": {"name": run.actor.name, "email": run.actor.email},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
            },
            "repository": repo_json,
            "head_repository": repo_json,
        }

    def _run_pulls(self, req: Request, repo: GhRepo, run: GhRun) -> list[dict[str, Any]]:
        """GitHub's PullRequestMinimal: the pull request's id (not its number), head and base with their repo."""
        pull = self.data.pull_by_number.get((repo.index, run.pull_number)) if run.pull_number else None
        if pull is None:
            return []
        st = pull_state(pull, req.now_ms)
        ref = {"id": repo.id, "url": f"{req.base}/repos/{repo.full_name}", "name": repo.name}
        return [{"url": f"{req.base}/repos/{repo.full_name}/pulls/{pull.number}", "id": pull.id,
                 "number": pull.number,
                 "head": {"ref": run.head_branch, "sha": run.head_sha, "repo": ref},
                 "base": {"ref": pull.base_ref, "sha": self._base_sha(pull, st), "repo": ref}}]

    def list_workflow_runs(self, req: Request) -> Response:
        """`{"total_count", "workflow_runs"}`, newest first. With any of actor, branch, check_suite_id, created,
        event, head_sha or status, at most the first 1,000 matches can be paged to (`total_count` still says how
        many matched): the real cap that forces a client to narrow `created` windows."""
        repo = self._find_repo(req)
        doc = f"{DOCS}/actions/workflow-runs#list-workflow-runs-for-a-repository"
        if repo is None:
            return _not_found(doc)
        created = req.param("created")
        try:
            bounds = _created_bounds(created) if created else None
        except (ValueError, TimeFormatError):
            return _invalid("created", created or "", doc)
        rows = []
        for run in self.data.runs_by_repo[repo.index]:
            if run.created_ms > req.now_ms:
                continue
            if bounds is not None and not (bounds[0] <= run.created_ms <= bounds[1]):
                continue
            st = run_state(run, req.now_ms)
            if st is None:
                continue
            rows.append((run, st))
        for name, value_of in (("actor", lambda x: x[0].actor.login), ("branch", lambda x: x[0].head_branch),
                               ("event", lambda x: x[0].event), ("head_sha", lambda x: x[0].head_sha),
                               ("check_suite_id", lambda x: str(x[0].id * 3 + 1))):
            wanted = req.param(name)
            if wanted:
                rows = [x for x in rows if value_of(x) == wanted]
        status = req.param("status")
        if status:
            rows = [x for x in rows if status in (x[1].status, x[1].conclusion)]
        rows.sort(key=lambda x: (x[0].created_ms, x[0].id), reverse=True)
        total = len(rows)
        filtered = any(req.param(k) for k in ("actor", "branch", "check_suite_id", "created", "event", "head_sha",
                                                "status"))
        if filtered:
            rows = rows[:FILTERED_RESULTS_CAP]
            if self.strict:  # GitHub counts no further than it serves: a client cannot tell more runs matched
                total = min(total, FILTERED_RESULTS_CAP)
        items, headers = self._page(req, rows, f"/repositories/{repo.id}/actions/runs")
        repo_json = self._repo(req, repo)
        if self.strict:  # a run's repository is a minimal repository: no default_branch (GET /repos/{o}/{r} has it)
            repo_json = {k: v for k, v in repo_json.items() if k != "default_branch"}
        body = {"total_count": total, "workflow_runs": [self._run(req, repo, r, st, repo_json) for r, st in items]}
        return json_response(200, body, headers=headers)

    def get_user(self, req: Request) -> Response:
        if not (req.auth and req.auth.authenticated):
            return json_response(
                401,
                {
                    "message": "Requires authentication",
                    "documentation_url": f"{DOCS}/users/users#get-the-authenticated-user",
                    "status": "401",
                },
            )
        return json_response(200, self._user(req, self.data.people[0]))

    def rate_limit(self, req: Request) -> Response:
        ident: GitHubIdentity = req.auth
        q = self.limits.peek(ident.bucket, req.now_ms)
        core = {"limit": q.limit, "used": q.used, "remaining": q.remaining, "reset": q.reset_epoch_s}
        other = {
            "limit": 30 if ident.authenticated else 10,
            "used": 0,
            "remaining": 30 if ident.authenticated else 10,
            "reset": q.reset_epoch_s,
        }
        return json_response(
            200,
            {
                "resources": {
                    "core": core,
                    "search": other,
                    "graphql": self._graphql_resource(ident, req.now_ms),
                },
                "rate": core,
            },
        )


    def _graphql_resource(self, ident: GitHubIdentity, now_ms: int) -> dict[str, int]:
        g = self.graphql.quota(now_ms)
        if not ident.authenticated:
            return {"limit": 0, "used": 0, "remaining": 0, "reset": g.reset_epoch_s}
        return {"limit": g.limit, "used": g.used, "remaining": g.remaining, "reset": g.reset_epoch_s}


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def _created_bound(text: str, upper: bool) -> int:
    """One end of a search-syntax date: `YYYY-MM-DD` covers the whole (UTC) day, a timestamp is exact."""
    text = text.strip()
    if len(text) == 10:
        start = parse_iso(text + "T00:00:00Z")
        return start + DAY - 1 if upper else start
    return parse_iso(text)


def _created_bounds(value: str) -> tuple[int, int]:
    """GitHub's search date syntax for `created`: `>=X`, `>X`, `<=X`, `<X`, `X..Y`, `X..*`, `*..Y` or `X`
    (inclusive bounds, in epoch ms)."""
    value = value.strip()
    low, high = -(2**62), 2**62
    if ".." in value:
        a, _, b = value.partition("..")
        if a.strip() != "*":
            low = _created_bound(a, upper=False)
        if b.strip() != "*":
            high = _created_bound(b, upper=True)
    elif value.startswith(">="):
        low = _created_bound(value[2:], upper=False)
    elif value.startswith("<="):
        high = _created_bound(value[2:], upper=True)
    elif value.startswith(">"):
        low = _created_bound(value[1:], upper=True) + 1
    elif value.startswith("<"):
        high = _created_bound(value[1:], upper=False) - 1
    else:
        low, high = _created_bound(value, upper=False), _created_bound(value, upper=True)
    if low > high + 1:
        raise ValueError(f"empty range {value!r}")
    return low, high
