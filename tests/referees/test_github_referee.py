"""PyGithub 2.10 and githubkit 0.16 (GitHub's OpenAPI-generated pydantic models) page through every GitHub list
we extract; each returns every record the emulator holds, once, and every payload parses into githubkit's model."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest

from emulator.gen_github import PULL_COMMITS_CAP, deployment_statuses, run_state, visible_commits

pytestmark = pytest.mark.referee

github = pytest.importorskip("github")
githubkit = pytest.importorskip("githubkit")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from githubkit.versions.latest import models as gk

REPOS = ("api", "web", "mobile", "infra")


@pytest.fixture(scope="module")
def gh(emu):
    """PyGithub as documented, without retries, 100 per page, and without its default 0.25 s pause between
    requests (a courtesy to github.com that would only slow the suite)."""
    return github.Github(base_url=emu.github_url, auth=github.Auth.Token(emu.credentials.github_token), retry=None,
                         per_page=100, seconds_between_requests=0)


@pytest.fixture(scope="module")
def kit(emu):
    return githubkit.GitHub(emu.credentials.github_token, base_url=emu.github_url + "/", auto_retry=False,
                            http_cache=False)


def once(ids: list) -> set:
    counts = Counter(ids)
    assert not [k for k, n in counts.items() if n > 1], "records returned twice"
    return set(counts)


def repo_of(emu, name: str):
    return emu.app.world.github.repo_by_name[name]


def no_lazy_completion(emu) -> None:
    """PyGithub fetches an object's `url` when an attribute it reads is missing: none of that may happen."""
    stats = emu.stats().get("github", {})
    lazy = {k: v for k, v in stats.items()
            if k.endswith(("/pulls/{pull_number}", "/deployments/{deployment_id}", "/user"))}
    assert not lazy, f"PyGithub completed objects lazily: {lazy}"


@pytest.mark.parametrize("name", REPOS)
def test_pygithub_pulls_commits_deployments_statuses_releases(emu, gh, name):
    data, now, repo = emu.app.world.github, emu.app.clock.now_ms, repo_of(emu, name)
    emu.app.stats.reset()
    r = gh.get_repo(f"acme/{name}")

    pulls = list(r.get_pulls(state="all", sort="updated", direction="desc"))
    expected = {p.number: st for p, st in data.views(now, repo)}
    assert once([p.number for p in pulls]) == set(expected)
    for p in pulls:  # the attributes PyGithub exposes and our models read
        st = expected[p.number]
        assert p.state == st.state and p.id and p.title and p.user.login and p.head.sha and p.base.ref
        assert int(p.updated_at.timestamp() * 1000) == st.updated_ms
        assert (p.merged_at is None) == (st.merged_ms is None) and (p.closed_at is None) == (st.closed_ms is None)
        assert isinstance(p.draft, bool) and all(label.name for label in p.labels)

    # Commits of the pull requests with the most commits (the infra one beyond the 250 cap among them).
    by_number = {p.number: p for p, _ in data.views(now, repo)}
    busiest = sorted(by_number.values(), key=lambda p: -len(data.commits(p)))[:3]
    listed = {p.number: p for p in pulls}
    for pull in busiest:
        commits = list(listed[pull.number].get_commits())
        want = [c.sha for c in visible_commits(data.commits(pull), now)][:PULL_COMMITS_CAP]
        assert [c.sha for c in commits] == want
        assert all(c.commit.author.date and c.commit.message for c in commits)

    deployments = list(r.get_deployments())
    expected_deps = {d.id: d for d in data.deployments_by_repo[repo.index] if d.created_ms <= now}
    assert once([d.id for d in deployments]) == set(expected_deps)
    for d in deployments:
        assert d.environment == expected_deps[d.id].environment and d.sha and d.created_at and d.creator.login
        statuses = list(d.get_statuses())
        assert once([s.id for s in statuses]) == {s[0] for s in deployment_statuses(expected_deps[d.id], now)}
        assert all(s.state and s.created_at for s in statuses)

    releases = list(r.get_releases())
    assert once([x.id for x in releases]) == {
        x.id for x in data.releases_by_repo[repo.index] if x.created_ms <= now}
    assert all(x.tag_name and isinstance(x.draft, bool) for x in releases)
    no_lazy_completion(emu)


@pytest.mark.parametrize("name", ["api", "web", "mobile"])
def test_pygithub_workflow_runs(emu, gh, name):
    data, now, repo = emu.app.world.github, emu.app.clock.now_ms, repo_of(emu, name)
    runs = gh.get_repo(f"acme/{name}").get_workflow_runs()
    expected = {run.id: run_state(run, now) for run in data.runs_by_repo[repo.index] if run_state(run, now)}
    assert runs.totalCount == len(expected)
    listed = list(runs)
    assert once([x.id for x in listed]) == set(expected)
    for x in listed:
        assert x.status == expected[x.id].status and x.conclusion == expected[x.id].conclusion
        assert x.run_attempt == expected[x.id].attempt and x.head_sha and x.created_at and x.event


def test_githubkit_walks_infra_runs_past_1000(emu, gh, kit):
    """infra has several thousand runs: unfiltered, every one can be paged to (the 1,000 cap is for filters).
    githubkit's paginator walks them raw (PyGithub builds ~40 objects per run, too slow for CI at this size);
    the model check of run pages is in test_githubkit_models_parse_every_list."""
    data, now, repo = emu.app.world.github, emu.app.clock.now_ms, repo_of(emu, "infra")
    expected = {run.id for run in data.runs_by_repo[repo.index] if run_state(run, now)}
    assert len(expected) > 1000
    assert gh.get_repo("acme/infra").get_workflow_runs().totalCount == len(expected)
    runs = list(kit.rest.paginate(kit.rest.actions.list_workflow_runs_for_repo, owner="acme", repo="infra",
                                  per_page=100, map_func=lambda r: r.json()["workflow_runs"]))
    assert once([x["id"] for x in runs]) == expected


@pytest.mark.parametrize("name", REPOS)
def test_githubkit_models_parse_every_list(emu, kit, name):
    """`paginate` validates each page with githubkit's models (`parsed_data`); a missing key fails it."""
    data, now, repo = emu.app.world.github, emu.app.clock.now_ms, repo_of(emu, name)
    rest = kit.rest
    full = rest.repos.get("acme", name).parsed_data
    assert isinstance(full, gk.FullRepository)
    pulls = [p for page in (1, 2) for p in rest.pulls.list("acme", name, state="all", per_page=100,
                                                             page=page).parsed_data]
    assert pulls and all(isinstance(p, gk.PullRequestSimple) for p in pulls)
    assert isinstance(rest.pulls.get("acme", name, pulls[0].number).parsed_data, gk.PullRequest)
    commits = rest.pulls.list_commits("acme", name, pulls[0].number, per_page=100).parsed_data
    assert all(isinstance(c, gk.Commit) for c in commits)
    deployments = list(rest.paginate(rest.repos.list_deployments, owner="acme", repo=name, per_page=100))
    assert all(isinstance(d, gk.Deployment) for d in deployments)
    for d in deployments[:8]:
        statuses = list(rest.paginate(rest.repos.list_deployment_statuses, owner="acme", repo=name,
                                      deployment_id=d.id, per_page=100))
        assert all(isinstance(s, gk.DeploymentStatus) for s in statuses)
    releases = list(rest.paginate(rest.repos.list_releases, owner="acme", repo=name, per_page=100))
    assert all(isinstance(x, gk.Release) for x in releases)
    for page in (1, 2, 5):  # every run of every repository is walked by PyGithub above; here: the model
        body = rest.actions.list_workflow_runs_for_repo("acme", name, per_page=100, page=page).parsed_data
        assert all(isinstance(x, gk.WorkflowRun) for x in body.workflow_runs)
        assert body.total_count == sum(1 for run in data.runs_by_repo[repo.index] if run_state(run, now))
    org_repos = rest.repos.list_for_org("acme", per_page=100).parsed_data
    assert {r.name for r in org_repos} == set(REPOS)


# --- security alerts (served once emulator/github_security.py is present) ------------------------------------

ALERTS = {  # tool: (PyGithub method, githubkit list call name, githubkit model, path)
    "dependabot": ("get_dependabot_alerts", ("dependabot", "list_alerts_for_repo"), "DependabotAlert"),
    "code_scanning": ("get_codescan_alerts", ("code_scanning", "list_alerts_for_repo"), "CodeScanningAlertItems"),
    "secret_scanning": ("get_secret_scanning_alerts", ("secret_scanning", "list_alerts_for_repo"),
                        "SecretScanningAlert"),
}


@pytest.fixture(scope="module")
def security(emu):
    gen = pytest.importorskip("emulator.gen_security", reason="the emulator serves no security alerts yet")
    world = emu.app.world
    return gen, gen.build_security(world.seed, world.window, world.github.repos)


@pytest.mark.parametrize("tool", sorted(ALERTS))
@pytest.mark.parametrize("name", REPOS)
def test_security_alerts(emu, gh, kit, security, tool, name):
    gen, data = security
    now, repo = emu.app.clock.now_ms, repo_of(emu, name)
    if not gen.enabled(name, tool):
        pytest.skip(f"{tool} is not enabled on acme/{name} (the emulator answers 404, as GitHub does)")
    expected = {a.number: gen.alert_state(a, now) for a in data.alerts.get((repo.index, tool), ())
                if gen.alert_state(a, now) is not None}
    method, (group, call), model = ALERTS[tool]
    listed = list(getattr(gh.get_repo(f"acme/{name}"), method)())
    assert once([a.number for a in listed]) == set(expected)
    assert all(a.state and a.created_at and a.html_url for a in listed)
    endpoint = getattr(getattr(kit.rest, group), call)
    parsed = list(kit.rest.paginate(endpoint, owner="acme", repo=name, per_page=100))
    assert once([a.number for a in parsed]) == set(expected)
    assert all(isinstance(a, getattr(gk, model)) for a in parsed)


def test_a_withdrawn_dependabot_alert_as_the_sdks_see_it():
    """githubkit parses the single alert, with the advisory's withdrawn_at once set, into its DependabotAlert model;
    once GitHub withdrew the alert, the SDK fails with 410 Gone (not 404). Its own emulator: the clock moves."""
    from emulator.server import start_emulator
    from tests.referees.conftest import NOW

    with start_emulator(seed=42, now=NOW) as own:
        gen, api = pytest.importorskip("emulator.gen_security"), own.app.apis["github"]
        routes = next(r.handler.__self__ for r in api.router._routes if r.template.endswith("/dependabot/alerts"))
        (index, number), = [(i, a.number) for (i, tool), alerts in routes.data.alerts.items() if tool == "dependabot"
                            for a in alerts if a.scenario == "withdrawn"]
        name = api.data.repos[index].name
        client = githubkit.GitHub(own.credentials.github_token, base_url=own.github_url + "/", auto_retry=False,
                                  http_cache=False)
        own.advance(hours=13)  # the advisory is withdrawn, the alert not yet
        alert = client.rest.dependabot.get_alert("acme", name, number).parsed_data
        assert isinstance(alert, gk.DependabotAlert) and alert.security_advisory.withdrawn_at is not None
        own.advance(hours=6)
        with pytest.raises(githubkit.exception.RequestFailed) as failed:
            client.rest.dependabot.get_alert("acme", name, number)
        assert failed.value.response.status_code == 410
        assert gen.is_withdrawn(next(a for a in routes.data.alerts[(index, "dependabot")] if a.number == number),
                                own.app.clock.now_ms)
