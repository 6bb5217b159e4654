#!/usr/bin/env bash
# Checks, before a deploy job installs anything or assumes its AWS role, that the CI variables
# it needs are set, and that the Release it moves gets an image meant for it. Prints one line
# per problem and exits 1 when there is any.
#
# Usage: scripts/deploy-preflight.sh   (reads the job's environment)
#   Required: DEPLOY_ROLE_ARN, EKS_CLUSTER, AWS_REGION, and the registry deploy token
#   REGISTRY_DEPLOY_USER / REGISTRY_DEPLOY_TOKEN (read_registry) for the cluster's pull secret.
#   APP_RELEASE naming another Release than Greenlight's own API service needs APP_IMAGE: the
#   API's image is the default only for the API service itself.
set -euo pipefail

problems=0
for variable in DEPLOY_ROLE_ARN EKS_CLUSTER AWS_REGION REGISTRY_DEPLOY_USER REGISTRY_DEPLOY_TOKEN; do
  if [[ -z "${!variable:-}" ]]; then
    echo "deploy: the CI variable $variable is not set for this environment" \
      "(Settings > CI/CD > Variables, scoped to ${CI_ENVIRONMENT_NAME:-the environment})" >&2
    problems=$((problems + 1))
  fi
done

api_release="${API_RELEASE:-greenlight-api}"
if [[ -n "${APP_RELEASE:-}" && "$APP_RELEASE" != "$api_release" && -z "${APP_IMAGE:-}" ]]; then
  echo "deploy: APP_RELEASE is $APP_RELEASE but APP_IMAGE is not set; the API service's image" \
    "is the default only for $api_release" >&2
  problems=$((problems + 1))
fi

if ((problems > 0)); then
  exit 1
fi
echo "deploy: the variables are set"
