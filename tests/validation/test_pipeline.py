""".gitlab-ci.yml is valid for GitLab and has the stages, reports and gates the project needs."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
import yaml

from tests.validation import tools

PIPELINE = tools.ROOT / ".gitlab-ci.yml"
BROKEN = pathlib.Path(__file__).parent / "broken"


def _pipeline() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    return loaded


def _jobs() -> dict[str, dict[str, Any]]:
    keywords = {"workflow", "stages", "variables", "default", "include", "image", "services"}
    return {
        name: job
        for name, job in _pipeline().items()
        if name not in keywords and not name.startswith(".") and isinstance(job, dict)
    }


def _script(job: dict[str, Any]) -> str:
    parts = []
    for key in ("before_script", "script"):
        parts += job.get(key, [])
    template = job.get("extends")
    if template:
        parent = _pipeline()[template]
        return _script(parent) + "\n" + "\n".join(parts)
    return "\n".join(parts)


def test_valid_against_gitlab_schema() -> None:
    result = tools.run("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", PIPELINE)
    assert result.returncode == 0, result.output


def test_the_schema_check_refuses_a_broken_pipeline() -> None:
    result = tools.run(
        "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", BROKEN / "gitlab-ci.yml"
    )
    assert result.returncode != 0, result.output
    assert "'build' is not of type 'array'" in result.output


def _all_scripts(job: dict[str, Any]) -> str:
    script = _script(job)
    return script + "\n" + "\n".join(job.get("after_script", []))


@pytest.mark.parametrize("name", sorted(_jobs()))
def test_job_scripts_are_shellcheck_clean(name: str) -> None:
    """Each job's commands, joined as the runner joins them, as one bash script. Variables
    set by GitLab or the job's `variables` are unknown to shellcheck (SC2154 is off)."""
    script = "#!/usr/bin/env bash\n" + _all_scripts(_jobs()[name])
    result = tools.run("shellcheck", "--shell=bash", "--exclude=SC2154", "-", stdin=script)
    assert result.returncode == 0, result.output


def test_the_script_check_catches_a_mistake() -> None:
    script = '#!/usr/bin/env bash\nexport TOKEN_FILE="$(mktemp)"\nrm -rf $CI_PROJECT_DIR/out\n'
    result = tools.run("shellcheck", "--shell=bash", "--exclude=SC2154", "-", stdin=script)
    assert result.returncode != 0
    assert "SC2155" in result.output and "SC2086" in result.output


def test_stages_in_order() -> None:
    assert _pipeline()["stages"] == [
        "lint", "test", "build", "scan", "e2e", "deploy-staging", "deploy-production",
    ]  # fmt: skip
    stages = {job.get("stage") for job in _jobs().values()}
    assert stages == set(_pipeline()["stages"])


def test_lint_runs_every_check() -> None:
    lint = "\n".join(_script(job) for job in _jobs().values() if job.get("stage") == "lint")
    assert "make lint" in lint
    assert "make validate" in lint
    assert "skaffold" in lint


def test_tests_report_junit_and_coverage() -> None:
    job = _jobs()["test"]
    assert "--junitxml=junit.xml" in _script(job)
    assert "--cov-report=xml:coverage.xml" in _script(job)
    reports = job["artifacts"]["reports"]
    assert reports["junit"] == "junit.xml"
    assert reports["coverage_report"] == {"coverage_format": "cobertura", "path": "coverage.xml"}
    assert job["artifacts"]["when"] == "always"


def test_build_pushes_both_targets_tagged_with_the_commit() -> None:
    job = _jobs()["build"]
    assert job["parallel"]["matrix"] == [{"TARGET": ["operator", "api"]}]
    script = _script(job)
    assert '--target "$TARGET"' in script
    assert 'docker push "$CI_REGISTRY_IMAGE/$TARGET:$CI_COMMIT_SHA"' in script
    assert any("dind" in service["name"] for service in job["services"])


def test_e2e_runs_kind_in_dind_with_the_built_images() -> None:
    job = _jobs()["e2e"]
    script = _script(job)
    assert any("dind" in service["name"] for service in job["services"])
    for step in ("kind create cluster", "skaffold deploy --profile e2e", "--load-images=true",
                 "make e2e"):  # fmt: skip
        assert step in script
    assert job["variables"]["GREENLIGHT_E2E_OPERATOR_IMAGE"] == "$OPERATOR_IMAGE"
    assert job["artifacts"]["reports"]["junit"] == "e2e-junit.xml"


def test_deploys_have_environments_and_production_is_manual() -> None:
    jobs = _jobs()
    staging, production = jobs["deploy-staging"], jobs["deploy-production"]
    assert staging["environment"]["name"] == "staging"
    assert production["environment"]["name"] == "production"
    assert [rule.get("when") for rule in production["rules"]] == ["manual"]
    assert all(rule.get("when") != "manual" for rule in staging["rules"])
    script = _script(staging)
    assert "helm-deploy.sh" in script
    assert "patch releases.greenlight.dev" in script
    assert 'greenlight.cli wait "$APP_RELEASE"' in script and "--for succeeded" in script
    assert staging["resource_group"] == "staging" and production["resource_group"] == "production"


def test_no_secret_in_the_file() -> None:
    text = PIPELINE.read_text()
    patterns = {
        "AWS access key": r"AKIA[0-9A-Z]{16}",
        "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        "inline password": r"(?i)password\s*[:=]\s*[\"']?(?!\$)[^\s\"'$]{6,}",
        "token literal": r"(?i)(glpat|ghp|xox[bp])-[0-9A-Za-z_-]{10,}",
        "AWS account id in an ARN": r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{12}:",
    }
    found = {name for name, pattern in patterns.items() if re.search(pattern, text)}
    assert found == set()
    assert "$CI_REGISTRY_PASSWORD" in text


def _deploys() -> list[dict[str, Any]]:
    jobs = _jobs()
    return [jobs["deploy-staging"], jobs["deploy-production"]]


def _merged(job: dict[str, Any]) -> dict[str, Any]:
    """The job with what it extends (one level, as this file uses it)."""
    template = job.get("extends")
    return {**_pipeline()[template], **job} if template else job


def test_deploy_jobs_are_never_interruptible() -> None:
    """A cancelled `helm upgrade --wait` leaves the Helm release pending: the default's
    `interruptible: true` must not reach the deploy jobs."""
    assert _pipeline()["default"]["interruptible"] is True
    for job in _deploys():
        assert _merged(job)["interruptible"] is False
        assert job["resource_group"] in {"staging", "production"}


def test_deploys_create_a_pull_secret_and_give_it_to_the_chart() -> None:
    script = _script(_jobs()["deploy-staging"])
    assert 'for ns in "$HELM_NAMESPACE" "$APP_NAMESPACE"' in script
    assert 'create secret docker-registry "$PULL_SECRET"' in script
    assert '--docker-password="$REGISTRY_DEPLOY_TOKEN"' in script
    assert '--set "image.pullSecrets[0].name=$PULL_SECRET"' in script
    assert _pipeline()["variables"]["PULL_SECRET"] == "greenlight-registry"


def test_the_browser_test_cannot_be_skipped_in_the_pipeline() -> None:
    job = _jobs()["test"]
    assert "apt-get install -y -qq --no-install-recommends chromium" in _script(job)
    assert job["variables"]["GREENLIGHT_REQUIRE_BROWSER"] == "1"
    browser_test = (tools.ROOT / "tests" / "service" / "test_dashboard_browser.py").read_text()
    assert 'os.environ.get("GREENLIGHT_REQUIRE_BROWSER") == "1"' in browser_test


def test_security_scans() -> None:
    """bandit's rules in ruff (each ignore explained), the locked dependencies audited, and
    both pushed images scanned."""
    pyproject = (tools.ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\s+"S",\s+#', pyproject, re.MULTILINE)
    ignores = pyproject[pyproject.index("[tool.ruff.lint.per-file-ignores]") :]
    ignores = ignores.split("\n\n[", 1)[0]
    for line in ignores.splitlines()[1:]:
        if '"S' in line and not line.lstrip().startswith('"tests/**"'):
            above = ignores[: ignores.index(line)].rstrip().splitlines()[-1]
            assert "#" in line or above.lstrip().startswith("#"), f"no reason for: {line}"
    audit = _script(_jobs()["audit:dependencies"])
    assert "pip-audit --require-hashes --disable-pip --strict -r requirements.lock" in audit
    assert "-r requirements-deploy.lock" in audit
    scan = _jobs()["scan"]
    assert scan["parallel"]["matrix"] == [{"TARGET": ["operator", "api"]}]
    assert "--exit-code 1" in _script(scan)
    assert '"$CI_REGISTRY_IMAGE/$TARGET:$CI_COMMIT_SHA"' in _script(scan)
    assert scan["needs"] == ["build"]


def test_deploys_run_only_pinned_code_with_the_aws_role() -> None:
    """The AWS identity token is in the environment for the whole job: every install there is
    hash-pinned, nothing comes from earlier jobs, and the variables are checked first."""
    for job in _deploys():
        merged = _merged(job)
        script = _script(job)
        assert merged["dependencies"] == []
        assert "make venv" not in script and "make tools" not in script
        installs = [line for line in script.splitlines() if "pip install" in line]
        assert installs, "the deploy installs its tools"
        for line in installs:
            assert "--require-hashes" in line and "-r requirements-deploy.lock" in line, line
        assert "scripts/fetch-tools.sh" in script
        assert merged["before_script"][0] == "scripts/deploy-preflight.sh"
        assert "APP_IMAGE" not in merged.get("variables", {})
    production = _jobs()["deploy-production"]
    (rule,) = production["rules"]
    assert rule["when"] == "manual" and rule["allow_failure"] is True
    locked = (tools.ROOT / "requirements-deploy.lock").read_text()
    assert "awscli==" in locked and "--hash=sha256:" in locked


KUBECTL_ON_RELEASES = re.compile(
    r"kubectl\b[^\n|;&]*?\s(?:get|patch|describe|edit|delete|wait)\s+(?:-\S+\s+\S+\s+)*"
    r"(?:releases?|rel)(?![.\w])"
)


@pytest.mark.parametrize(
    "path",
    [".gitlab-ci.yml", "docs/install.md", "README.md", "charts/greenlight/templates/NOTES.txt"],
)
def test_kubectl_names_releases_fully_qualified(path: str) -> None:
    """`kubectl get releases` can hit another API group's "releases": always the full name."""
    text = (tools.ROOT / path).read_text()
    assert KUBECTL_ON_RELEASES.findall(text) == []


def test_the_release_name_check_catches_a_short_name() -> None:
    for line in ("kubectl get releases -A", "kubectl -n x patch release web --type json"):
        assert KUBECTL_ON_RELEASES.search(line), line
    assert not KUBECTL_ON_RELEASES.search("kubectl get releases.greenlight.dev -A")
