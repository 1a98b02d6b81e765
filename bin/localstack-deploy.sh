#!/usr/bin/env bash
# Deploys the pipeline stack to a LocalStack already running on this machine, as a development stack
# (tables and logs are deleted with it). A manual step: it needs Docker and LocalStack, and is not run in CI.
#
#   bin/localstack-deploy.sh [extra cdk deploy arguments, e.g. -c spec=path/to/spec.json]
#
# Install the CDK wrapper once with: npm i -g aws-cdk-local aws-cdk
set -euo pipefail

if [[ -n "${CI:-}" ]]; then
  echo "localstack-deploy: not meant for CI (CI is set); deploy to LocalStack from a workstation" >&2
  exit 2
fi

cd "$(dirname "$0")/.."

export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
# LocalStack accepts any credentials; fixed test ones keep a real profile from being used by mistake.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
unset AWS_PROFILE AWS_SESSION_TOKEN
ACCOUNT="${LOCALSTACK_ACCOUNT_ID:-000000000000}"

if ! curl -fsS --max-time 5 "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null; then
  echo "localstack-deploy: LocalStack does not answer at $AWS_ENDPOINT_URL (start it with 'lstk start' or 'localstack start -d')" >&2
  exit 1
fi

if command -v cdklocal >/dev/null 2>&1; then
  CDKLOCAL=(cdklocal)
else
  echo "localstack-deploy: cdklocal is not installed (npm i -g aws-cdk-local aws-cdk); running it through npx" >&2
  CDKLOCAL=(npx --yes -p aws-cdk-local -p aws-cdk cdklocal)
fi

"${CDKLOCAL[@]}" bootstrap "aws://$ACCOUNT/$AWS_REGION"
"${CDKLOCAL[@]}" deploy --require-approval never -c devStack=true "$@"
